"""The sandbox the student's code runs in when grading locally: bubblewrap (bwrap), Flatpak's sandbox.

instructor/grade.py runs nbval, and so the student's kernel, inside it. What the sandbox holds:

- the grading's scratch folder (the notebook's folder, its temporary folder and home), writable,
  at the same path as outside;
- read-only: the Python environment (the virtual environment and the interpreter it was made
  from), the system's /usr, MNIST; a /dev of its own and its own /proc;
- an empty /tmp in memory (at most TMP_BYTES).

Nothing else: not this repository (the modules the kernel imports are copied into the grading
folder), not the grader's home, not other users' files. It has a network of its own with only its
own loopback (nbval talks to the kernel there), so the machine's loopback and the internet are out
of reach; a PID namespace of its own, so that every process in it is killed when nbval ends or the
grading is stopped; and the limits LIMITS (prlimit), each per process: memory (RLIMIT_DATA, not the
address space: PyTorch reserves far more address space than it uses), processes of its user
(RLIMIT_NPROC) and the size of a file it writes. The time limits are the grader's own (a cell's, and
a grading's in grade_isolated).

As root, bwrap needs no user namespace; the student's code then runs as an unprivileged user, switched
to inside the sandbox (setpriv), so it cannot read root's files even where their permissions let any
user. As any other user, bwrap needs unprivileged user namespaces, which many Linux distributions
allow (Debian does; Ubuntu's AppArmor may restrict them; Docker containers usually forbid them).
probe() says whether it can run here.
"""
import functools
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

MODES = ("auto", "required", "off")
TMP_BYTES = 256 << 20
# The memory a process may hold, as PrairieLearn's graders (2 GiB), plus what each of PyTorch's threads
# (one per core) reserves besides: RLIMIT_DATA counts reserved memory, not only the memory used.
DATA_BYTES = (2 << 30) + (64 << 20) * (os.cpu_count() or 1)
LIMITS = {"--data": DATA_BYTES, "--nproc": 1024, "--fsize": 1 << 30}
LINKS = ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")  # a merged /usr makes them links into it
# What the kernel may see of the grader's environment; the rest (tokens, keys) stays outside.
ENVIRONMENT = ("PATH", "LANG", "LANGUAGE", "TERM", "HOME", "TMPDIR", "MNIST_ROOT", "PYTHONHASHSEED")
ENVIRONMENT_PREFIXES = ("LC_", "VAE_", "OMP_", "MKL_", "OPENBLAS_")


class SandboxError(RuntimeError):
    """--sandbox required, where bubblewrap cannot run: nothing is graded."""


@functools.cache
def probe():
    """None if bubblewrap can make a sandbox here, else why not (a sentence); tried once per process."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian and Ubuntu: apt install bubblewrap; there is none for macOS)"
    missing = [tool for tool in ("prlimit", *(["setpriv"] if os.geteuid() == 0 else [])) if not shutil.which(tool)]
    if missing:
        return f"util-linux's {' and '.join(missing)} cannot be found"
    try:
        done = subprocess.run(["bwrap", *namespaces(), "--ro-bind", "/", "/", "true"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap did not run ({err})"
    if done.returncode != 0:
        return (f"bubblewrap cannot make a sandbox here ({done.stderr.strip() or f'exit code {done.returncode}'}): "
                "user namespaces are switched off, or this is a container that forbids them")
    return None


def choose(mode):
    """(whether to grade in the sandbox, why not) for the --sandbox mode: "auto", "required" or "off".

    raises ValueError for another mode, SandboxError for "required" where bubblewrap cannot run
    """
    if mode not in MODES:
        raise ValueError(f"sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return False, "--sandbox off"
    why_not = probe()
    if why_not and mode == "required":
        raise SandboxError(f"--sandbox required, but {why_not}; nothing was graded")
    return why_not is None, why_not


def namespaces():
    """bwrap's options for every namespace but the user's when run as root (whose mapping would make the
    user that setpriv switches to unknown inside), else all of them."""
    if os.geteuid() == 0:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    return ["--unshare-all"]


def wrapper(writable, env, user=None):
    """The command line that runs a command (appended to it) in the sandbox, in the first of writable, with
    the limits LIMITS.

    writable: the folders the command may write (the grading folder, the scratch folder), bound at their
              own paths; everything below them is visible
    env:      the environment the command would get: what ENVIRONMENT names passes, the rest stays out
    user:     the unprivileged user to run as, when the grader runs as root; ignored otherwise
    """
    readable = [Path(sys.prefix), Path(sys.base_prefix), Path("/usr"), Path("/etc/ld.so.cache")]
    if env.get("MNIST_ROOT"):
        readable.append(Path(env["MNIST_ROOT"]))
    readable = outermost(path.resolve() for path in readable if path.exists())
    writable = [Path(path).resolve() for path in writable]
    line = ["prlimit", *(f"{option}={value}" for option, value in LIMITS.items()), "--",
            "bwrap", *namespaces(), "--die-with-parent", "--new-session", "--clearenv",
            "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for link in LINKS:
        if os.path.islink(link):
            line += ["--symlink", os.readlink(link), link]
    bound = [("--ro-bind", path) for path in readable] + [("--bind", path) for path in outermost(writable)]
    for folder in folders_above(path for _, path in bound):
        line += ["--perms", "0755", "--dir", str(folder)]
    for option, path in bound:
        line += [option, str(path), str(path)]
    for name, value in env.items():
        if name in ENVIRONMENT or name.startswith(ENVIRONMENT_PREFIXES):
            line += ["--setenv", name, value]
    line += ["--chdir", str(writable[0])]
    if user is not None and os.geteuid() == 0:  # bwrap run by root keeps only these, for setpriv
        entry = pwd.getpwnam(user)
        line += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                 "setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"]
    return line + ["--"]


def outermost(paths):
    """The paths without those inside another of them, sorted."""
    paths = sorted(set(paths))
    return [path for path in paths if not any(path != other and path.is_relative_to(other) for other in paths)]


def folders_above(paths):
    """The folders above paths, outer ones first, but for / and /tmp: the sandbox makes them passable by any
    user (bwrap run by root would make them private to root)."""
    above = {folder for path in paths for folder in path.parents} - {Path("/"), Path("/tmp")}
    return sorted(above, key=lambda folder: len(folder.parts))
