"""Supervising the processes of a grading: the notebook's run and its kernel, a grading in a process
of its own, the student's user; Linux's /proc tells who is whose child and in what state.

A grading starts processes that do not stop by themselves when their parent does: jupyter_client
starts each kernel in a session of its own, a student's cell may loop forever, kill its kernel or
leave a daemon behind. Everything here ends such processes, and says so, rather than wait on them.
"""
import os
import pwd
import signal
import subprocess
import threading
import time
from pathlib import Path

KERNEL_GONE_S = 15  # nbval ends within this once it has shut its kernel down
UNREAPED_S = 3  # nbval reaps the kernel it shuts down within a tenth of a second; a zombie for this long died

def process_table():
    """{pid: (parent pid, state, command line)} of every process, read from /proc (empty where there is none)."""
    table = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            table[int(entry.name)] = (int(parent), state, (entry / "cmdline").read_bytes())
        except (OSError, ValueError):
            continue
    return table


def descendants(pid, table=None):
    """[pid, then every process below it], from table (default: process_table() now)."""
    table = process_table() if table is None else table
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, (parent, _, _) in table.items() if parent in frontier]
        tree += frontier
    return tree


def kill_processes_of(uid):
    """SIGKILL every living process of the user uid, until none is left.

    A killed process stays a zombie (state Z) until its parent reaps it: that one is no longer running.
    """
    for _ in range(100):
        left = [pid for pid, (_, state, _) in process_table().items()
                if state != "Z" and owner(pid) == uid]
        if not left:
            return
        for pid in left:
            signal_quietly(pid, signal.SIGKILL)
        time.sleep(0.05)


def owner(pid):
    """The real user id a process runs as, or None once it has gone.

    Read from its status, not from the owner of its /proc folder: a process that makes itself
    undumpable has that folder owned by root.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def hand_over(scratch, work, user):
    """Give the user the grading folder and the kernel's temporary folder (its home, too), nothing else.

    The folders above scratch must let the user pass (grade.grade_isolated's does, and /tmp).
    """
    entry = pwd.getpwnam(user)
    for folder in (scratch, *([] if work.is_relative_to(scratch) else [work])):
        for path in (folder, *folder.rglob("*")):
            os.chown(path, entry.pw_uid, entry.pw_gid)


class Run:
    """What run_watching_the_kernel saw: the exit code, the output, and whether the kernel died."""

    def __init__(self, returncode, stdout, stderr, kernel_died):
        self.returncode, self.stdout, self.stderr, self.kernel_died = returncode, stdout, stderr, kernel_died


def child_pids(table, pid, command_word):
    """The living processes in table (process_table()) whose parent is pid and whose command line
    holds command_word.

    A killed child stays a zombie (state Z) until its parent reaps it: that is not living.
    """
    return [child for child, (parent, state, command) in table.items()
            if parent == pid and state != "Z" and command_word.encode() in command]


def kill_tree(pid):
    """SIGKILL the process pid, its process group and every process descended from it.

    Killing the grader's process group is not enough: jupyter_client starts each
    kernel in a session of its own, and a kernel stuck in an endless loop would
    spin on after its grader is gone. The whole tree is stopped first (SIGSTOP),
    so that nothing in it can start a process that escapes, then killed. Where
    there is no /proc, only the process group is killed.
    """
    stopped = set()
    while True:
        tree = set(descendants(pid))
        for member in tree - stopped:
            signal_quietly(member, signal.SIGSTOP)
        if tree <= stopped:
            break
        stopped |= tree
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for member in stopped:
        signal_quietly(member, signal.SIGKILL)


def signal_quietly(pid, signum):
    """os.kill, where a process that has already gone is no error."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def run_watching_the_kernel(command, cwd, env, user=None, wrapper=()):
    """Run nbval (command), as user if given, within wrapper if given (a command line that runs command:
    the sandbox, instructor/sandbox.py); if its kernel exits while nbval still runs, stop it and say so.

    nbval does not notice a dead kernel: it waits for the cell's timeout and then
    skips the rest. Watching the kernel's process (Linux's /proc) tells sooner.
    When nbval shuts its kernel down, jupyter_client waits for the exit and so
    reaps the process at once; a kernel that exits by itself (killed, out of
    memory, os._exit in a cell) stays a zombie, unreaped, while nbval waits on
    its cell: one unreaped for UNREAPED_S has died. A kernel gone altogether
    while nbval still runs KERNEL_GONE_S later counts as died too.
    """
    child = subprocess.Popen([*wrapper, *command], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True,
                             **({"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []} if user else {}))
    outputs = {}

    def collect(name, stream):
        outputs[name] = stream.read()

    readers = [threading.Thread(target=collect, args=(name, stream), daemon=True)
               for name, stream in (("stdout", child.stdout), ("stderr", child.stderr))]
    for reader in readers:
        reader.start()
    own_line = b"".join(os.fsencode(word) + b"\0" for word in command)  # nbval's, below the wrapper's
    kernels, unreaped_since, gone_since, died = set(), None, None, False
    try:
        while child.poll() is None:
            table = process_table()
            nbval = next((pid for pid in descendants(child.pid, table) if table.get(pid, ())[2:] == (own_line,)),
                         None)
            kernels |= set(child_pids(table, nbval, "ipykernel"))
            now = time.monotonic()
            unreaped = any(table.get(kernel, ())[:2] == (nbval, "Z") for kernel in kernels)
            unreaped_since = (unreaped_since or now) if unreaped else None  # a shutdown's is reaped at once
            if any(kernel not in table for kernel in kernels):  # reaped: nbval shut it down, or it died
                gone_since = gone_since or now
            if (unreaped_since and now - unreaped_since > UNREAPED_S
                    or gone_since and now - gone_since > KERNEL_GONE_S):  # nbval did not finish: it died
                died = True
                break
            time.sleep(0.5)
    finally:  # also on Ctrl-C: nbval and its kernel are in sessions of their own and would run on
        if died or child.poll() is None:
            kill_tree(child.pid)
    child.wait()
    for reader in readers:
        reader.join()
    return Run(child.returncode, outputs.get("stdout", ""), outputs.get("stderr", ""), died)


RUNNING = set()  # the pids of the processes run_stoppable is waiting for, in any thread
STOPPING = threading.Event()


class GradingStopped(Exception):
    """stop_gradings() ended this grading before it finished: it has no result."""


def run_stoppable(command, timeout, env, cwd, name):
    """Run command in a session of its own; kill it with everything it started after timeout seconds,
    on Ctrl-C, or when stop_gradings() is called (from any thread).

    returns (exit code, stdout, stderr)
    raises subprocess.TimeoutExpired after timeout, GradingStopped(name) once stop_gradings() has been called
    """
    if STOPPING.is_set():
        raise GradingStopped(name)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             cwd=cwd, start_new_session=True)
    RUNNING.add(child.pid)
    if STOPPING.is_set():  # stop_gradings() ran while this one started
        kill_tree(child.pid)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(child.pid)
        child.communicate()
        raise
    except BaseException:  # Ctrl-C: the child is in a session of its own and would run on
        kill_tree(child.pid)
        raise
    finally:
        RUNNING.discard(child.pid)
    if STOPPING.is_set():
        raise GradingStopped(name)
    return child.returncode, out, err


def stop_gradings():
    """Kill every process that run_stoppable runs, in any thread; each of those calls raises GradingStopped.

    For Ctrl-C in a batch: the graders run in sessions of their own, so the
    terminal's interrupt does not reach them.
    """
    STOPPING.set()
    for pid in list(RUNNING):
        kill_tree(pid)


def stop_on_sigterm():
    """Make SIGTERM (from kill, timeout or a job scheduler) stop a grading as Ctrl-C does.

    Python's default for SIGTERM is to die on the spot, leaving the notebook's run and its
    kernel (in sessions of their own) running and the grading folder on disk.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
