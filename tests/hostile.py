"""The red team: hostile and broken submissions as data, each with the grade it must get.

A case is the reference (or the starter) with code put into one place: the top of a module
(it runs at import), one `_backward` closure, `backward()`, `zero_grad` or the training loop;
or stray files beside the modules; or a notebook. `fails` names the tasks that must score 0;
every other task must get full marks. test_redteam.py grades each case and checks the rest:
every task present, bounded time, no process or file left behind, nothing secret in feedback.

Hostile code gets the paths it would like to reach, as placeholders filled in by the test:
@KIT@ (the kit's clone), @NEIGHBOUR@ (another student's submission), @OUT@ (where the grade's
results.json goes), @HOME@ and @TMP@ (the grader's), and @MARK@, a number unique to the run
that every process it starts carries in its command line and every file it writes in its name.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field

from autograder.grading.submission import starter
from autograder.reference.markers import BEGIN, END
from autograder.reference.rubric import OP_TASKS, TASK_IDS
from autograder.reference.solution import KIT_ROOT, MODULES, REFERENCE_PACKAGE_DIR
from autograder.release.notebooks import build_notebook

# the tasks that import the student's engine.py
ENGINE_TASKS = frozenset(TASK_IDS) - {"zero_grad", "training_loop"}
OP_IDS = tuple(task.id for task in OP_TASKS)  # the course's op closures
# any closure will do: the course's last
SPARE_OP = "exp_backward" if "exp_backward" in OP_IDS else OP_IDS[-1]
EVERY_TASK = frozenset(TASK_IDS)
NO_TASK = frozenset()


def closure(task: str) -> frozenset[str]:
    """What a closure that does not run to its end (raises, hangs, crashes, exits, eats memory),
    gives no numbers or adds nothing costs: its op, and grad_accumulation, which could not see it
    accumulate."""
    return frozenset({task, "grad_accumulation"}) & EVERY_TASK

# The places hostile code tries to write to: a file named pwned-@MARK@ in each must never appear.
TARGETS = ("@KIT@", "@KIT@/autograder", "@NEIGHBOUR@", "@NEIGHBOUR@/micrograd", "@OUT@", "@HOME@",
           "@TMP@", "/")


@dataclass(frozen=True)
class Case:
    name: str
    family: str
    # path in the submission -> text ("" + .ipynb name: a notebook submission)
    files: dict[str, str]
    fails: frozenset[str]  # the tasks that must score 0; all others full marks
    deadlines: int = 0  # how many task deadlines the case may cost (hangs)
    late: bool = False  # it tries to act after grading: look again after a wait
    # "filesystem" or "signals": what must be in force for the case to hold (see holds())
    needs: str = ""
    flags: tuple[str, ...] = ()  # what the instructor's flags must mention
    folder: str = "mallory"  # the submission's folder (or notebook) name
    notes: tuple[str, ...] = field(default=())  # words the results' notes must contain


# ---- building submissions -----------------------------------------------------------------

def reference(module: str) -> str:
    return (REFERENCE_PACKAGE_DIR / f"{module}.py").read_text()


def put(text: str, task: str, code: str, keep: bool = True) -> str:
    """`code` at the top of the first solution region of `task` (its body kept, or replaced)."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines)
                 if line.strip().startswith(BEGIN) and task in line.split())
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == END)
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    body = textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", indent)
    return "".join(lines[:start + 1] + [body] + (lines[start + 1:end] if keep else []) +
                   lines[end:])


def at_import(text: str, code: str) -> str:
    """`code` at the end of a module: it runs when the module is imported."""
    return text + "\n\n" + textwrap.dedent(code).strip("\n") + "\n"


def submission(engine: str | None = None, nn: str | None = None, train: str | None = None,
               **extra: str) -> dict[str, str]:
    """The reference's three modules (or the texts given), plus extra files by path."""
    given = {"engine": engine, "nn": nn, "train": train}
    files = {
        f"micrograd/{module}.py": given[module] if given[module] is not None else reference(module)
        for module in MODULES
    }
    return files | {path.replace("__", "/"): text for path, text in extra.items()}


def engine(at_top: str = "", **regions: str) -> str:
    """The reference engine with code at import and at the top of the named tasks' regions."""
    text = reference("engine")
    for task, code in regions.items():
        text = put(text, task, code)
    return at_import(text, at_top) if at_top else text


def notebook(change=None, name: str = "mallory.ipynb") -> dict[str, str]:
    """The kit's own notebook of the reference, after `change(cells)`."""
    book = build_notebook(KIT_ROOT / "assignments" / "micrograd_lab.md", REFERENCE_PACKAGE_DIR)
    if change:
        change(book.cells)
    return {name: json.dumps(book)}


def cell(cells, grade_id: str):
    return next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


# ---- the hostile code, by what it does ----------------------------------------------------

LOOP = "while True:\n    pass"
IGNORE_SIGNALS_AND_SLEEP = """
import signal, time
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
    signal.signal(number, signal.SIG_IGN)
while True:
    time.sleep(1)
"""
SWALLOW_EVERYTHING = """
import time
while True:
    try:
        time.sleep(1)
    except BaseException:
        pass
"""
FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        break
raise RuntimeError("no fork allowed")
"""
SEGFAULT = """
import sys
sys.setrecursionlimit(10**8)
def dive(n):
    return dive.__call__(n + 1)  # through C, so that each call takes C stack
dive(0)
"""
FLOOD_STDOUT = """
import sys
while True:
    sys.stdout.write("x" * 65536)
"""
FLOOD_STDERR_RAW = """
import os
while True:
    os.write(2, b"y" * 65536)
"""
# Try every place: a file in each target, ignoring refusals (they are the point).
WRITE_EVERYWHERE = f"""
import os
for folder in {list(TARGETS)!r} + [os.getcwd(), os.path.join(os.getcwd(), "micrograd")]:
    try:
        with open(os.path.join(folder, "pwned-@MARK@"), "w") as file:
            file.write("x")
    except OSError:
        pass
VICTIMS = ("@NEIGHBOUR@/micrograd/engine.py", "@KIT@/autograder/sandboxed/trusted.py",
           "@KIT@/README.md")
for victim in VICTIMS:
    try:
        with open(victim, "a") as file:
            file.write("# pwned-@MARK@")
    except OSError:
        pass
"""
FORGE_RESULTS = """
import json, os, sys
forged = json.dumps({"score": 100, "tests": [{"name": "all", "score": 100, "max_score": 100}],
                     "forged": "@MARK@"})
for folder in ("@OUT@", "@HOME@", "@TMP@", "@KIT@", os.getcwd(), "/autograder/results"):
    try:
        with open(os.path.join(folder, "results.json"), "w") as file:
            file.write(forged)
    except OSError:
        pass
print("==================== 10 passed in 0.01s ====================")
print(forged)
sys.stdout.flush()
"""
# Double fork into a new session; the grandchild waits for grading to end, then rewrites.
LATE_SURVIVOR = """
import os
try:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sh", ["sh", "-c", "sleep 1.@MARK@; echo forged > @OUT@/results.json;"
                                             " echo x > @KIT@/pwned-@MARK@", "@MARK@"])
        os._exit(0)
except OSError:
    pass
"""
SPAWN_SLEEPER = """
import subprocess
try:
    subprocess.Popen(["/bin/sleep", "3@MARK@"], start_new_session=True)
except OSError:
    pass
"""
TAMPER_WITH_JUDGES = """
import builtins, math
import numpy
math.isclose = lambda *args, **kwargs: True
numpy.allclose = numpy.isclose = lambda *args, **kwargs: True
builtins.abs = lambda x: 0
try:
    import pytest, _pytest.reports
    pytest.approx = lambda *args, **kwargs: type("Any", (), {"__eq__": lambda self, other: True})()
    _pytest.reports.TestReport.passed = property(lambda self: True)
    _pytest.reports.TestReport.outcome = "passed"
except ImportError:
    pass
"""
LIAR = """
class Liar(float):
    '''A gradient equal to anything, less than and greater than anything.'''
    __eq__ = __le__ = __ge__ = __lt__ = __gt__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __hash__ = float.__hash__
"""
NUMPY_IMPOSTOR = """
class Scalar(float):
    '''Claims to be a numpy scalar; its item() answers 1.0 whatever it holds.'''
    __module__ = "numpy"
    def item(self):
        return 1.0
"""
READ_FRAMES = """
import sys
frame, found = sys._getframe(), {}
while frame:
    found.update({k: v for k, v in frame.f_locals.items() if k in ("want", "expected", "answer")})
    frame = frame.f_back
self.grad += found.get("want", [0.0])[0] if isinstance(found.get("want"), list) else 0.0
other.grad += 0.0
return
"""
SEARCH_GC = """
import gc
for thing in gc.get_objects():
    if isinstance(thing, dict) and "expected" in thing:
        self.grad += thing["expected"][0]
        other.grad += thing["expected"][1]
return
"""
USE_THE_REFERENCE = """
import importlib, importlib.util, os, sys
def _find():
    for name in ("mgkit_reference_micrograd.engine", "solutions.micrograd.engine",
                 "autograder.reference"):
        try:
            module = importlib.import_module(name)
            return module.load().engine.Value if hasattr(module, "load") else module.Value
        except Exception:
            pass
    sys.path.insert(0, "@KIT@")
    try:
        return importlib.import_module("solutions.micrograd.engine").Value
    except Exception:
        pass
    for root, _, names in os.walk("/", onerror=None):
        if root.startswith(("/proc", "/sys", "/dev")) or "engine.py" not in names:
            continue
        path = os.path.join(root, "engine.py")
        try:
            if "BEGIN SOLUTION" in open(path).read():
                spec = importlib.util.spec_from_file_location("found_engine", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module.Value
        except Exception:
            pass
    return None
_found = _find()
if _found is not None:
    Value = _found
"""
DETECT_GRADING = """
import os, sys
GRADED = ("autograder" in sys.modules or os.environ.get("HOME") == "/nonexistent"
          or os.getcwd() == "/tmp/submission")
"""
SABOTAGE_WHEN_GRADED = """
if GRADED:
    import os
    os.write(1, b"10 passed")
    os.write(3, b'{"observation": {"cases": []}}')
    os._exit(0)
"""
RESEED = """
import random
import numpy
random.seed(0)
numpy.random.seed(0)
numpy.random.default_rng = lambda *args, **kwargs: numpy.random.Generator(numpy.random.PCG64(0))
"""
CHECKS_DIR = KIT_ROOT / "autograder" / "sandboxed"
HIDDEN_SOURCES = (CHECKS_DIR / "trusted.py", CHECKS_DIR / "traversal.py",
                  REFERENCE_PACKAGE_DIR / "engine.py")
READ_AND_RAISE_SECRETS = f"""
texts = []
for path in {[str(path) for path in HIDDEN_SOURCES]!r}:
    try:
        texts.append(open(path).read())
    except OSError as error:
        texts.append(str(error))
raise RuntimeError(" ".join(texts))
"""


def _leak_lines() -> list[str]:
    """Lines of the hidden checks and of the reference's solutions, as a student might have copied
    them."""
    hidden = [
        line.strip() for line in HIDDEN_SOURCES[0].read_text().splitlines()
        if len(line.strip()) > 30
    ]
    solution = [
        line.strip()
        for line in reference("engine").split(BEGIN, 1)[1].split(END, 1)[0].splitlines()[1:]
    ]
    return hidden[10:14] + [line for line in solution if line]


RAISE_COPIED_SECRETS = f"""
lines = {_leak_lines()!r}
raise ValueError("\\n   ".join(line.replace(" ", "  ") for line in lines))
"""
NOISY_DEL = """
class Noisy:
    def __del__(self):
        raise RuntimeError("a __del__ that raises")
Noisy()
"""
BAD_EXCEPTION = """
class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")
    def __repr__(self):
        raise RuntimeError("no repr either")
    def __del__(self):
        raise RuntimeError("and no quiet death")
raise Unprintable()
"""
STRAYS_THAT_RUN = (
    "import os\nopen(os.path.join('@TMP@', 'pwned-@MARK@'), 'w').write('x')\nraise SystemExit('I"
    " ran')\n"
)


def _strays(text: str) -> dict[str, str]:
    names = ("conftest.py", "pytest.ini", "setup.cfg", "tox.ini", "sitecustomize.py",
             "usercustomize.py", "evil.pth", "numpy.py", "pytest.py", "random.py", "json.py",
             "os.py", "test_engine.py", "micrograd/conftest.py", "micrograd/numpy.py",
             "micrograd/random.py", "micrograd/json.py", "micrograd/test_engine.py",
             "micrograd/sitecustomize.py", "micrograd/evil.pth", "micrograd/__init__.py",
             "micrograd/__pycache__/engine.cpython-311.pyc",
             "micrograd/__pycache__/nn.cpython-311.pyc")
    files = {name: text for name in names}
    files["pytest.ini"] = files["setup.cfg"] = files[
        "tox.ini"] = "[pytest]\naddopts = -p no:cacheprovider --co\n"
    files["evil.pth"] = files["micrograd/evil.pth"] = "import os; " + text.replace("\n", "; ")
    return files


def _drop_tests_and_tamper(cells) -> None:
    """Delete every graded test cell, unlock and rewrite the locked head, give a test 1000
    points."""
    test = cell(cells, "mul_backward")
    test.metadata["nbgrader"]["points"] = 1000
    test.source = "assert True  # all good"
    cells[:] = [c for c in cells if c is test or not c.metadata.get("nbgrader", {}).get("grade")]
    cell(cells, "engine_head").metadata["nbgrader"]["locked"] = False
    cell(cells, "engine_head").source += "\n# edited the locked cell\n"


def _starter_engine_cells(cells) -> None:
    """The engine's solution cell back to the starter's (the student wrote nothing), every test cell
    'passing'."""
    for c in cells:
        if c.metadata.get("nbgrader", {}).get("grade"):
            c.source = "pass"
    text = starter("engine")
    cell(cells,
         "engine_Value").source = text[text.index("class Value:"):text.index("def _leaf_backward")]


def _hang_in_module_cell(cells) -> None:
    cell(cells, "engine__leaf_backward").source += "\n\nwhile True:\n    pass\n"


def _hang_in_exploring_cell(cells) -> None:
    next(c for c in cells if c.cell_type == "code" and not c.metadata).source = LOOP


CASES = (
    # ---- liveness: every hang and grab ends at its task's deadline or limit ----
    Case(
        "infinite loop at import", "liveness", submission(engine(LOOP)), ENGINE_TASKS, deadlines=1
    ),
    Case(
        "infinite loop in one closure",
        "liveness",
        submission(engine(mul_backward=LOOP)),
        closure("mul_backward"),
        deadlines=1,
    ),
    Case(
        "infinite loop in backward()",
        "liveness",
        submission(engine(topo_sort=LOOP)),
        frozenset({"topo_sort"}),
        deadlines=1,
    ),
    Case(
        "ignores SIGTERM, SIGINT and sleeps in backward()",
        "liveness",
        submission(engine(topo_sort=IGNORE_SIGNALS_AND_SLEEP)),
        frozenset({"topo_sort"}),
        deadlines=1,
        flags=("handles signals",),
    ),
    Case(
        "a loop that swallows every exception in zero_grad",
        "liveness",
        submission(nn=put(reference("nn"), "zero_grad", SWALLOW_EVERYTHING)),
        frozenset({"zero_grad"}),
        deadlines=1,
    ),
    Case(
        "infinite loop in the training loop",
        "liveness",
        submission(train=put(reference("train"), "training_loop", LOOP)),
        # zero_grad's loop case waits for training_loop
        frozenset({"training_loop"}),
        deadlines=1,
    ),
    Case(
        "4 GB memory grab in a closure",
        "liveness",
        submission(engine(relu_backward="hog = bytearray(4 * 2**30)")),
        closure("relu_backward"),
    ),
    Case(
        "memory grab at import, bit by bit",
        "liveness",
        submission(engine("hog = []\nwhile True:\n    hog.append(bytearray(2**26))")),
        ENGINE_TASKS,
    ),
    Case(
        "fork bomb",
        "liveness",
        submission(engine(tanh_backward=FORK_BOMB)),
        closure("tanh_backward"),
        needs="processes",
        flags=("starts processes",),
    ),
    Case(
        "C stack overflow (segfault)",
        "liveness",
        submission(engine(**{SPARE_OP: SEGFAULT})),
        closure(SPARE_OP),
    ),
    Case(
        "gigabytes to stdout",
        "liveness",
        submission(engine(pow_backward=FLOOD_STDOUT)),
        closure("pow_backward"),
    ),
    Case(
        "gigabytes to stderr at import",
        "liveness",
        submission(engine(FLOOD_STDERR_RAW)),
        ENGINE_TASKS,
    ),
    # ---- control-flow escapes: each costs its own task ----
    Case(
        "sys.exit(0) in a closure",
        "escape",
        submission(engine(add_backward="import sys\nsys.exit(0)")),
        closure("add_backward"),
        flags=("ends the process",),
    ),
    Case(
        "os._exit(0) in a closure",
        "escape",
        submission(engine(mul_backward="import os\nos._exit(0)")),
        closure("mul_backward"),
        flags=("ends the process",),
    ),
    Case(
        "os._exit(0) at import",
        "escape",
        submission(engine("import os\nos._exit(0)")),
        ENGINE_TASKS,
    ),
    Case(
        "KeyboardInterrupt in backward()",
        "escape",
        submission(engine(topo_sort="raise KeyboardInterrupt")),
        frozenset({"topo_sort"}),
    ),
    Case("SystemExit at import", "escape", submission(engine("raise SystemExit(0)")), ENGINE_TASKS),
    Case(
        "GeneratorExit in a closure",
        "escape",
        submission(engine(pow_backward="raise GeneratorExit")),
        closure("pow_backward"),
    ),
    Case(
        "pytest.exit in a closure",
        "escape",
        submission(
            engine(tanh_backward="import pytest\npytest.exit('all tests passed', returncode=0)")
        ),
        closure("tanh_backward"),
    ),
    Case(
        "an exception whose __str__, __repr__ and __del__ raise",
        "escape",
        submission(engine(**{SPARE_OP: BAD_EXCEPTION})),
        closure(SPARE_OP),
    ),
    Case(
        "objects whose __del__ raises, beside correct code",
        "escape",
        submission(engine(NOISY_DEL, relu_backward="Noisy()")),
        NO_TASK,
    ),
    Case(
        "kills its parent, then everyone it can",
        "escape",
        submission(
            engine(
                relu_backward=(
                    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                    "os.kill(-1, signal.SIGKILL)"
                )
            )
        ),
        closure("relu_backward"),
        needs="signals",
    ),
    # ---- tampering from inside: the verdicts are the parent's, from plain numbers ----
    Case(
        "patches isclose, allclose, approx, abs, float and pytest's reports",
        "tampering",
        submission(
            engine(TAMPER_WITH_JUDGES).replace(
                "self.grad += other.data * out.grad\n            other.grad += self.data *"
                " out.grad",
                "self.grad += self.data * out.grad\n            other.grad += other.data *"
                " out.grad",
            )
        ),
        frozenset({"mul_backward"}),
        flags=("patches other modules",),
    ),
    Case(
        "patches builtins.float and builtins.type: only its own numbers suffer",
        "tampering",
        submission(
            engine(
                "import builtins\nbuiltins.float = lambda *args: 0.0\nbuiltins.type = lambda *args:"
                " float"
            )
        ),
        ENGINE_TASKS,
        flags=("patches other modules",),
    ),
    Case(
        "gradients equal to anything (a rigged float subclass)",
        "tampering",
        submission(
            re.sub(r"(self|other)\.grad \+= (.*)", r"\1.grad = Liar(\1.grad + \2)", engine(LIAR))
        ),
        frozenset({*OP_IDS, "grad_accumulation"}),
    ),
    Case(
        "a float that claims to be a numpy scalar",
        "tampering",
        submission(
            engine(NUMPY_IMPOSTOR).replace(
                "self.grad += out.grad\n            other.grad += out.grad",
                "self.grad = Scalar(self.grad + out.grad)\n"
                "            other.grad = Scalar(other.grad + out.grad)",
            )
        ),
        closure("add_backward"),
    ),
    Case(
        "smuggled conftest, pytest.ini, sitecustomize, .pth, shadowing modules and bytecode",
        "tampering",
        submission(**_strays(STRAYS_THAT_RUN)),
        NO_TASK,
    ),
    Case(
        "forges results.json wherever it can and prints a fake pytest summary",
        "tampering",
        submission(engine=at_import(starter("engine"), FORGE_RESULTS)),
        ENGINE_TASKS,
        needs="filesystem",
    ),
    Case(
        "forges its report on the grader's pipe",
        "tampering",
        submission(
            engine(
                add_backward=(
                    'import os\nos.write(3, b\'{"observation": {"cases": []}}\')\nos._exit(0)'
                )
            )
        ),
        closure("add_backward"),
    ),
    Case(
        "a detached process (double fork, setsid) rewrites the results later",
        "tampering",
        submission(engine(LATE_SURVIVOR)),
        NO_TASK,
        late=True,
    ),
    Case(
        "a process in its own session outlives the task",
        "tampering",
        submission(nn=put(reference("nn"), "zero_grad", SPAWN_SLEEPER)),
        NO_TASK,
        late=True,
    ),
    # ---- gaming: nothing in the worker holds an expected value ----
    Case(
        "reads the caller's frames for expected values",
        "gaming",
        submission(engine(mul_backward=READ_FRAMES)),
        closure("mul_backward"),  # it adds nothing
        flags=("reads the caller's frames",),
    ),
    Case(
        "searches the garbage collector for expected values",
        "gaming",
        submission(engine(add_backward=SEARCH_GC)),
        closure("add_backward"),  # it adds nothing
        flags=("searches the garbage collector",),
    ),
    Case(
        "imports or finds the reference solution",
        "gaming",
        submission(engine=at_import(starter("engine"), USE_THE_REFERENCE)),
        ENGINE_TASKS,
        needs="filesystem",
        deadlines=1,
    ),  # walking a large disk may take its deadline
    Case(
        "hard-codes the lecture's numbers",
        "gaming",
        submission(
            engine("LECTURE = {'o': 0.7071067811865476, 'n': 0.8813735870195432}").replace(
                "self.grad += (1 - t**2) * out.grad", "self.grad += 0.5 * out.grad"
            )
        ),
        frozenset({"tanh_backward"}),
        flags=("holds the lecture's numbers",),
    ),
    Case(
        "infinite gradients, which are within any relative tolerance of anything",
        "gaming",
        submission(
            re.sub(r"(self|other)\.grad \+= .*", r"\1.grad = math.inf", engine()).replace(
                "self.grad = 1.0", "self.grad = math.inf"
            )
        ),
        ENGINE_TASKS,
    ),
    Case(
        "behaves differently when it detects grading",
        "gaming",
        submission(engine(DETECT_GRADING, **{task: SABOTAGE_WHEN_GRADED for task in OP_IDS})),
        ENGINE_TASKS - {"topo_sort"},
    ),
    Case(
        "changes the global random seeds",
        "gaming",
        submission(
            engine(RESEED),
            nn=at_import(reference("nn"), RESEED),
            train=at_import(reference("train"), RESEED),
        ),
        NO_TASK,
    ),
    # ---- reaching out: other students, the grader's files, the secrets ----
    Case(
        "writes into other students' folders, the kit, HOME and /tmp",
        "reaching out",
        submission(engine(WRITE_EVERYWHERE, add_backward=WRITE_EVERYWHERE)),
        NO_TASK,
        needs="filesystem",
    ),
    Case(
        "reads the hidden checks and the reference and raises them",
        "reaching out",
        submission(engine(add_backward=READ_AND_RAISE_SECRETS)),
        closure("add_backward"),
    ),
    Case(
        "raises a copy of hidden-check and solution lines, re-spaced",
        "reaching out",
        submission(engine(mul_backward=RAISE_COPIED_SECRETS)),
        closure("mul_backward"),
    ),
    Case(
        "imports torch and its own micrograd",
        "reaching out",
        submission(
            engine(
                "try:\n    import torch\nexcept ImportError:\n    pass\n"
                "try:\n    from micrograd import nn\nexcept ImportError:\n    pass"
            )
        ),
        NO_TASK,
        flags=("imports torch", "imports micrograd into its own engine"),
    ),
    # ---- broken, not hostile ----
    Case(
        "a syntax error in nn.py",
        "broken",
        submission(nn=reference("nn") + "\ndef broken(:\n"),
        frozenset({"zero_grad"}),
    ),
    Case("a syntax error in engine.py", "broken", submission(engine("def broken(:")), ENGINE_TASKS),
    # the zeroing in training is part of the loop's region, so zero_grad stands
    Case(
        "train.py missing",
        "broken",
        {path: text for path, text in submission().items() if not path.endswith("train.py")},
        frozenset({"training_loop"}),
        notes=("train.py is missing",),
    ),
    Case("an empty submission", "broken", {"README.txt": "I ran out of time"}, EVERY_TASK),
    Case(
        "correct code beside random.py, numpy.py, test_engine.py, conftest.py, sitecustomize.py,"
        " .pth",
        "broken",
        submission(**_strays("x = 1\n")),
        NO_TASK,
    ),
    Case(
        "a folder name with spaces and non-ASCII letters",
        "broken",
        submission(),
        NO_TASK,
        folder="José Ñúñez — hw 1 (final)",
    ),
    Case(
        "numpy scalars and ints as gradients",
        "broken",
        submission(
            engine()
            .replace("self.grad = 0.0", "self.grad = 0")
            .replace(
                "self.grad += out.grad\n", "self.grad += __import__('numpy').float64(out.grad)\n"
            )
        ),
        NO_TASK,
    ),
    Case(
        "NaN and inf as gradients",
        "broken",
        submission(
            engine(
                **{SPARE_OP: "self.grad += float('nan')"}, relu_backward="self.grad += float('inf')"
            ),
            nn=reference("nn").replace("p.grad = 0.0", "p.grad = float('nan')"),
        ),
        # no finite number: nothing seen
        closure(SPARE_OP) | closure("relu_backward") | {"zero_grad"},
    ),
    # ---- notebooks ----
    Case(
        "notebook: test cells deleted, a locked cell edited, points changed",
        "notebook",
        notebook(_drop_tests_and_tamper),
        NO_TASK,
    ),
    Case(
        "notebook: the starter with every test cell made to pass",
        "notebook",
        notebook(_starter_engine_cells),
        ENGINE_TASKS,
    ),
    Case(
        "notebook: a module cell that hangs",
        "notebook",
        notebook(_hang_in_module_cell),
        ENGINE_TASKS,
        deadlines=1,
    ),
    Case(
        "notebook: an exploring cell that hangs (never run)",
        "notebook",
        notebook(_hang_in_exploring_cell),
        NO_TASK,
    ),
    Case(
        "notebook: not valid JSON",
        "notebook",
        {"mallory.ipynb": '{"cells": [{"cell_type": "code", '},
        EVERY_TASK,
        notes=("could not be read as a notebook",),
    ),
)
