"""Fixtures shared by the tests of what happens when writing fails."""
import subprocess

import pytest


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
