"""The checks of the micrograd tasks, each defined once (ops.py, backward.py, training.py).

The student's `pytest` runs them on a public seed (preview.py, plugin.py, notebook.py); the
kit's grader runs the same definitions on a secret seed, in a sandbox (autograder/sandboxed/).
"""
