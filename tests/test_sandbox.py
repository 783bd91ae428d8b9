"""The sandbox of local grading (instructor/sandbox.py): hidden submissions that try to get out, each attempt
contained; a correct solution still scores in full; where no sandbox can run, the grader says so or refuses.

The escapes are one cell added to the untouched student edition, graded once (module fixture): it tries each
escape and writes what each gave into escapes.json in its working folder, which --keep keeps. Every path
it tries is one any user of this machine could read, so that only the sandbox can stop it. Without a
working bubblewrap these tests skip and say why; .ci/run installs it.
"""
import ast
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from instructor import sandbox
from instructor.grade import grade_result
from instructor.grade_batch import gradebook
from instructor.lms import Intake, Person
from instructor.result import GradingResult
from instructor.supervision import process_table

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_NOTEBOOK = ROOT / "A3_VAE.ipynb"
needs_bubblewrap = pytest.mark.skipif(sandbox.probe() is not None, reason=f"no sandbox here: {sandbox.probe()}")

ESCAPES = """
import importlib, json, os, socket, subprocess, time, torch
tried = {{}}

def attempt(name, action):
    try:
        tried[name] = f"succeeded: {{action()!r}}"[:300]
    except BaseException as err:
        tried[name] = f"failed: {{type(err).__name__}}: {{err}}"[:300]

def daemon_running():  # the daemon started below, as this kernel sees it
    for _ in range(50):
        if any(b"sleep {seconds}" in open(f"/proc/{{pid}}/cmdline", "rb").read().replace(b"\\0", b" ")
               for pid in os.listdir("/proc") if pid.isdigit()):
            return True
        time.sleep(0.1)
    return False

attempt("own folder", lambda: open("helpers.py").read(10))
attempt("instructor imported from", lambda: importlib.import_module("instructor").__file__)
for path in {reads!r}:
    attempt(f"read {{path}}", lambda: open(path).read(100))
attempt("list the home folder", lambda: os.listdir({home!r}))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5).close())
for path in {writes!r}:
    attempt(f"write {{path}}", lambda: open(path, "w").write("escaped"))
attempt("start a daemon", lambda: subprocess.run(["sh", "-c", "setsid sleep {seconds} >/dev/null 2>&1 &"], check=True))
attempt("daemon running", daemon_running)
attempt("import the judge", lambda: importlib.import_module("instr" + "uctor.judge").bernoulli64)
attempt("memory", lambda: torch.empty({n_bytes}, dtype=torch.uint8).shape)
json.dump(tried, open("escapes.json", "w"), indent=1)
"""


def readable_by_anyone(path):
    """Whether any user of this machine may read path: the file and every folder above it let others in."""
    path = Path(path)
    return bool(path.stat().st_mode & 0o004) and all(folder.stat().st_mode & 0o001 for folder in path.parents)


def living(command_word):
    """The living processes on this machine whose command line holds command_word."""
    return [pid for pid, (_, state, line) in process_table().items()
            if state != "Z" and command_word.encode() in line.replace(b"\0", b" ")]


@pytest.fixture(scope="module")
def escaped(student_dir, tmp_path_factory):
    """The escapes graded in the sandbox; returns (what each attempt gave, the facts they were tried against,
    the result)."""
    if sandbox.probe() is not None:
        pytest.skip(f"no sandbox here: {sandbox.probe()}")
    planted = Path(tempfile.mkdtemp(prefix="vae-planted-", dir="/var/tmp"))  # the sandbox has a /tmp of its own
    (planted / "secret.txt").write_text("the grader's secret")
    os.chmod(planted, 0o755)
    os.chmod(planted / "secret.txt", 0o644)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    token = secrets.token_hex(4)
    facts = {"planted": planted / "secret.txt", "judge": ROOT / "instructor" / "judge.py", "home": Path.home(),
             "in /tmp": Path(f"/tmp/vae-escape-{token}"), "beside the planted file": planted / "escaped.txt",
             "seconds": 86400 + secrets.randbelow(10 ** 6)}
    cell = ESCAPES.format(reads=[str(facts["planted"]), str(facts["judge"])], home=str(facts["home"]),
                          port=listener.getsockname()[1], writes=[str(facts["in /tmp"]),
                                                                 str(facts["beside the planted file"])],
                          seconds=facts["seconds"], n_bytes=2 * sandbox.DATA_BYTES)
    folder = tmp_path_factory.mktemp("escape") / "submission"
    shutil.copytree(student_dir, folder)
    notebook = nbformat.read(folder / "A3_VAE.ipynb", as_version=4)
    setup = next(i for i, c in enumerate(notebook.cells) if c.id == "setup")
    notebook.cells.insert(setup + 1, nbformat.v4.new_code_cell(cell))
    nbformat.write(notebook, folder / "A3_VAE.ipynb")
    kept = folder.parent / "kept"
    try:
        result = grade_result(folder, SOLUTION_NOTEBOOK, keep=kept, sandbox="required")
        try:
            listener.accept()
            facts["connected"] = True
        except BlockingIOError:
            facts["connected"] = False
        facts["left behind"] = living(f"sleep {facts['seconds']}")
        facts["kept"] = kept
        yield json.loads((kept / "escapes.json").read_text()), facts, result
    finally:
        listener.close()
        shutil.rmtree(planted, ignore_errors=True)
        facts["in /tmp"].unlink(missing_ok=True)


def test_the_escaping_cell_ran_in_its_folder_with_the_kernel_s_own_modules(escaped):
    tried, facts, result = escaped
    assert result.status == "graded" and result.sandbox == "bubblewrap", result.report
    assert tried["own folder"].startswith("succeeded"), tried
    # The grader's modules that the kernel needs are the copies in its folder, not the repository's.
    assert tried["instructor imported from"] == f"succeeded: {str(facts['kept'] / 'instructor' / '__init__.py')!r}"


def test_files_outside_the_grading_folder_cannot_be_read(escaped):
    tried, facts, _ = escaped
    for name in ("planted", "judge"):
        assert readable_by_anyone(facts[name]), f"{facts[name]} is not a file any user could read"
        assert tried[f"read {facts[name]}"].startswith("failed: FileNotFoundError"), tried
    # Of the home folder, the sandbox shows at most the way to the Python environment, if that lies in it.
    home, listed = facts["home"].resolve(), tried["list the home folder"]
    visible = ast.literal_eval(listed.split(": ", 1)[1]) if listed.startswith("succeeded") else []
    environment = {Path(prefix).resolve().relative_to(home).parts[0] for prefix in (sys.prefix, sys.base_prefix)
                   if Path(prefix).resolve().is_relative_to(home)}
    assert set(os.listdir(home)) - environment and set(visible) <= environment, listed


def test_the_machine_s_loopback_cannot_be_reached(escaped):
    tried, facts, _ = escaped
    assert tried["connect"].startswith("failed") and not facts["connected"], tried


def test_nothing_is_written_outside_the_grading_folder(escaped):
    tried, facts, _ = escaped
    assert tried[f"write {facts['beside the planted file']}"].startswith("failed"), tried
    assert not facts["beside the planted file"].exists()
    # /tmp is the sandbox's own: the write succeeds there, and the file is gone with the sandbox.
    assert not facts["in /tmp"].exists()


def test_no_process_outlives_the_grading(escaped):
    tried, facts, _ = escaped
    assert tried["daemon running"] == "succeeded: True", tried
    assert facts["left behind"] == []


def test_the_grader_s_module_cannot_be_imported_by_a_computed_name(escaped):
    tried, _, result = escaped
    assert tried["import the judge"].startswith("failed: ModuleNotFoundError"), tried
    assert result.points == 0, result.report


def test_memory_is_limited(escaped):
    tried, _, _ = escaped
    assert tried["memory"].startswith("failed: RuntimeError"), tried


@needs_bubblewrap
def test_a_correct_solution_scores_in_full_in_the_sandbox(tmp_path):
    folder = tmp_path / "solution"
    folder.mkdir()
    shutil.copy(SOLUTION_NOTEBOOK, folder)
    shutil.copy(ROOT / "helpers.py", folder)
    result = grade_result(folder, SOLUTION_NOTEBOOK, sandbox="required")
    assert result.passed and result.points == sum(part.max_points for part in result.parts), "\n".join(result.report)
    assert result.sandbox == "bubblewrap" and not [line for line in result.notes if "sandbox" in line]


@pytest.mark.parametrize("command", ["instructor.grade", "instructor.grade_batch"])
def test_sandbox_required_refuses_where_bubblewrap_cannot_run(student_dir, tmp_path, command):
    (tmp_path / "class").mkdir()
    shutil.copytree(student_dir, tmp_path / "class" / "ann")
    target = tmp_path / "class" / ("ann" if command == "instructor.grade" else "")
    run = subprocess.run([sys.executable, "-m", command, str(target), "--sandbox", "required"], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PATH": str(tmp_path / "no-bwrap-here")})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--sandbox required, but bubblewrap is not installed" in run.stderr and "nothing was graded" in run.stderr
    assert "pass" not in run.stdout and not (tmp_path / "class" / "grades").exists()


def test_a_grading_without_the_sandbox_says_so_in_the_report_and_the_gradebook(student_dir, tmp_path, monkeypatch):
    why = "bubblewrap is not installed (a stand-in for this test)"
    monkeypatch.setattr(sandbox, "probe", lambda: why)
    result = grade_result(student_dir, SOLUTION_NOTEBOOK)
    assert result.status == "graded" and result.sandbox == "none"
    assert f"note  not sandboxed: {why}" in result.report and f"note  not sandboxed: {why}" in result.notes
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "ann.json").write_text(result.to_json())
    gradebook(["ann"], tmp_path, SOLUTION_NOTEBOOK, Intake(folder=student_dir, paths={"ann": student_dir},
                                                           people={"ann": Person(id="ann")}))
    assert f"not sandboxed: {why}" in (tmp_path / "gradebook.csv").read_text()


def test_a_result_from_before_the_sandbox_reads_as_not_sandboxed():
    old = {"status": "graded", "passed": True, "parts": [], "flags": [], "notes": [], "report": [], "answers": []}
    assert GradingResult.from_json(json.dumps(old)).sandbox == "none"
