"""The ground floor: what every job reads of a course, and how each writes its files.

solution.py (where the course's files are, the reference loaded under a private name),
rubric.py (the course's tasks and points), markers.py (the graded regions), stubs.py (a region
replaced by a `raise` naming its task), outputs.py (files written whole, never over someone
else's), training.py (`mgkit train`: the reference, trained). Imports nothing above it.
"""
