"""`mgkit train`, called in-process with a small budget: it writes a PNG and overwrites only its
own."""

from __future__ import annotations

import pytest
from PIL import Image

from autograder.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL = ["--steps", "2", "--samples", "12"]


def _train(out, *extra: str) -> int:
    return main(["train", *SMALL, "--out", str(out), *extra])


def test_train_writes_a_png_and_replaces_its_own(tmp_path, capsys):
    out = tmp_path / "x.png"
    assert _train(out, "--seed", "1") == 0
    first = out.read_bytes()
    assert first.startswith(PNG_SIGNATURE)
    with Image.open(out) as image:
        assert image.width > 300 and image.height > 200
    printed = capsys.readouterr().out
    assert "final loss" in printed and "accuracy" in printed and str(out) in printed
    assert _train(out, "--seed", "2") == 0  # no --force needed for a picture mgkit made
    assert out.read_bytes() != first


def test_train_refuses_to_overwrite_a_file_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "x.png"
    out.write_text("my notes")
    assert _train(out) == 1
    assert out.read_text() == "my notes"
    error = capsys.readouterr().err.split("\n", 1)[1]  # after the line that names the course
    assert error.count("\n") == 1 and error.startswith("mgkit train: ") and "--force" in error
    assert _train(out, "--force") == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_train_refuses_to_overwrite_a_png_it_did_not_write(tmp_path):
    out = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(out)
    before = out.read_bytes()
    assert _train(out) == 1
    assert out.read_bytes() == before


def test_train_into_a_missing_folder_says_so(tmp_path, capsys):
    assert _train(tmp_path / "no such folder" / "x.png") == 1
    error = capsys.readouterr().err.split("\n", 1)[1]
    assert error.count("\n") == 1 and "is not a folder" in error


@pytest.mark.parametrize("argv", [["train", "--bogus"], ["train", "--steps", "0"],
                                  ["train", "--steps", "many"], ["no-such-command"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage: mgkit" in capsys.readouterr().err
