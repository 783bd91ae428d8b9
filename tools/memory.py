"""The memory a command and every process it starts hold together, at its peak (Linux's /proc).

Memory is counted as PSS (proportional set size): a page shared by several
processes (the libraries of PyTorch, mapped by the grader, nbval and the
kernel alike) counts once in all, split between them, so the sum over the
processes is what they need together, as a container's limit sees it.
"""
import contextlib
import os
import signal
import time
from pathlib import Path

from instructor.supervision import descendants

SAMPLE_S = 0.05  # the peak can last a fraction of a second (loading MNIST)


def pss_mb(pid):
    """The PSS of one process in MB (2**20 bytes); 0 for one that has gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def watch(child, limit_s=None):
    """Wait for the Popen child, sampling its tree; returns (peak summed PSS in MB, seconds).

    limit_s: kill the child after this many seconds (None: no limit)
    """
    start, peak = time.monotonic(), 0.0
    while child.poll() is None:
        peak = max(peak, sum(pss_mb(pid) for pid in descendants(child.pid)))
        if limit_s is not None and time.monotonic() - start > limit_s:
            for pid in descendants(child.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(SAMPLE_S)
    return peak, time.monotonic() - start
