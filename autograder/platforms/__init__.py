"""Where courses grade: Gradescope's autograder zip, GitHub Actions workflows, nbgrader's autograde.

Each platform calls the same `autograder.grade` (autograder/grading/loop.py), so every path gives
the per-task points of `mgkit grade` for the same submission and seed.
"""
