"""The suite's share of the cores, the student edition the tests read, and fixtures shared by the tests
of what happens when writing fails."""
import os
import subprocess

import pytest

from instructor.make_student import make_student


def pytest_configure(config):
    """With several workers (pytest-xdist's -n), share the cores out between them.

    Each worker, and each kernel or grader it starts, would otherwise run PyTorch with a thread
    per core, and on 2 cores 2 workers' OpenMP threads spend their time waiting for each other:
    the suite took 10.5 minutes instead of 8 with one worker. Set in the controller before the
    workers start, so that they and everything they start inherit it; a value the caller set is kept.
    """
    workers = getattr(config.option, "numprocesses", None)
    if workers and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    """The student edition, written once for a test module by instructor/make_student.py."""
    out = tmp_path_factory.mktemp("edition") / "student"
    make_student(out)
    return out


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB file system of its own (tmpfs), so that a write really runs out of space.

    Mounting needs root, as on CI; elsewhere the tests that use it are skipped and say why.
    """
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small file system here (needs root): {made.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)
