"""The reference engine next to Karpathy's micrograd 0.1.0 from PyPI, measured in one run.

    python benchmarks/bench_engine.py               # about a minute
    python benchmarks/bench_engine.py --steps 100   # his whole demo: several minutes

(a) his demo training: MLP(2, [16, 16, 1]) on 100 two-moons points, max-margin loss plus L2,
    learning rate 1.0 - 0.9*k/100, written as in his demo notebook; seconds per step, the share
    of it spent in Python's cyclic garbage collector, and both engines under one collector policy
    (his notebook loop with Python's default collection; then as the reference's train() runs it,
    every million new objects and a young sweep after each step), which shows whether the collector
    or the arithmetic costs the time.
(b) forward and backward over a ~100,000-node balanced tree of + * ** relu (his 0.1.0 has no
    tanh or exp), shallow enough for his recursive topological sort.
(c) the deepest chain v = v + 1 each engine can differentiate, probed up to a cap.

Both packages are called `micrograd`, so they never share a process: every measurement runs in
a child Python (`-I`: no environment, no script folder on sys.path) whose sys.path starts with
one engine's folder, his unzipped wheel in benchmarks/.cache/ or solutions/. The parent makes
the data and the initial weights once and hands the same numbers to both as JSON. The children
import nothing but the standard library and the engine: numpy's tens of thousands of long-lived
objects would change how often the collector runs, which is part of what is measured.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import random
import statistics
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from time import process_time  # CPU time: on a shared machine, waiting is not the engine's

KIT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = KIT_ROOT / "solutions"  # the folder that holds the reference `micrograd`
CACHE_DIR = Path(__file__).resolve().parent / ".cache"  # git-ignored
KARPATHY_VERSION = "0.1.0"
KARPATHY_DIR = CACHE_DIR / f"micrograd-{KARPATHY_VERSION}"  # his wheel, unzipped
ENGINE_NAMES = {"reference": "reference", "karpathy": f"karpathy {KARPATHY_VERSION}"}

LAYER_SIZES = [16, 16, 1]  # his demo's MLP(2, [16, 16, 1])
MOONS = 100  # points in his demo
ALPHA = 1e-4  # weight of the demo's L2 term
FIRST_PROBE_DEPTH = 16  # (c) doubles from here until a chain fails or the cap is reached


# ---------------------------------------------------------------- the child: one engine, one
# measurement


def run_worker() -> None:
    """Read a job from stdin, import the `micrograd` its folder holds, measure, write JSON to
    stdout."""
    job = json.load(sys.stdin)
    sys.path.insert(0, job["engine_dir"])
    engine = importlib.import_module("micrograd.engine")
    nn = importlib.import_module("micrograd.nn")
    if not Path(engine.__file__).resolve().is_relative_to(Path(job["engine_dir"]).resolve()):
        sys.exit(
            f"imported the wrong micrograd: {engine.__file__}, not one under {job['engine_dir']}")
    if job["gc_threshold"]:  # else whatever importing the engine left in place
        gc.set_threshold(*job["gc_threshold"])
    result = MEASUREMENTS[job["task"]](engine.Value, nn.MLP, job)
    result.update(threshold=gc.get_threshold(), engine_file=engine.__file__)
    json.dump(result, sys.stdout)


class GcClock:
    """Adds up the time Python's cyclic garbage collector runs, through gc.callbacks."""

    def __init__(self):
        # per generation: a collection of generation g scans every object tracked in generations 0
        # to g
        self.seconds_by_generation = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._start = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = process_time()
        else:
            self.seconds_by_generation[info["generation"]] += process_time() - self._start
            self.collections[info["generation"]] += 1

    @property
    def seconds(self) -> float:
        return sum(self.seconds_by_generation)

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


def measure_training(Value, MLP, job: dict) -> dict:
    """(a) The demo's training steps, timed one by one: with the engine's own train() if it has one
    (the reference's frees each step's graph itself), else with his notebook's loop."""
    model = MLP(2, LAYER_SIZES)
    parameters = model.parameters()
    if len(parameters) != len(job["weights"]):
        sys.exit(
            f"the model has {len(parameters)} parameters, the job {len(job['weights'])} weights")
    for p, w in zip(parameters, job["weights"]):
        p.data = w  # the parent's initial weights, the same for both engines
    gc.collect()
    seconds, losses, accuracies = [], [], []
    clock_start = [process_time()]

    def on_step(step: int, loss: float, accuracy: float) -> None:
        seconds.append(process_time() - clock_start[0])
        losses.append(loss)
        accuracies.append(accuracy)
        clock_start[0] = process_time()

    with GcClock() as clock:
        train = own_train() if job["loop"] == "own" else None
        like_train = job["loop"] == "like train()"
        if train:
            train(model, job["xs"], job["ys"], steps=job["steps"],
                  learning_rate=lambda k, _: 1.0 - 0.9 * k / 100, alpha=ALPHA, on_step=on_step)
        else:
            notebook_loop(model, Value, job, on_step, like_train)
    return {
        "seconds_per_step":
        statistics.mean(seconds),
        "gc_share":
        clock.seconds / sum(seconds),
        "collections_per_step": [n / len(seconds) for n in clock.collections],
        "gc_seconds_per_step": [t / len(seconds) for t in clock.seconds_by_generation],
        "losses":
        losses,
        "accuracy":
        accuracies[-1],
        "loop":
        "train()" if train else "notebook loop, GC as train()'s" if like_train else "notebook loop"
    }


def own_train():
    """The engine package's own training loop, if it has one (his 0.1.0 has none)."""
    try:
        return importlib.import_module("micrograd.train").train
    except ImportError:
        return None


def notebook_loop(model, Value, job: dict, on_step: Callable, like_train: bool) -> None:
    """His notebook's loop; `like_train`: under the reference train()'s collector policy, a
    collection every million new objects and a sweep of the young objects (gc.collect(0)) after each
    step, when the step's graph is garbage."""
    if like_train:
        gc.set_threshold(1_000_000, *gc.get_threshold()[1:])
    for k in range(job["steps"]):
        on_step(k, *demo_step(model, Value, job["xs"], job["ys"], k))
        if like_train:
            gc.collect(0)


def demo_step(model, Value, xs: list, ys: list, k: int) -> tuple[float, float]:
    """One step of his demo notebook, as written there: loss(), zero_grad, backward, update."""
    inputs = [list(map(Value, xrow)) for xrow in xs]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = sum((yi > 0) == (scorei.data > 0) for yi, scorei in zip(ys, scores)) / len(ys)

    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data, accuracy


def measure_graph(Value, MLP, job: dict) -> dict:
    """(b) Forward and backward over a balanced tree, each repeat on a freshly built one."""
    rng = random.Random(job["seed"])  # the same leaves in both children
    forward, backward, gc_shares = [], [], []
    for _ in range(job["repeats"]):
        leaves = [Value(rng.uniform(-1, 1)) for _ in range(job["leaves"])]
        gc.collect()  # every repeat starts without the last one's garbage
        with GcClock() as clock:
            start = process_time()
            root = tree(leaves)
            built = process_time()
            root.backward()
            done = process_time()
        forward.append(built - start)
        backward.append(done - built)
        gc_shares.append(clock.seconds / (done - start))
    return {"forward": statistics.median(forward), "backward": statistics.median(backward),
            "gc_share": statistics.median(gc_shares), "nodes": count_nodes(root),
            "root": root.data, "leaf_grad_sum": sum(leaf.grad for leaf in leaves)}


def tree(level: list):
    """Combine neighbours pairwise, level by level, until one value is left: depth ~
    log2(leaves)."""
    while len(level) > 1:
        pairs = [combine(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + level[len(pairs) * 2:]  # an odd one out moves up a level as it is
    return level[0]


def combine(a, b):
    """Nine new nodes of + * ** relu; the values stay near the leaves' size, far from overflow."""
    return (a + b).relu() * 0.5 + 0.01 * (a * b) ** 2


NODES_PER_COMBINE = 9  # a tree of L leaves has L - 1 combines: L + 9 (L - 1) nodes


def count_nodes(root) -> int:
    seen = {root}
    stack = [root]
    while stack:
        for child in stack.pop()._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


def measure_depth(Value, MLP, job: dict) -> dict:
    """(c) Double the chain until backward fails or the cap is reached, then bisect to the deepest
    that works."""
    cap, good, bad, error = job["cap"], 0, None, ""
    depth = min(FIRST_PROBE_DEPTH, cap)
    while bad is None and good < cap:
        error = chain_error(Value, depth)
        good, bad = (depth, None) if not error else (good, depth)
        depth = min(depth * 2, cap)
    while bad is not None and bad - good > 1:
        middle = (good + bad) // 2
        if chain_error(Value, middle):
            bad = middle
        else:
            good = middle
    return {"deepest": good, "reached_cap": good >= cap, "error": error}


def chain_error(Value, depth: int) -> str:
    """Why backward through v = v + 1, `depth` times, fails; '' when it works and d(v)/d(x) = 1."""
    x = Value(1.0)
    v = x
    for _ in range(depth):
        v = v + 1
    try:
        v.backward()
    except RecursionError as error:
        return f"RecursionError: {error}"
    return "" if x.grad == 1 else f"wrong gradient {x.grad}"


MEASUREMENTS = {"training": measure_training, "graph": measure_graph, "depth": measure_depth}


# ---------------------------------------------------------------- the parent: data, children, table


def karpathy_dir() -> Path:
    """His wheel from PyPI, unzipped once into the git-ignored cache: never installed, never on our
    path."""
    if (KARPATHY_DIR / "micrograd" / "engine.py").is_file():
        return KARPATHY_DIR
    wheel = CACHE_DIR / f"micrograd-{KARPATHY_VERSION}-py3-none-any.whl"
    if not wheel.is_file():
        progress(f"downloading micrograd=={KARPATHY_VERSION} from PyPI into {CACHE_DIR}")
        command = [sys.executable, "-m", "pip", "download", f"micrograd=={KARPATHY_VERSION}",
                   "--no-deps", "--only-binary", ":all:", "--dest", str(CACHE_DIR), "--quiet"]
        if subprocess.run(command).returncode != 0 or not wheel.is_file():
            sys.exit(
                f"could not download micrograd=={KARPATHY_VERSION}: check access to PyPI, or put "
                f"{wheel.name} into {CACHE_DIR} by hand")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(KARPATHY_DIR)
    return KARPATHY_DIR


def demo_data(seed: int) -> dict:
    """The moons points and initial weights, made once here and given to both engines."""
    import numpy as np  # the parent only: see the module docstring

    # the reference's numpy moons; the parent never imports his package
    sys.path.insert(0, str(REFERENCE_DIR))
    from micrograd.train import make_moons

    xs, ys = make_moons(MOONS, noise=0.1, seed=seed)
    # Both nn modules start a neuron as uniform(-1, 1) weights and a zero bias, in parameters()
    # order.
    rng = np.random.default_rng(seed)
    weights = []
    for nin, nout in zip([2, *LAYER_SIZES], LAYER_SIZES):
        for _ in range(nout):
            weights += [*rng.uniform(-1, 1, nin), 0.0]
    return {"xs": xs.tolist(), "ys": ys.tolist(), "weights": weights}


def measure(args: argparse.Namespace, engine: str, task: str, gc_threshold: list[int] | None = None,
            **job) -> dict:
    """Run one measurement in a fresh child Python that sees only `engine`'s micrograd."""
    engine_dir = args.reference if engine == "reference" else karpathy_dir()
    job.update(engine_dir=str(engine_dir), task=task, gc_threshold=gc_threshold)
    child = subprocess.run([sys.executable, "-I", __file__, "--worker"], input=json.dumps(job),
                           capture_output=True, text=True)
    if child.returncode != 0:
        sys.exit(f"the {ENGINE_NAMES[engine]} {task} measurement failed:\n{child.stderr.strip()}")
    return json.loads(child.stdout)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_training(args: argparse.Namespace, data: dict) -> dict:
    """(a) Each engine as shipped (the reference's train(), his notebook loop), then the corners
    left of a 2 x 2 of engine and collector policy: the reference in his loop, his engine's
    collector as train()'s."""
    def train(engine: str, loop: str = "own", threshold: list[int] | None = None) -> dict:
        setting = f" with GC thresholds {tuple(threshold)}" if threshold else ""
        progress(f"(a) {ENGINE_NAMES[engine]}, {loop} loop{setting}: {args.steps} demo steps ...")
        return measure(args, engine, "training", threshold, steps=args.steps, loop=loop, **data)

    runs = {(engine, "shipped"): train(engine) for engine in ENGINE_NAMES}
    runs["reference", "notebook"] = train("reference", "notebook")
    runs["karpathy", "like train"] = train("karpathy", "like train()")
    for engine in ENGINE_NAMES if args.gc_threshold else ():
        runs[engine, "extra"] = train(engine, "notebook", args.gc_threshold)
    return runs


def run_graph(args: argparse.Namespace) -> dict:
    leaves = (args.nodes + NODES_PER_COMBINE) // (NODES_PER_COMBINE + 1)
    runs = {}
    for engine in ENGINE_NAMES:
        progress(
            f"(b) {ENGINE_NAMES[engine]}: forward and backward over a ~{args.nodes:,}-node tree, "
            f"{args.repeats} times ...")
        runs[engine] = measure(args, engine, "graph", leaves=leaves, repeats=args.repeats,
                               seed=args.seed)
    return runs


def run_depth(args: argparse.Namespace) -> dict:
    runs = {}
    for engine in ENGINE_NAMES:
        progress(f"(c) {ENGINE_NAMES[engine]}: the deepest chain, up to {args.depth_cap:,} ...")
        runs[engine] = measure(args, engine, "depth", cap=args.depth_cap)
    return runs


Row = tuple[str, str, str, str]  # measurement, reference, karpathy, ratio


def timed(label: str, ours: float, his: float) -> Row:
    """The ratio is his time over ours: how many times faster the reference is."""
    return label, f"{ours:.3g} s", f"{his:.3g} s", f"{his / ours:.1f}x"


def side_by_side(label: str, ours: dict, his: dict, show: Callable[[dict], str]) -> Row:
    return label, show(ours), show(his), ""


def short(number: float, decimals: int = 1) -> str:
    return f"{number:.0f}" if number >= 10 else f"{number:.{decimals}f}"


def gc_share(run: dict) -> str:
    return f"{run['gc_share']:.0%}"


def training_rows(args: argparse.Namespace, runs: dict) -> list[Row]:
    ours, his = runs["reference", "shipped"], runs["karpathy", "shipped"]
    rows = [
        timed(f"(a) demo training, CPU s per step (mean of {args.steps})", ours["seconds_per_step"],
              his["seconds_per_step"]),
        side_by_side("    share in the cyclic GC", ours, his, gc_share),
        timed("    outside the GC",
              *(run["seconds_per_step"] * (1 - run["gc_share"]) for run in (ours, his))),
        side_by_side("    GC collections per step, gen 0 / 1 / 2", ours, his,
                     lambda run: " / ".join(map(short, run["collections_per_step"]))),
        side_by_side("    GC CPU s per step, gen 0 / 1 / 2", ours, his,
                     lambda run: " / ".join(short(t, 2) for t in run["gc_seconds_per_step"])),
        side_by_side("    GC thresholds as shipped", ours, his,
                     lambda run: str(tuple(run["threshold"]))),
        side_by_side("    training loop", ours, his, lambda run: run["loop"]),
        side_by_side(f"    loss, accuracy at step {args.steps}", ours, his,
                     lambda run: f"{run['losses'][-1]:.4f}, {run['accuracy']:.0%}"),
    ]
    # The 2 x 2 of engine and collector policy: if the collector costs the time, the times follow
    # the policy.
    same_policy = [("(a) both with Python's default GC", runs["reference", "notebook"], his),
                   ("(a) both with train()'s GC", ours, runs["karpathy", "like train"])]
    if ("reference", "extra") in runs:
        threshold = tuple(runs["karpathy", "extra"]["threshold"])
        same_policy.append((f"(a) both in his loop, GC thresholds {threshold}",
                            runs["reference", "extra"], runs["karpathy", "extra"]))
    for label, ours_now, his_now in same_policy:
        rows += [timed(label, ours_now["seconds_per_step"], his_now["seconds_per_step"]),
                 side_by_side("    share in the cyclic GC", ours_now, his_now, gc_share)]
    return rows


def graph_rows(args: argparse.Namespace, runs: dict) -> list[Row]:
    ours, his = runs["reference"], runs["karpathy"]
    return [
        timed(f"(b) forward, {ours['nodes']:,}-node tree (median of {args.repeats})",
              ours["forward"], his["forward"]),
        timed("(b) backward", ours["backward"], his["backward"]),
        timed("(b) forward + backward", forward_backward(ours), forward_backward(his)),
        side_by_side("    share in the cyclic GC", ours, his, gc_share),
    ]


def forward_backward(run: dict) -> float:
    return run["forward"] + run["backward"]


def depth_rows(runs: dict) -> list[Row]:
    return [
        side_by_side("(c) deepest chain v = v + 1 differentiated", runs["reference"],
                     runs["karpathy"],
                     lambda run: f"{'>= ' if run['reached_cap'] else ''}{run['deepest']:,}")
    ]


def print_table(rows: list[Row]) -> None:
    header = ("measurement", ENGINE_NAMES["reference"], ENGINE_NAMES["karpathy"], "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * width for width in widths)
    print(line)
    for row in [header, None, *rows]:
        if row is None:
            print(line)
        else:
            cells = (f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:]))
            print(f"{row[0]:<{widths[0]}}  " + "  ".join(cells))
    print(line)


def print_checks(training: dict, graph: dict, depth: dict) -> None:
    """Whether both engines computed the same numbers, and the targets of issue 2."""
    ours, his = training["reference", "shipped"], training["karpathy", "shipped"]
    print(
        f"engines: reference from {ours['engine_file']}, karpathy {KARPATHY_VERSION} from"
        f" {his['engine_file']}"
    )
    loss_gap = max(abs(a - b) for a, b in zip(ours["losses"], his["losses"]))
    print(
        f"same numbers: (a) losses differ by at most {loss_gap:.1e}; (b) output"
        f" {graph['reference']['root']:.6g} and {graph['karpathy']['root']:.6g}, sum of leaf"
        f" gradients {graph['reference']['leaf_grad_sum']:.6g} and"
        f" {graph['karpathy']['leaf_grad_sum']:.6g}"
    )
    a = his["seconds_per_step"] / ours["seconds_per_step"]
    b = forward_backward(graph["karpathy"]) / forward_backward(graph["reference"])
    unlimited = depth["reference"]["reached_cap"]
    verdict = {True: "met", False: "NOT met"}
    print(f"target (a) reference >= 3x faster on the demo: {a:.1f}x, {verdict[a >= 3]}")
    print(f"target (b) reference >= 2x faster on the graph: {b:.1f}x, {verdict[b >= 2]}")
    print(
        f"target (c) no depth limit: {verdict[unlimited]}; karpathy {KARPATHY_VERSION} fails beyond"
        f" {depth['karpathy']['deepest']:,}: {depth['karpathy']['error'] or 'no error'}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=
        "Karpathy's micrograd is downloaded once from PyPI into benchmarks/.cache/ (git-ignored).")
    parser.add_argument(
        "--steps",
        type=positive,
        default=30,
        help=(
            "demo training steps per engine and GC setting (default 30, enough for the collector's "
            "rare old-generation sweeps to show; his notebook runs 100)"
        ),
    )
    parser.add_argument("--nodes", type=positive, default=100_000,
                        help="nodes in the (b) tree (default 100,000)")
    parser.add_argument("--repeats", type=positive, default=3,
                        help="(b) repeats, the median is shown (default 3)")
    parser.add_argument("--depth-cap", type=positive, default=1_000_000,
                        help="the deepest chain (c) tries (default 1,000,000)")
    parser.add_argument(
        "--gc-threshold",
        type=thresholds,
        metavar="A,B,C",
        help=(
            "also run his loop on both engines at these gc.set_threshold values, e.g. 1000000,10,10"
        ),
    )
    parser.add_argument(
        "--reference", type=package_parent, default=REFERENCE_DIR, metavar="DIR", help=
        "the folder holding the reference micrograd package, to try a change (default solutions/)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the data, weights and tree (default 1)")
    # a child: see run_worker
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def package_parent(text: str) -> Path:
    folder = Path(text).resolve()
    if not (folder / "micrograd" / "engine.py").is_file():
        raise argparse.ArgumentTypeError(
            f"{text} holds no micrograd/engine.py: give the folder that holds the package")
    return folder


def thresholds(text: str) -> list[int]:
    values = [positive(part) for part in text.split(",")]
    if len(values) != 3:
        raise argparse.ArgumentTypeError(
            f"give three numbers as for gc.set_threshold, like 1000000,10,10, not {text}")
    return values


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        return run_worker()
    karpathy_dir()
    training = run_training(args, demo_data(args.seed))
    graph = run_graph(args)
    depth = run_depth(args)
    print_table(training_rows(args, training) + graph_rows(args, graph) + depth_rows(depth))
    print_checks(training, graph, depth)


if __name__ == "__main__":
    main()
