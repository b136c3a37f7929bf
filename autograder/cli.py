"""The `mgkit` command: a thin layer of argument parsing over the kit's Python API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"mgkit {args.name}: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mgkit", description="The micrograd course kit.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train the reference MLP on two moons and save a picture")
    train.add_argument("--steps", type=_positive, default=100, help="gradient-descent steps (default 100)")
    train.add_argument("--samples", type=_positive, default=100, help="moons points (default 100)")
    train.add_argument("--seed", type=int, default=1, help="seed of the data and the initial weights (default 1)")
    train.add_argument("--out", type=Path, default=Path("mgkit-train.png"), help="the picture to write")
    train.add_argument("--force", action="store_true", help="replace --out even if mgkit did not write it")
    train.set_defaults(command=_train, name="train")
    return parser


def _train(args: argparse.Namespace) -> int:
    from . import training

    result = training.run(args.steps, args.samples, args.seed, args.out, overwrite=args.force)
    print(f"final loss {result.final_loss:.4f}, accuracy {result.final_accuracy:.0%}")
    print(f"saved the loss curve and the decision boundary to {result.plot}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
