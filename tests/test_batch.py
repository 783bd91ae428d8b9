"""Grading a class: the batch gradebook and the Gradescope autograder, end to end.

The batch holds a correct submission saved by Colab and zipped, a planted
mistake, a notebook that is not JSON, a folder without helpers.py and a cell
that kills its kernel; an endless loop is graded in a batch of its own, so
that its time limit is the only one that can run out. Every submission must
get its row with the right status and points, on a machine of any speed: the
other gradings' limit is far above what correct work takes.
"""
import contextlib
import csv
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import nbformat
import pytest

from instructor.sandbox import probe
from instructor.supervision import descendants, kill_tree, process_table
from instructor.make_student import student_notebook

ROOT = Path(__file__).resolve().parents[1]
LATTICE_UPSIDE_DOWN = ("torch.meshgrid(ticks.flip(0), ticks,", "torch.meshgrid(ticks, ticks,")
ENDLESS_LOOP = ("def log_prior(z):", "while True:\n    pass\n\n\ndef log_prior(z):")
FORGOTTEN_LOG_N = ("torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])", "torch.logsumexp(a, dim=dim)")
MAX_POINTS = 34
HAND_POINTS = 6  # the three written answers, 2 points each, which a person grades
GENEROUS_TIMEOUT_S = 1800  # a grading takes well under a minute; only a grading that never ends reaches this
# The limit of the one batch whose only grading never ends. Its size says nothing about speed: such a
# grading is "timed out" under any limit, on any machine, whether the limit runs out while MNIST
# loads or inside the loop, and no other grading shares it. It is short only so the test is.
NEVER_ENDING_LIMIT_S = 20


# Every process the graders start inherits this variable, so that the tests can find any that outlive them.
MARKER = f"GRADING_TEST_{uuid.uuid4().hex}"


def environment(temporary):
    """The graders' environment, with the temporary folder temporary: the tests see what is left in it."""
    temporary.mkdir(exist_ok=True)
    return {**os.environ, "MNIST_ROOT": str(Path(os.environ.get("MNIST_ROOT", "data")).resolve()), MARKER: "1",
            "TMPDIR": str(temporary)}


def marked_processes():
    """The living processes (from /proc) whose environment holds MARKER, and those below them (the sandbox,
    instructor/sandbox.py, gives the student's code an environment of its own): what the graders left behind."""
    marked = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if f"{MARKER}=".encode() in (entry / "environ").read_bytes():
                marked.append(int(entry.name))
        except OSError:
            continue
    table = process_table()
    below = {pid for top in marked for pid in descendants(top, table)}
    return [f"{pid}: " + table[pid][2].replace(b"\0", b" ").decode() for pid in sorted(below)
            if pid in table and table[pid][1] != "Z"]


def assert_nothing_left_behind(temporary):
    """No grading process still runs, and the temporary folder given to environment() is empty."""
    deadline = time.monotonic() + 60  # a killed process takes a moment to go
    while marked_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not marked_processes(), "still running after grading:\n" + "\n".join(marked_processes())
    assert not list(temporary.iterdir()), f"left in the temporary folder: {sorted(temporary.rglob('*'))}"


def submission(folder, edit=None, helpers=True, name="A3_VAE.ipynb"):
    """The solution as a submission in folder, with at most one (old, new) edit of its code."""
    folder.mkdir(parents=True)
    notebook = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    if edit:
        cell = next(c for c in notebook.cells if c.cell_type == "code" and edit[0] in c.source)
        cell.source = cell.source.replace(*edit)
    nbformat.write(notebook, folder / name)
    if helpers:
        shutil.copy(ROOT / "helpers.py", folder)
    return folder


def zipped_colab_copy(folder, archive, edit=None):
    """The solution (with edit) as a student downloads it from Colab: "Copy of A3_VAE.ipynb", nbformat 4.0
    without cell ids, zipped in a folder with helpers.py; folder is removed."""
    submission(folder, edit, name="Copy of A3_VAE.ipynb")
    raw = json.loads((folder / "Copy of A3_VAE.ipynb").read_text())
    raw["nbformat_minor"] = 0
    for number, cell in enumerate(raw["cells"]):
        del cell["id"]
        cell["metadata"] = {"id": f"colab{number:04d}"}
    (folder / "Copy of A3_VAE.ipynb").write_text(json.dumps(raw))
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in folder.iterdir():
            bundle.write(path, f"a3/{path.name}")
    shutil.rmtree(folder)
    return archive


def grade_batch(folder, out, timeout, jobs=2, options=()):
    return subprocess.run([sys.executable, "-m", "instructor.grade_batch", str(folder), "--out", str(out),
                           "--jobs", str(jobs), "--timeout", str(timeout), *options], capture_output=True, text=True,
                          env=environment(folder.parent / "tmp"))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Five students graded in one batch, two at a time; returns (gradebook rows, grades folder, submissions, stdout)."""
    folder = tmp_path_factory.mktemp("class") / "submissions"
    submission(folder / "bob", LATTICE_UPSIDE_DOWN)
    submission(folder / "carol")
    (folder / "carol" / "A3_VAE.ipynb").write_text("{ this is not JSON")
    submission(folder / "dave", helpers=False)
    zipped_colab_copy(folder / "erin", folder / "erin.zip")
    submission(folder / "frank", ("def log_prior(z):", "torch.manual_seed = torch.manual_seed\n"  # flagged
                                                      "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n\n\n"
                                                      "def log_prior(z):"))
    out = folder.parent / "grades"
    run = grade_batch(folder, out, GENEROUS_TIMEOUT_S)
    assert run.returncode == 0, run.stdout + run.stderr
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return rows, out, folder, run.stdout


def total(row):
    return int(next(value for key, value in row.items() if key.startswith("total")))


def test_every_student_gets_a_row_with_the_right_status(batch):
    rows, _, _, _ = batch
    assert {name: row["status"] for name, row in rows.items()} == {
        "bob": "graded", "carol": "unreadable notebook", "dave": "graded", "erin": "graded",
        "frank": "crashed"}


def test_no_kernel_outlives_its_grading_and_no_file_either(batch):
    # The killed kernel (frank's) cannot remove its own files.
    _, _, folder, _ = batch
    assert_nothing_left_behind(folder.parent / "tmp")


def test_points_per_part_and_total(batch):
    rows, out, _, _ = batch
    assert total(rows["erin"]) == MAX_POINTS
    assert rows["bob"]["lattice (5.4) (2)"] == "0" and total(rows["bob"]) == MAX_POINTS - 2
    assert rows["bob"]["elbo and loss (4)"] == "4"
    for name in ("carol", "frank"):
        assert total(rows[name]) == 0, rows[name]
    assert rows["erin"]["written answers given"] == "3"
    # Without helpers.py, the parts of helpers.py score nothing; the networks, which need none of it, score.
    dave = json.loads((out / "results" / "dave.json").read_text())["parts"]
    assert all(part["points"] == 0 and "NotImplementedError" in part["reason"]
               for part in dave if part["name"].startswith("helpers."))
    assert rows["dave"]["decoder (2)"] == "2" and 0 < total(rows["dave"]) < MAX_POINTS


def test_reports_and_notes_say_what_was_graded(batch):
    rows, out, _, _ = batch
    bob = (out / "reports" / "bob.txt").read_text()
    assert "\nFAIL  lattice (5.4) (0 of 2): lattice_image" in bob and "\npass  log_q (1 of 1)\n" in bob
    assert bob.endswith(f"\n\n{MAX_POINTS - 2} of {MAX_POINTS} points, {HAND_POINTS} more by hand\n")
    assert "cannot be read" in (out / "reports" / "carol.txt").read_text()
    assert "no helpers.py in the submission" in (out / "reports" / "dave.txt").read_text()
    assert "no helpers.py in the submission" in rows["dave"]["notes"]
    assert "the kernel died" in (out / "reports" / "frank.txt").read_text()
    assert rows["erin"]["notes"].startswith("unpacked erin.zip; graded erin.zip/a3/Copy of A3_VAE.ipynb")
    assert rows["bob"]["notes"] == ("" if probe() is None else f"not sandboxed: {probe()}")
    assert rows["bob"]["flags"] == ""
    assert json.loads((out / "results" / "erin.json").read_text())["sandbox"] == ("none" if probe() else "bubblewrap")
    assert rows["frank"]["flags"] == ("cell 'log-prior', line 1: changes torch.manual_seed, an attribute of the "
                                      "imported torch")
    assert "flag  cell 'log-prior', line 1: torch.manual_seed = torch.manual_seed" in (
        out / "reports" / "frank.txt").read_text()


def test_the_class_report_counts_how_each_submission_ended(batch):
    rows, out, _, stdout = batch
    report = json.loads((out / "class_report.json").read_text())
    assert report["students"] == 5 and report["statuses"] == {"graded": 3, "unreadable notebook": 1, "crashed": 1}
    assert report["scores"] == {name: total(row) for name, row in rows.items()}
    lattice = next(part for part in report["parts"] if part["part"] == "lattice (5.4)")
    assert (lattice["graded"], lattice["passed"]) == (3, 2)
    assert [d["id"] for d in lattice["diagnoses"]] == ["lattice/upside-down"]
    assert any(problem.startswith("carol: not compared for similar work") for problem in report["problems"])
    assert "class report: " in stdout and (out / "class_report.html").is_file()


def test_an_endless_loop_is_stopped_by_its_time_limit_with_its_kernel(tmp_path):
    # The only grading of its batch (see NEVER_ENDING_LIMIT_S). Killing the grader must stop the
    # kernel too, although jupyter_client starts every kernel in a session of its own.
    folder = tmp_path / "submissions"
    submission(folder / "aaron", ENDLESS_LOOP)
    run = grade_batch(folder, tmp_path / "grades", NEVER_ENDING_LIMIT_S, jobs=1)
    assert run.returncode == 0, run.stdout + run.stderr
    with open(tmp_path / "grades" / "gradebook.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["status"] == "timed out" and total(row) == 0
    assert f"longer than {NEVER_ENDING_LIMIT_S} s" in (tmp_path / "grades" / "reports" / "aaron.txt").read_text()
    assert_nothing_left_behind(tmp_path / "tmp")


def test_a_rerun_grades_only_what_is_new(batch):
    _, out, folder, _ = batch
    (folder / "grace").mkdir()
    (folder / "grace" / "helpers.py").write_text("")  # and no notebook
    graded_before = (out / "results" / "bob.json").stat().st_mtime_ns
    run = grade_batch(folder, out, GENEROUS_TIMEOUT_S)
    assert run.returncode == 0, run.stderr
    assert "6 students, 5 graded already, 1 to grade" in run.stdout
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert len(rows) == 6 and rows["grace"]["status"] == "missing file"
    assert (out / "results" / "bob.json").stat().st_mtime_ns == graded_before, "bob is not graded again"
    assert rows["bob"]["status"] == "graded" and total(rows["bob"]) == MAX_POINTS - 2
    report = json.loads((out / "class_report.json").read_text())  # over every result, the earlier ones too
    assert report["students"] == 6 and report["statuses"]["missing file"] == 1 and report["statuses"]["graded"] == 3


def written(out):
    """{result file below out/results, history included: its time of writing}."""
    return {str(path.relative_to(out / "results")): path.stat().st_mtime_ns for path in (out / "results").rglob("*.json")}


def test_a_changed_submission_is_regraded_and_its_old_result_kept(batch):
    _, out, folder, _ = batch
    shutil.rmtree(folder / "bob")
    submission(folder / "bob")  # bob hands in again, the lattice mended
    # erin's result as results from before digests were recorded have it: compared with nothing, it is kept.
    erin = json.loads((out / "results" / "erin.json").read_text())
    del erin["provenance"]
    (out / "results" / "erin.json").write_text(json.dumps(erin))
    old_bob = json.loads((out / "results" / "bob.json").read_text())
    before = written(out)
    run = grade_batch(folder, out, GENEROUS_TIMEOUT_S)
    assert run.returncode == 0, run.stderr
    assert (f"regrading bob: the submission changed since its grading at {old_bob['provenance']['graded_at']}\n"
            in run.stdout), run.stdout
    assert "results graded before digests were recorded, kept as they are: 1 (" in run.stdout
    after = written(out)
    (kept,) = [name for name in after if name.startswith("history/")]
    assert re.fullmatch(r"history/bob\.\d{8}T\d{6}Z\.json", kept)
    assert json.loads((out / "results" / kept).read_text()) == old_bob
    assert {name for name in before if name not in after or after[name] != before[name]} == {"bob.json"}
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert total(rows["bob"]) == MAX_POINTS and total(rows["erin"]) == MAX_POINTS
    assert json.loads((out / "results" / "bob.json").read_text())["provenance"]["submission_digest"] != (
        old_bob["provenance"]["submission_digest"])


def test_only_regrades_exactly_the_students_named(batch):
    _, out, folder, _ = batch
    (folder / "hal").mkdir()  # new, and not named: not graded
    (folder / "hal" / "A3_VAE.ipynb").write_text("{ not JSON either")
    before = written(out)
    run = grade_batch(folder, out, GENEROUS_TIMEOUT_S, options=["--only", "carol", "--only", "frank"])
    assert run.returncode == 0, run.stderr
    assert "regrading carol: asked for with --only\nregrading frank: asked for with --only\n" in run.stdout
    after = written(out)
    assert {name for name in before if after[name] != before[name]} == {"carol.json", "frank.json"}
    assert {name.split(".")[0] for name in set(after) - set(before)} == {"history/carol", "history/frank"}
    assert not (out / "results" / "hal.json").exists()
    with open(out / "gradebook.csv", newline="") as f:
        assert "hal" not in {row["student"] for row in csv.DictReader(f)}
    misspelt = grade_batch(folder, out, GENEROUS_TIMEOUT_S, options=["--only", "bbo"])
    assert misspelt.returncode == 2 and "--only: no student 'bbo' (did you mean bob?)" in misspelt.stderr
    nobody = grade_batch(folder, out, GENEROUS_TIMEOUT_S, options=["--only", "zed"])
    assert nobody.returncode == 2 and "whose students are bob, carol, dave, erin, frank" in nobody.stderr
    assert written(out) == after


@contextlib.contextmanager
def started_in_a_terminal(command, temporary):
    """Popen command as a terminal runs a command in the foreground, where Ctrl-C stops it.

    A shell without job control (a script, a CI runner's) starts a background job (cmd &) with
    SIGINT ignored, and every process started from it inherits that, so a grader started from
    such a test run would never see the Ctrl-C that the test sends: the grader's SIGINT is set
    back to the default. On the way out, whatever still runs (a grader that did not stop, with its kernel) is
    killed, so that it cannot count as a kernel of the next test.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=environment(temporary),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        yield process
    finally:
        if process.poll() is None:
            kill_tree(process.pid)
            process.communicate()


def wait_for_kernels(n, seconds=600):
    deadline = time.monotonic() + seconds
    while sum("ipykernel" in p for p in marked_processes()) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sum("ipykernel" in p for p in marked_processes()) == n, f"{n} grading kernel(s) running"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])  # Ctrl-C; kill, timeout or a job scheduler
def test_a_stopped_grading_stops_its_kernel_and_leaves_no_file(tmp_path, stop):
    with started_in_a_terminal([sys.executable, "-m", "instructor.grade",
                                str(submission(tmp_path / "ann", ENDLESS_LOOP))], tmp_path / "tmp") as grading:
        wait_for_kernels(1)
        grading.send_signal(stop)
        _, err = grading.communicate(timeout=300)
    assert grading.returncode == 130 and "interrupted; nothing was graded" in err, err
    assert_nothing_left_behind(tmp_path / "tmp")


def test_ctrl_c_stops_the_gradings_under_way_and_keeps_no_half_result(tmp_path):
    folder = tmp_path / "submissions"
    for name in ("ann", "ben"):
        submission(folder / name, ENDLESS_LOOP)
    out = tmp_path / "grades"
    with started_in_a_terminal([sys.executable, "-m", "instructor.grade_batch", str(folder), "--out", str(out),
                                "--jobs", "2", "--timeout", str(GENEROUS_TIMEOUT_S)], tmp_path / "tmp") as batch:
        wait_for_kernels(2)
        interrupted = time.monotonic()
        batch.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends to the batch
        _, err = batch.communicate(timeout=600)
    # Its gradings never end, and their limit is GENEROUS_TIMEOUT_S: stopping takes a second or two.
    assert time.monotonic() - interrupted < 300, "the batch stops at once, not when its gradings end"
    assert batch.returncode == 130 and "stopped: 0 of 2 graded in this run are kept" in err, err
    assert_nothing_left_behind(tmp_path / "tmp")
    assert not list(out.glob("results/*.json")), "an interrupted grading leaves no result, so a rerun grades it"


# --------------------------------------------------------------------------
# Gradescope
# --------------------------------------------------------------------------

def autograder_root(tmp_path, autograder_zip):
    """A folder laid out like Gradescope's /autograder, with the zip unpacked into source/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as bundle:
        bundle.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "results").mkdir()
    return root


def run_autograder(root):
    env = {**environment(root.parent / "tmp"), "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable,
           "AUTOGRADER_TIMEOUT": str(GENEROUS_TIMEOUT_S),
           # The student's code runs as the test runner: another user may not reach this Python (its
           # home can be private); tools/gradescope_trial.py runs it as vae-student on a bare system.
           "AUTOGRADER_USER": ""}
    run = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert_nothing_left_behind(root.parent / "tmp")
    results = json.loads((root / "results" / "results.json").read_text())
    # The seed replays the grading: staff find it in the output Gradescope shows them alone, never in results.json.
    seed = json.loads(run.stdout.split("provenance, for staff: ", 1)[1].splitlines()[0])["seed"]
    assert results["stdout_visibility"] == "hidden" and str(seed) not in json.dumps(results)
    return results


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    run = subprocess.run([sys.executable, "-m", "instructor.gradescope", "make", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def test_the_zip_has_gradescope_s_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as bundle:
        names = bundle.namelist()
        assert {"setup.sh", "run_autograder"} <= set(names)
        mode = bundle.getinfo("run_autograder").external_attr >> 16
        assert stat.S_ISREG(mode) and mode & stat.S_IXUSR
        assert {"instructor/grade.py", "instructor/judge.py", "instructor/grading_probe.py", "A3_VAE.ipynb"} <= set(names)
        assert bundle.read("setup.sh").startswith(b"#!")


def check_results_json(results):
    """Field by field against Gradescope's specification of results.json."""
    assert set(results) >= {"score", "execution_time", "tests"}
    assert isinstance(results["score"], (int, float)) and isinstance(results["execution_time"], (int, float))
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output"}
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"]
        assert test.get("visibility", "visible") in ("hidden", "after_due_date", "after_published", "visible")
    assert results["score"] == sum(test["score"] for test in results["tests"])
    assert sum(test["max_score"] for test in results["tests"]) == MAX_POINTS


def test_gradescope_scores_each_part_and_names_a_planted_mistake(tmp_path, autograder_zip):
    """The handout with helpers.py done (one function wrong) and the notebook not started, saved by
    Colab and zipped: each part scores on its own (and the cells that raise make it quick)."""
    root = autograder_root(tmp_path, autograder_zip)
    (root / "submission").mkdir()
    work = tmp_path / "my work"
    work.mkdir()
    notebook = json.loads(nbformat.writes(student_notebook(nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4))))
    notebook["nbformat_minor"] = 0
    for cell in notebook["cells"]:
        del cell["id"]
    # A spoof too: the notebook's checks replaced by what they print when they pass. It earns nothing.
    spoof = "from vaekit import checks\nchecks.check_decoder = lambda *args: print('outputs are logits W2 tanh(W1 z + b1) + b2: ok')"
    notebook["cells"].insert(3, nbformat.v4.new_code_cell(spoof))
    del notebook["cells"][3]["id"]
    (work / "Copy of A3_VAE.ipynb").write_text(json.dumps(notebook))
    (work / "helpers.py").write_text((ROOT / "helpers.py").read_text().replace(*FORGOTTEN_LOG_N))
    with zipfile.ZipFile(root / "submission" / "work.zip", "w") as bundle:
        for path in work.iterdir():
            bundle.write(path, f"a3/{path.name}")
    results = run_autograder(root)
    check_results_json(results)
    scores = {test["name"]: (test["score"], test["max_score"], test["output"]) for test in results["tests"]}
    for name, (score, max_score, output) in scores.items():
        if max_score == 0:  # the flags, checked below
            continue
        if name == "helpers.log_mean_exp":
            assert score == 0 and "log_mean_exp(a, dim=1): expected" in output, output
        elif name.startswith("helpers."):
            assert score == max_score and output == "passed", (name, output)
        else:  # the notebook's own parts, still stubs: they raise, or what they define is missing
            assert score == 0 and ("NotImplementedError" in output or "is not defined" in output), (name, output)
    helpers_points = sum(max_score for name, (_, max_score, _) in scores.items()
                         if name.startswith("helpers.") and name != "helpers.log_mean_exp")
    assert results["score"] == helpers_points > 0 and "written answers are graded by hand" in results["output"]
    assert "graded work.zip/a3/Copy of A3_VAE.ipynb" in results["output"], results["output"]
    flagged = next(test for test in results["tests"] if test["max_score"] == 0)
    assert flagged["visibility"] == "hidden" and "checks.check_decoder = " in flagged["output"], flagged


def test_gradescope_refuses_to_run_the_students_code_as_a_user_that_does_not_exist(tmp_path, autograder_zip):
    root = autograder_root(tmp_path, autograder_zip)
    submission(root / "submission")
    run = subprocess.run([sys.executable, "-m", "instructor.gradescope", "run", "--root", str(root),
                          "--as-user", "no-such-user-vae"], cwd=root / "source", capture_output=True, text=True,
                         env=environment(tmp_path / "tmp"))
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    check_results_json(results)
    assert results["score"] == 0 and "the user no-such-user-vae does not exist" in results["output"]


def test_gradescope_says_when_it_cannot_tell_which_notebook(tmp_path, autograder_zip):
    root = autograder_root(tmp_path, autograder_zip)
    submission(root / "submission")
    shutil.copy(root / "submission" / "A3_VAE.ipynb", root / "submission" / "A3_VAE (1).ipynb")
    results = run_autograder(root)
    check_results_json(results)
    assert results["score"] == 0 and "several notebooks" in results["output"]
    assert "A3_VAE (1).ipynb, A3_VAE.ipynb" in results["output"]
