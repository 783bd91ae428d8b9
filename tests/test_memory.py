"""The benchmark's memory and CPU measurements sum a whole process tree, and its time limit stops the tree."""
import subprocess
import sys
import time

from tools.memory import watch
from instructor.supervision import descendants

HOLD = ("import time; block = bytearray({mb} * 2 ** 20); block[::4096] = b'x' * len(block[::4096]); "
        "time.sleep({seconds})")


def test_the_peak_counts_the_memory_of_a_grandchild():
    # The parent only waits; the grandchild touches every page of 300 MB, which is then resident.
    grandchild = [sys.executable, "-c", HOLD.format(mb=300, seconds=2)]
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess; subprocess.run({grandchild!r})"])
    peak_mb, seconds, _ = watch(parent)
    assert parent.returncode == 0
    assert 300 <= peak_mb < 300 + 200, peak_mb  # 300 MB held, plus two interpreters of some MB each
    assert seconds >= 2


SPIN = "import time\nwhile time.process_time() < {cpu_s}:\n    pass\n"


def test_the_cpu_time_counts_a_grandchild_s():
    # The grandchild spins for 1 s of its own CPU time, then the parent, which waited, for 1 s of its own.
    grandchild = [sys.executable, "-c", SPIN.format(cpu_s=1)]
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess; subprocess.run({grandchild!r})\n"
                               + SPIN.format(cpu_s=1)])
    _, _, cpu_s = watch(parent)
    assert parent.returncode == 0
    assert 2 - 0.2 <= cpu_s < 2 + 1, cpu_s  # at most a sample lost at the grandchild's end; plus the startups


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_limit_stops_the_whole_tree():
    grandchild = [sys.executable, "-c", HOLD.format(mb=1, seconds=10 ** 6)]
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess; subprocess.run({grandchild!r})"])
    while len(descendants(parent.pid)) < 2:  # until the grandchild has started
        time.sleep(0.1)
    tree = descendants(parent.pid)
    watch(parent, limit_s=3)
    assert parent.returncode is not None
    time.sleep(1)  # a killed process takes a moment to go
    assert not any(alive(pid) for pid in tree), "the grandchild outlives the limit"
