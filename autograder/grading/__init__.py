"""`mgkit grade`: one submission. Its files read and copied privately (submission.py), each task
run in the sandbox and judged here (loop.py), the grade as data and the views of it (results.py),
and the tour that grades three (demo.py)."""
