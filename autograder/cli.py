"""The `mgkit` command: a thin layer of argument parsing over the kit's Python API.

Each command imports what it runs inside its own function: `mgkit grade` must start in well
under a second, and importing every command's job at the top (nbformat, nbgrader, tqdm, the
class run) would cost it more than one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mgkit_checks.course import Course, using

from .reference.outputs import printable


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        course = Course.find(args.course)
        _refuse_a_hand_ins_own_course(args, course)
        with _in_course(course):
            # which course, before anything else; on stderr, so that stdout stays the command's own
            print(f"mgkit {args.name}: {course.named}", file=sys.stderr)
            return args.command(args)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"mgkit {args.name}: {error}", file=sys.stderr)
        return 1


def _refuse_a_hand_ins_own_course(args: argparse.Namespace, course: Course) -> None:
    """A course.toml found above the current folder but inside what is graded is a student's: a
    hand-in never sets its own rubric (`cd alice && mgkit grade .` would have read alice's)."""
    graded = getattr(args, "submission", None) or getattr(args, "submissions", None)
    if graded is None or args.course is not None or os.environ.get("MGKIT_COURSE"):
        return
    if course.path.resolve().is_relative_to(graded.resolve()):
        raise ValueError(
            f"{course.path} is inside {graded}, what is graded: a hand-in never chooses its course;"
            " run from the course's folder, or pass --course")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mgkit", description="The micrograd course kit.")
    parser.add_argument(
        "--course", type=Path, metavar="PATH",
        help="the course: a course.toml or its folder (default: $MGKIT_COURSE, else the nearest "
        "course.toml in or above this folder, else the kit's own)")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    train = commands.add_parser("train",
                                help="train the reference MLP on two moons and save a picture")
    train.add_argument("--steps", type=_positive, default=100,
                       help="gradient-descent steps (default 100)")
    train.add_argument("--samples", type=_positive, default=100, help="moons points (default 100)")
    train.add_argument("--seed", type=int, default=1,
                       help="seed of the data and the initial weights (default 1)")
    train.add_argument("--out", type=Path, default=Path("mgkit-train.png"),
                       help="the picture to write")
    train.add_argument("--force", action="store_true",
                       help="replace --out even if mgkit did not write it")
    train.set_defaults(command=_train, name="train")

    release = commands.add_parser(
        "release", help="regenerate release/ and the nbgrader source from the reference")
    release.add_argument("--check", action="store_true",
                         help="change nothing; exit 1 if release/ is stale")
    release.add_argument("--root", type=Path, default=None,
                         help="the course folder to release (default: the course's)")
    release.set_defaults(command=_release, name="release")

    _add_grading_commands(commands)

    export = commands.add_parser(
        "export", help="what a course platform needs: Gradescope's autograder zip, the"
        " workflow or cluster recipe that grades a class, or grades for Canvas")
    export.add_argument("platform",
                        choices=["gradescope", "github", "kubernetes", "slurm",
                                 "canvas"], help="the platform")
    export.add_argument(
        "--out", type=Path, help="the file to write (default: autograder.zip, grade-class.yml,"
        " grade-class.sbatch, canvas.csv)")
    export.add_argument(
        "--visibility", help="when students see each task's result: after_published (default, or"
        " the course's), after_due_date, visible")
    canvas = export.add_argument_group("canvas (docs/INSTRUCTORS.md)")
    canvas.add_argument(
        "--gradebook", type=Path, help="grade-all's gradebook.csv (its folder's results name the"
        " students' Canvas ids)")
    canvas.add_argument("--roster", type=Path,
                        help="your course's gradebook exported from Canvas (Grades, Export)")
    canvas.add_argument(
        "--assignment", default="micrograd", help=
        "the Canvas assignment's name (default micrograd); its column in the roster if it has one")
    export.add_argument("--force", action="store_true",
                        help="replace --out even if mgkit did not write it")
    export.set_defaults(command=_export, name="export")
    return parser


@contextmanager
def _in_course(course: Course) -> Iterator[Course]:
    """`course` is the course of this run, and of every process it starts (told by MGKIT_COURSE)."""
    before = os.environ.get("MGKIT_COURSE")
    os.environ["MGKIT_COURSE"] = str(course.path)
    try:
        with using(course):
            yield course
    finally:
        if before is None:
            del os.environ["MGKIT_COURSE"]
        else:
            os.environ["MGKIT_COURSE"] = before


def _train(args: argparse.Namespace) -> int:
    from .reference import training

    result = training.run(args.steps, args.samples, args.seed, args.out, overwrite=args.force)
    print(f"final loss {result.final_loss:.4f}, accuracy {result.final_accuracy:.0%}")
    print(f"saved the loss curve and the decision boundary to {result.plot}")
    return 0


def _release(args: argparse.Namespace) -> int:
    from . import build_release
    from .reference.solution import COURSE_ROOT
    from .release.build import RELEASE, SOURCE

    root = args.root or COURSE_ROOT
    stale = build_release(root, check=args.check)
    if not args.check:
        print(f"wrote {root / RELEASE} and {root / SOURCE}")
        return 0
    for path in stale:
        print(f"  {path}")
    print(f"{len(stale)} generated files differ: run `mgkit release`"
          if stale else "release/ is up to date")
    return 1 if stale else 0


def _export(args: argparse.Namespace) -> int:
    from .platforms import cluster, github, gradescope
    from .reference.outputs import check_replaceable, write_atomically

    _course_settings(args)
    if args.platform == "gradescope":
        out = args.out or Path("autograder.zip")
        names = gradescope.export(out, args.visibility, args.force)
        print(
            f"wrote {out} ({len(names)} files): upload it as the assignment's autograder on"
            " Gradescope"
        )
        return 0
    if args.platform == "canvas":
        return _export_canvas(args)
    if args.platform == "github":
        out, text = args.out or Path("grade-class.yml"), github.instructor_workflow()
        next_step = (
            "put it in .github/workflows/ of the course staff's private repository"
            " (docs/INSTRUCTORS.md)"
        )
    else:
        out = args.out or Path(cluster.DEFAULT_OUT[args.platform])
        text = cluster.recipe(args.platform)
        next_step = cluster.NEXT_STEP[args.platform]
    check_replaceable(out, args.force, lambda path: path.read_text(errors="replace") == text)
    write_atomically(out, text)
    print(f"wrote {out}: {next_step}")
    return 0


def _export_canvas(args: argparse.Namespace) -> int:
    from .platforms import canvas

    if args.gradebook is None or args.roster is None:
        raise ValueError(
            "export canvas needs --gradebook DIR/gradebook.csv and --roster (your Canvas export)")
    out = args.out or Path("canvas.csv")
    exported = canvas.export(args.gradebook, args.roster, out, args.assignment, args.force)
    for line in exported.unmatched_lines():
        print(printable(f"mgkit export: unmatched: {line}"), file=sys.stderr)
    print(
        f"wrote {out}: {exported.matched} students matched to the roster's"
        f" {exported.roster_students}, in column {exported.column!r}; import it in Canvas (Grades,"
        " Import)"
    )
    if exported.unmatched:
        print(
            f"{len(exported.unmatched)} unmatched, never guessed: listed above and in"
            f" {exported.side_file}"
        )
    return 0


def _add_grading_commands(commands: argparse._SubParsersAction) -> None:
    grade = commands.add_parser(
        "grade", help="grade one submission (a folder or a notebook) into results.json")
    grade.add_argument("submission", type=Path,
                       help="a folder holding micrograd/*.py, or a .ipynb notebook")
    grade.add_argument("--out", type=Path,
                       help="the results.json to write (default: print the table)")
    grade.add_argument(
        "--format", choices=["gradescope", "prairielearn"], default="gradescope", help=
        "--out's format: Gradescope's results.json (default) or PrairieLearn's external grading's")
    grade.add_argument("--seed", type=int,
                       help="the hidden checks' seed, to reproduce a grade (default: a fresh one)")
    grade.add_argument("--force", action="store_true",
                       help="replace --out even if mgkit did not write it")
    grade.set_defaults(command=_grade, name="grade")

    grade_all = commands.add_parser("grade-all",
                                    help="grade a class, its hand-ins as courses collect them")
    grade_all.add_argument(
        "submissions", type=Path,
        help="the folder of hand-ins: a folder, notebook or zip per student, Canvas's bulk"
        " download, or nbgrader's submitted/ (or its course folder)")
    grade_all.add_argument("--out", type=Path, required=True,
                           help="the folder for results and gradebook.csv")
    grade_all.add_argument("--workers", type=_positive,
                           help="students graded at once (default: one per core)")
    grade_all.add_argument(
        "--seed", type=int, help="one seed for every student (default: the one --out was graded"
        " with, else a fresh one each)")
    grade_all.add_argument(
        "--force", action="store_true",
        help="grade everyone again (a new run, with new settings if given), and replace files"
        " in --out that mgkit did not write")
    grade_all.add_argument(
        "--merge", action="store_true",
        help="grade nothing: SUBMISSIONS holds results graded elsewhere (a folder per CI job,"
        " say); gather them into --out with one gradebook")
    grade_all.add_argument(
        "--shard", metavar="I/N",
        help="grade only share I of N (0 to N-1; a stable share by the student's name), for"
        " --merge to gather: a cluster's array job (mgkit export kubernetes|slurm)")
    grade_all.add_argument(
        "--dry-run", action="store_true",
        help="grade into a scratch folder and list the scores a rerun over --out would move"
        " (regrade.csv's rows), replacing nothing")
    grade_all.add_argument(
        "--batch", metavar="ID",
        help="with --shard, the run the shard belongs to (a SLURM array's job id, say); with"
        " --merge, gather only that run's shards (exit 3 until all are complete)")
    late = grade_all.add_argument_group(
        "late work (a hand-in's time comes from its collector: docs/INSTRUCTORS.md;"
        " left out, a rerun keeps the policy --out was graded with)")
    late.add_argument("--deadline", type=_deadline,
                      help="e.g. 2025-03-01T23:59+01:00; the gradebook shows lateness")
    late.add_argument(
        "--late-penalty", type=_percent, metavar="PERCENT",
        help="share of the score taken per day begun after the deadline (default 0: none)")
    late.add_argument("--late-cap", type=_percent, metavar="PERCENT",
                      help="the most the late penalty takes (default 100)")
    grade_all.set_defaults(command=_grade_all, name="grade-all")

    demo = commands.add_parser(
        "demo", help="grade the reference, the untouched starter and a buggy submission")
    demo.add_argument("--seed", type=int, help="the hidden checks' seed (default: a fresh one)")
    demo.set_defaults(command=_demo, name="demo")


def _grade(args: argparse.Namespace) -> int:
    from . import grade
    from .grading.results import is_results_file, render_table
    from .platforms import prairielearn
    from .reference.outputs import check_replaceable

    prairie = args.format == "prairielearn"
    if args.out:
        check_replaceable(args.out, args.force,
                          prairielearn.is_results_file if prairie else is_results_file)
    results = grade(args.submission, seed=args.seed)
    if args.out:
        prairielearn.write(results, args.out) if prairie else results.write(args.out)
    print(render_table(results))
    if not results.graded:
        print(f"mgkit grade: {results.tasks[0].feedback}", file=sys.stderr)
        return 2
    if "mount-namespace" not in results.isolation:
        print(
            "mgkit grade: warning: no filesystem isolation on this machine: the student's code"
            " could read and write what this user can; see docs/SECURITY.md",
            file=sys.stderr,
        )
    return 0


def _grade_all(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from . import grade_all, merge
    from .classrun.gradebook import GRADEBOOK, LatePolicy, RunStopped, pass_rates
    from .classrun.shards import ShardsIncomplete, parse_shard

    _course_settings(args)
    if args.deadline is None and (args.late_penalty is not None or args.late_cap is not None):
        raise ValueError("--late-penalty and --late-cap need a --deadline")
    if args.merge and (args.seed is not None or args.force or args.shard):
        raise ValueError("--merge grades nothing: leave out --seed, --force and --shard")
    if args.batch is not None and not (args.merge or args.shard):
        raise ValueError("--batch names a sharded run: give it with --shard I/N or --merge")
    shard = parse_shard(args.shard) if args.shard else None
    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(
            f"{args.out} is a file: --out takes the folder to write results and gradebook.csv in")
    late = (
        LatePolicy(
            args.deadline,
            args.late_penalty or 0.0,
            100.0 if args.late_cap is None else args.late_cap,
        )
        if args.deadline
        else None
    )
    if args.dry_run:
        return _dry_run(args, shard, late)
    try:
        if args.merge:
            results = merge(args.submissions, args.out, late=late, batch=args.batch)
        else:
            results = grade_all(
                args.submissions, args.out, workers=args.workers, force=args.force, seed=args.seed,
                say=_say, late=late, shard=shard, batch=args.batch,
                progress=lambda total: tqdm(total=total, unit="student", desc="grading"))
    # a cluster's merge waits on this exit code (mgkit export slurm)
    except ShardsIncomplete as incomplete:
        print(f"mgkit grade-all: not merged: {incomplete}", file=sys.stderr)
        return SHARDS_INCOMPLETE
    except RunStopped as stopped:
        print(f"mgkit grade-all: {stopped}", file=sys.stderr)
        return 128 + stopped.signum
    except KeyboardInterrupt:  # before grading began: nothing was written
        print("mgkit grade-all: stopped before grading began; run the same command again",
              file=sys.stderr)
        return 130
    print(pass_rates(results))
    if results.resumed:
        print(
            f"kept this run's results of {len(results.resumed)} students (--force grades them"
            " again)"
        )
    if results.regraded:
        print(
            f"graded {len(results.regraded)} students again: their earlier results were of another"
            " run, other checks or another hand-in"
        )
    for student, why in results.errors.items():
        print(printable(f"could not grade {student}: {why}"), file=sys.stderr)
    print(f"wrote {args.out / GRADEBOOK}")
    if results.moved is not None:
        print(
            f"regraded under another grader: {len(results.moved)} scores of"
            f" {len({row[0] for row in results.moved})} students moved, listed in"
            f" {args.out / 'regrade.csv'}"
        )
    if results.course:
        print(
            f"recorded {len(results.recorded)} students' points in the nbgrader gradebook of"
            f" {results.course}: `nbgrader export` and formgrader show them"
        )
    for student, why in results.not_recorded.items():
        print(printable(f"not recorded in the nbgrader gradebook: {student}: {why}"),
              file=sys.stderr)
    return 0


def _say(text: str) -> None:
    # names of hand-ins: a student's, never an escape sequence for the terminal
    print(printable(text))


SHARDS_INCOMPLETE = 3  # `grade-all --merge`: some shards are not complete (yet)


def _dry_run(args: argparse.Namespace, shard: tuple[int, int] | None, late) -> int:
    from .classrun.gradebook import dry_run

    if args.merge:
        raise ValueError("--dry-run grades: leave out --merge")
    options = {
        "workers": args.workers,
        "shard": shard,
        **({
            "seed": args.seed
        } if args.seed is not None else {}),
        **({
            "late": late
        } if late else {})
    }
    differences, moved = dry_run(args.submissions, args.out, options)
    print(f"grader: {'; '.join(differences) or 'as before'}")
    for student, task, old, new in moved:
        print(printable(f"would move: {student} {task}: {old or '-'} -> {new or '-'}"))
    print(
        f"{len(moved)} scores of {len({row[0] for row in moved})} students would move; {args.out}"
        " is unchanged"
    )
    return 0


def _course_settings(args: argparse.Namespace) -> None:
    """The course's settings (course.toml's [settings]) where no flag was given: flags win."""
    from .reference.rubric import COURSE  # the course in use: this run's

    for name in ("deadline", "late_penalty", "late_cap", "visibility"):
        if hasattr(args, name) and getattr(args, name) is None:  # a flag of this command, not given
            setattr(args, name, getattr(COURSE.settings, name))


def _demo(args: argparse.Namespace) -> int:
    from .grading import demo
    from .grading.results import render_table

    def show(title, results) -> None:
        print(f"\n== {title}: {results.score:g} / {results.max_score:g}\n{render_table(results)}")

    graded = demo.run(args.seed, show)
    return 0 if all(results.graded for results in graded.values()) else 2


def _deadline(text: str):
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: write it as 2025-03-01T23:59+01:00") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: add one, as in {moment.isoformat()}+00:00")
    return moment


def _percent(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a percentage is from 0 to 100, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
