"""A second course, for the kit's own tests: sigmoid and log added, exp dropped, points changed.

    python tests/second_course.py DIR   make it in DIR and release it (mgkit --course DIR release)
    make_course(DIR)                     the same for a test: tests/test_courses.py grades by it
                                         in the same process as the kit's own course

Each op added is one method with its region in the reference and one [[task]] entry; exp is
dropped by deleting its region and its entry (its closure is then given in the starter).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

# the kit's own course, whatever the course in use
KIT_ROOT = Path(__file__).resolve().parent.parent

SIGMOID_AND_LOG = '''\
    def sigmoid(self) -> Value:
        s = 1 / (1 + math.exp(-self.data))
        out = Value(s, (self,), "sigmoid")

        def _backward():
            ### BEGIN SOLUTION sigmoid_backward grad_accumulation
            self.grad += s * (1 - s) * out.grad
            ### END SOLUTION
        out._backward = _backward

        return out

    def log(self) -> Value:
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            ### BEGIN SOLUTION log_backward grad_accumulation
            self.grad += out.grad / self.data
            ### END SOLUTION
        out._backward = _backward

        return out

'''
NEW_TASKS = '''
[[task]]
id = "sigmoid_backward"
points = 9
title = "the _backward closure of sigmoid"
hint = "add the derivative of sigmoid, written with s = sigmoid(x), times out.grad, to self.grad"
expr = "a.sigmoid()"
domain = [-4, 4]

[[task]]
id = "log_backward"
points = 7
title = "the _backward closure of log"
hint = "add the derivative of log(x), 1 / x, times out.grad, to self.grad"
expr = "a.log()"
domain = [0.2, 4]
'''
EXP_REGION = ("            ### BEGIN SOLUTION exp_backward grad_accumulation\n"
              "            self.grad += out.data * out.grad\n            ### END SOLUTION\n")
WRONG_SIGMOID = ("self.grad += s * (1 - s) * out.grad", "self.grad += s * out.grad")


def make_course(folder: Path) -> Path:
    """The kit's course, with sigmoid and log added, exp dropped, add_backward and training_loop
    re-weighed."""
    for name in ("solutions/micrograd", "assignments"):
        shutil.copytree(KIT_ROOT / name, folder / name,
                        ignore=shutil.ignore_patterns("__pycache__", "micrograd_lab"))
    shutil.copyfile(KIT_ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    engine = folder / "solutions/micrograd/engine.py"
    text = engine.read_text()
    assert EXP_REGION in text
    # given, not graded
    text = text.replace(EXP_REGION, "            self.grad += out.data * out.grad\n")
    backward = "    def backward(self) -> None:"
    engine.write_text(text.replace(backward, SIGMOID_AND_LOG + backward))
    course = (KIT_ROOT / "course.toml").read_text()
    exp_entry = re.search(r'\[\[task\]\]\nid = "exp_backward".*?\n\n', course, re.S).group(0)
    course = course.replace(exp_entry, "").replace('id = "add_backward"\npoints = 8',
                                                   'id = "add_backward"\npoints = 5')
    course = course.replace('id = "training_loop"\npoints = 16',
                            'id = "training_loop"\npoints = 20')
    (folder / "course.toml").write_text(course + NEW_TASKS)
    return folder




if __name__ == "__main__":
    if len(sys.argv) != 2 or Path(sys.argv[1]).exists():
        sys.exit("usage: python tests/second_course.py DIR (a folder that does not exist yet)")
    course = make_course(Path(sys.argv[1]).resolve())
    sys.exit(
        subprocess.call([
            sys.executable, "-m", "autograder.cli", "--course",
            str(course), "release"
        ]))
