"""The memory a command and every process it starts hold together, at its peak, and the CPU time they
use (Linux's /proc).

Memory is counted as PSS (proportional set size): a page shared by several
processes (the libraries of PyTorch, mapped by the grader, nbval and the
kernel alike) counts once in all, split between them, so the sum over the
processes is what they need together, as a container's limit sees it. CPU time
counts what the processes did, whatever else the machine was doing meanwhile.
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


def cpu_s(pid):
    """The CPU time (user and system) a process has used so far, in seconds; 0 for one that has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def watch(child, limit_s=None):
    """Wait for the Popen child, sampling its tree; returns (peak summed PSS in MB, seconds, CPU seconds summed
    over the tree: each process's at its last sample, so that one that ends between two samples loses at most
    SAMPLE_S).

    limit_s: kill the child after this many seconds (None: no limit)
    """
    start, peak, used = time.monotonic(), 0.0, {}
    while child.poll() is None:
        tree = descendants(child.pid)
        peak = max(peak, sum(pss_mb(pid) for pid in tree))
        used.update({pid: max(used.get(pid, 0.0), cpu_s(pid)) for pid in tree})
        if limit_s is not None and time.monotonic() - start > limit_s:
            for pid in descendants(child.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(SAMPLE_S)
    return peak, time.monotonic() - start, sum(used.values())
