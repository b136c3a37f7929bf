"""`mgkit release`: the student kit, built from the reference (build.py), its notebook
(notebooks.py), the check that the course grades as it says (course_check.py), and the public
tests that ship with it (public_tests/)."""

from .iri_grammar import defer

defer()  # before anything here imports nbformat: a second saved on each release
