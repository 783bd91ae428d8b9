"""Figures and grading output: a write that fails says why, keeps what was there, leaves no half file."""
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from vaekit.files import WriteError, save_figure, save_image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def big_figure():
    fig, ax = plt.subplots(figsize=(20, 20))
    ax.imshow(np.random.default_rng(0).random((1000, 1000)))  # noise: does not compress
    return fig


def test_a_figure_is_written_whole(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, tmp_path / "curve.png", dpi=50)
    with Image.open(tmp_path / "curve.png") as image:
        assert image.format == "PNG" and image.size == (320, 240)
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]
    plt.close("all")


def test_a_figure_on_a_full_disk_fails_in_plain_words_and_keeps_the_old_file(small_disk):
    path = small_disk / "figure.png"
    save_image(Image.new("L", (10, 10)), path)
    before = path.read_bytes()
    with pytest.raises(WriteError, match="cannot write the figure to .*figure.png: the disk is full. "
                                         "The file .* still holds its previous contents; free some space"):
        save_figure(big_figure(), path, dpi=100)
    assert path.read_bytes() == before
    assert [p.name for p in small_disk.iterdir()] == ["figure.png"]
    plt.close("all")


def test_a_figure_into_a_read_only_folder_fails_in_plain_words(small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(WriteError, match="read-only file system. Nothing was written"):
        save_image(Image.new("L", (10, 10)), small_disk / "image.png")


def test_a_folder_in_place_of_a_figure_is_reported(tmp_path):
    (tmp_path / "figure.png").mkdir()
    with pytest.raises(WriteError, match="that path is a folder, not a file. Nothing was written"):
        save_image(Image.new("L", (10, 10)), tmp_path / "figure.png")


def test_grading_into_a_read_only_folder_says_so_and_grades_nothing(small_disk, tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    for name in ("A3_VAE.ipynb", "helpers.py"):
        (submission / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    run = subprocess.run([sys.executable, "-m", "instructor.grade", str(submission),
                          "--keep", str(small_disk / "graded")], capture_output=True, text=True,
                         env={**os.environ, "MNIST_ROOT": str(Path(os.environ.get("MNIST_ROOT", "data")).resolve())})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "cannot prepare the grading folder" in run.stderr and "read-only file system" in run.stderr
    assert "Nothing was graded" in run.stderr
