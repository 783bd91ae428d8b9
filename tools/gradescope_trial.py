"""Try the Gradescope autograder as Gradescope runs it, on a bare system, and measure it.

    sudo python -m tools.gradescope_trial WORK_DIR [--memory-mb 768] [--cpus 0.5] [--reuse-root]

Needs root, debootstrap and Linux cgroups (tried with cgroup v1; v2 is written but untried). It

1. builds a fresh minimal Debian root in WORK_DIR/root (debootstrap's minbase with only
   python3, pip and CA certificates), the closest stand-in for Gradescope's base image
   that a machine without Docker has; --reuse-root keeps one built before;
2. unpacks the autograder zip (instructor/gradescope.py make) into /autograder/source there
   and runs setup.sh as root, as Gradescope does when it builds the image;
3. grades four submissions with run_autograder, each in a cgroup with Gradescope's
   default limits (768 MB of memory, half a CPU; --memory-mb and --cpus change them) and
   its 10-minute limit: the solution, a planted mistake, the solution with a cell that
   fails if it can read the grader's files (it scores full points only when the student's
   code runs isolated, as vae-student) and a notebook that is not JSON;
4. prints, for each, the score, the time, and the peak memory: summed over the
   grading's processes (PSS, sampled every 0.05 s) and as the cgroup counts it.

The host's pip configuration, certificates and PIP_* variables are copied in so that pip
reaches the same registry; the MNIST files of $MNIST_ROOT are put where setup.sh would
download them, since this machine may have no internet. Nothing here runs in the test
suite: it takes several minutes and a few GB of disk.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from instructor.gradescope import make
from tools.memory import watch

ROOT = Path(__file__).resolve().parents[1]

GRADESCOPE_LIMIT_S = 600
PIP_CONFIGS = ("/etc/pip.conf", "/etc/xdg/pip", "/root/.config/pip", "/root/.pip")
MOUNTS = ("proc", "sys", "dev")
MISTAKE = ("torch.meshgrid(ticks.flip(0), ticks,", "torch.meshgrid(ticks, ticks,")  # the lattice upside down
# Code of the student's that fails (and costs log_prior and the parts after it) where it can read the
# grader's files: the snooping submission gets every point only if the student's code runs isolated.
SNOOP = """for secret in ("/autograder/source/A3_VAE.ipynb", "/autograder/source/instructor/judge.py"):
    try:
        open(secret).close()
        raise RuntimeError(f"the grader's {secret} is readable by the student's code")
    except PermissionError:
        pass
"""


def sh(*command, **kwargs):
    print("+", " ".join(map(str, command)), flush=True)
    return subprocess.run(list(map(str, command)), check=True, **kwargs)


def build_root(root):
    """A fresh minimal Debian with python3 and pip, the host's pip settings and certificates."""
    sh("debootstrap", "--variant=minbase", "--include=python3,python3-pip,ca-certificates",
       "bookworm", root, "http://deb.debian.org/debian")
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    certificates = Path("/etc/ssl/certs/ca-certificates.crt")
    if certificates.is_file():
        shutil.copy(certificates, root / "etc/ssl/certs/ca-certificates.crt")
    for config in map(Path, PIP_CONFIGS):
        if config.exists():
            target = root / config.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if config.is_dir() else shutil.copy)(config, target)


def mounted(root, wheels):
    """Bind-mount /proc, /sys, /dev (and the host's local wheels, which pip's settings may name) into root."""
    points = [(Path("/") / name, root / name) for name in MOUNTS]
    if wheels.is_dir():
        points.append((wheels, root / wheels.relative_to("/")))
    for source, target in points:
        target.mkdir(parents=True, exist_ok=True)
        sh("mount", "--bind", source, target)
    return [target for _, target in points]


def chroot(root, command, env, limits=None):
    """Run command (a list) in root as root; in a cgroup with limits (memory bytes, cpus) if given."""
    preexec = (lambda: limits.join(os.getpid())) if limits else None
    return subprocess.Popen(["chroot", str(root), *command], env=env, preexec_fn=preexec)


class Cgroup:
    """A cgroup (v1 or v2) with a memory limit and a CPU quota; peak() is the memory it saw at most."""

    def __init__(self, name, memory_bytes, cpus):
        self.v2 = Path("/sys/fs/cgroup/cgroup.controllers").is_file()
        period = 100_000
        if self.v2:
            self.dirs = [Path("/sys/fs/cgroup") / name]
            self.dirs[0].mkdir()
            (self.dirs[0] / "memory.max").write_text(str(memory_bytes))
            (self.dirs[0] / "memory.swap.max").write_text("0")
            (self.dirs[0] / "cpu.max").write_text(f"{int(cpus * period)} {period}")
        else:
            memory, cpu = Path("/sys/fs/cgroup/memory") / name, Path("/sys/fs/cgroup/cpu") / name
            self.dirs = [memory, cpu]
            for folder in self.dirs:
                folder.mkdir()
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            (cpu / "cpu.cfs_period_us").write_text(str(period))
            (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))

    def join(self, pid):
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(pid))

    def peak(self):
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        peak_file = self.dirs[0] / name
        return int(peak_file.read_text()) if peak_file.is_file() else None

    def oom_kills(self):
        events = self.dirs[0] / ("memory.events" if self.v2 else "memory.oom_control")
        for line in events.read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return None

    def remove(self):
        for folder in self.dirs:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def grade_one(root, name, files, env, memory_bytes, cpus):
    """Grade the files {name in the submission: bytes} with run_autograder; returns a row of measurements."""
    autograder = root / "autograder"
    for folder in ("submission", "results"):
        shutil.rmtree(autograder / folder, ignore_errors=True)
        (autograder / folder).mkdir()
    for file_name, content in files.items():
        (autograder / "submission" / file_name).write_bytes(content)
    limits = Cgroup(f"vae-trial-{os.getpid()}-{name}", memory_bytes, cpus)
    try:
        child = chroot(root, ["/autograder/run_autograder"], env, limits)
        peak_pss, seconds, _ = watch(child, GRADESCOPE_LIMIT_S)
        cgroup_peak, oom_kills = limits.peak(), limits.oom_kills()
    finally:
        limits.remove()
    results_file = autograder / "results" / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else None
    return {"submission": name, "exit code": child.returncode, "seconds": round(seconds, 1),
            "peak PSS MB": round(peak_pss), "cgroup peak MB": cgroup_peak and round(cgroup_peak / 2 ** 20),
            "OOM kills": oom_kills, "score": results and results["score"],
            "max score": results and sum(test["max_score"] for test in results["tests"]),
            "output": results and results["output"].splitlines()[0]}


def edited(solution, old, new):
    """The solution notebook (JSON text) with old replaced by new in the code cell that holds it."""
    notebook = json.loads(solution)
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and old in source:
            cell["source"] = source.replace(old, new)
    return json.dumps(notebook).encode()


def submissions():
    """{name: {file: bytes}}: the solution, a planted mistake, one that snoops, a broken notebook."""
    solution = (ROOT / "A3_VAE.ipynb").read_text()
    helpers = (ROOT / "helpers.py").read_bytes()
    return {"solution": {"A3_VAE.ipynb": solution.encode(), "helpers.py": helpers},
            "mistake": {"A3_VAE.ipynb": edited(solution, *MISTAKE), "helpers.py": helpers},
            "snoop": {"A3_VAE.ipynb": edited(solution, "def log_prior(z):", SNOOP + "\n\ndef log_prior(z):"),
                      "helpers.py": helpers},
            "broken": {"A3_VAE.ipynb": b"{ this is not JSON", "helpers.py": helpers}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--memory-mb", type=int, default=768, help="the memory limit (Gradescope's default 768)")
    parser.add_argument("--cpus", type=float, default=0.5, help="the CPU quota (Gradescope's default 0.5)")
    parser.add_argument("--reuse-root", action="store_true", help="keep WORK_DIR/root if it was built before")
    parser.add_argument("--skip-setup", action="store_true", help="setup.sh ran in WORK_DIR/root already")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # so that a kill still unmounts what was mounted
    if os.geteuid() != 0:
        parser.exit(2, f"{parser.prog}: error: needs root (debootstrap, chroot, mount and cgroups)\n")
    mnist = Path(os.environ.get("MNIST_ROOT", ROOT / "data")) / "MNIST" / "raw"
    root = args.work_dir.resolve() / "root"
    if not (args.reuse_root and (root / "usr" / "bin" / "python3").exists()):
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        build_root(root)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
           "LANG": "C.UTF-8", **{k: v for k, v in os.environ.items() if k.startswith("PIP_")}}
    targets = mounted(root, Path("/opt/wheels"))
    rows = []
    try:
        if not args.skip_setup:
            shutil.rmtree(root / "autograder", ignore_errors=True)
            with tempfile.TemporaryDirectory() as scratch:
                make(Path(scratch) / "autograder.zip")
                with zipfile.ZipFile(Path(scratch) / "autograder.zip") as bundle:
                    bundle.extractall(root / "autograder" / "source")
            shutil.copy(root / "autograder/source/run_autograder", root / "autograder/run_autograder")
            (root / "autograder/run_autograder").chmod(0o755)
            if mnist.is_dir():  # where setup.sh would download it
                shutil.copytree(mnist, root / "autograder/data/MNIST/raw")
            start = time.monotonic()
            setup = subprocess.run(["chroot", str(root), "bash", "-c", "cd /autograder/source && bash setup.sh"],
                                   env=env)
            size = subprocess.run(["du", "-sm", str(root / "autograder" / "venv")], capture_output=True,
                                  text=True).stdout.split()[0]
            print(f"setup.sh: exit code {setup.returncode} in {time.monotonic() - start:.0f} s; "
                  f"the environment holds {size} MB", flush=True)
            if setup.returncode:
                return 1
        for name, files in submissions().items():
            rows.append(grade_one(root, name, files, env, args.memory_mb * 2 ** 20, args.cpus))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        for target in reversed(targets):
            subprocess.run(["umount", "-l", str(target)])
    print(f"\nlimits: {args.memory_mb} MB, {args.cpus:g} CPU")
    for row in rows:
        print(f"{row['submission']:10s} score {row['score']} of {row['max score']} in {row['seconds']} s; "
              f"peak {row['peak PSS MB']} MB (PSS summed), {row['cgroup peak MB']} MB (cgroup); "
              f"OOM kills {row['OOM kills']}; {row['output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
