"""The student edition and grading: no answer leaks, and mistakes are caught and named.

Grading runs the notebook (2 epochs of training) once per submission, about
20 s each on a 2-core CPU, so this is the slowest file of the suite.
"""
import ast
import hashlib
import importlib.metadata
import os
import platform
import pwd
import re
import shutil
import subprocess
import sys
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from instructor.grade import grade, grade_result
from instructor.layout import is_graded
from instructor.merge import merge
from instructor.make_student import make_student
from instructor.markers import BEGIN, END, MarkerError, strip_solutions
from instructor.result import GradingResult
from instructor.supervision import KERNEL_GONE_S, UNREAPED_S, kill_processes_of, run_watching_the_kernel
from tests.test_batch import HAND_POINTS, MAX_POINTS

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_NOTEBOOK = ROOT / "A3_VAE.ipynb"


def solution_lines(text):
    """The non-blank lines inside solution blocks, stripped."""
    inside, lines = False, []
    for line in text.split("\n"):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def notebook_code(path):
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def submission_from_solution(folder, notebook_edit=None, helpers_edit=None):
    """A submission folder: the solution, with at most one (old, new) replacement
    planted in the notebook's code and one in helpers.py."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    helpers = (ROOT / "helpers.py").read_text()
    if notebook_edit:
        old, new = notebook_edit
        hits = [c for c in notebook.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1 and hits[0].source.count(old) == 1, f"planted edit not found once: {old!r}"
        hits[0].source = hits[0].source.replace(old, new)
    if helpers_edit:
        old, new = helpers_edit
        assert helpers.count(old) == 1, f"planted edit not found once: {old!r}"
        helpers = helpers.replace(old, new)
    nbformat.write(notebook, folder / "A3_VAE.ipynb")
    (folder / "helpers.py").write_text(helpers)
    return folder


def failed_parts(report):
    """The parts of the report's FAIL lines ("FAIL  log_q (0 of 2): why [id]")."""
    return [re.match(r"FAIL  (.+?) \(0 of \d+\):", line).group(1) for line in report if line.startswith("FAIL")]


# --------------------------------------------------------------------------
# The student edition
# --------------------------------------------------------------------------

def test_no_solution_line_survives_in_the_student_edition(student_dir):
    for solution_file, student_file, text_of in (
            (SOLUTION_NOTEBOOK, student_dir / "A3_VAE.ipynb", notebook_code),
            (ROOT / "helpers.py", student_dir / "helpers.py", lambda p: Path(p).read_text())):
        solution_text = text_of(solution_file)
        secret = solution_lines(solution_text)
        assert secret, f"no solution blocks found in {solution_file.name}"
        given = set(line.strip() for line in strip_solutions(solution_text, "solution").split("\n"))
        student_text = text_of(student_file)
        student_lines = {line.strip() for line in student_text.split("\n")}
        # A line such as plt.show() may also be in the given code; any other must be gone.
        leaked = [line for line in secret if line in student_lines and line not in given]
        assert not leaked, f"{student_file.name} still holds {leaked}"
        assert BEGIN not in student_text and "NotImplementedError" in student_text


def test_the_written_answers_are_stubs_in_the_student_edition(student_dir):
    solution = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    student = {c.id: c for c in nbformat.read(student_dir / "A3_VAE.ipynb", as_version=4).cells}
    answers = [c for c in solution.cells if "written-answer" in c.metadata.get("tags", [])]
    assert len(answers) == 3
    for cell in answers:
        assert cell.cell_type == "markdown" and len(solution_lines(cell.source)) > 0
        assert student[cell.id].source.strip() == "YOUR ANSWER HERE"


def test_student_edition_keeps_ids_and_no_outputs(student_dir):
    # A check says "ok" only once it has run: no cell of the handout holds an output, check cells included.
    solution = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    student = nbformat.read(student_dir / "A3_VAE.ipynb", as_version=4)
    assert [c.id for c in student.cells] == [c.id for c in solution.cells]
    code = [cell for cell in student.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert sum("nbval-check-output" in cell.metadata.get("tags", []) for cell in code) > 20
    assert not any((student_dir / d).exists() for d in ("figures", "models"))
    # The one picture handed out is the model's diagram, attached to the introduction.
    assert [list(cell.attachments) for cell in student.cells if cell.get("attachments")] == [["model.png"]]
    assert (student_dir / "vaekit/checks_expected.pt").is_file()


# What the instructors' modules define that answers a TODO: the grader's references, the architecture.
REFERENCE_NAMES = ("bernoulli64", "std_normal64", "gaussian64", "forward64", "network_expected", "elbo64", "adam64",
                   "build_networks", "networks_from_checkpoint")
DENSITIES = ("bernoulli_log_density", "std_normal_log_density", "diag_gaussian_log_density")


def called_in(tree, names):
    """{(name, the function it is called in)} for every call of one of names in a module's syntax tree."""
    calls = set()

    def visit(node, function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            calls.add((node.func.id, function))
        for child in ast.iter_child_nodes(node):
            visit(child, child.name if isinstance(child, ast.FunctionDef) else function)

    visit(tree, "<module>")
    return calls


def test_the_student_edition_holds_no_answer_outside_its_stubs(student_dir):
    # The grader, its references and the architecture stay with the instructors.
    assert not (student_dir / "instructor").exists() and not (student_dir / "tools").exists()
    notebook = nbformat.read(student_dir / "A3_VAE.ipynb", as_version=4)
    sources = {str(p.relative_to(student_dir)): p.read_text() for p in student_dir.rglob("*.py")}
    assert {"helpers.py", "vaekit/checks/__init__.py", "vaekit/evaluation.py"} <= set(sources)
    sources.update({f"cell {c.id!r}": c.source for c in notebook.cells if c.cell_type == "code"})
    for name, text in sources.items():
        assert not [ref for ref in REFERENCE_NAMES if f"def {ref}(" in text], name
        assert "HIDDEN TESTS" not in text and "judge_here" not in text, f"{name} keeps nbgrader's hidden test"
        assert not re.search(r"nn\.(Sequential|Linear|Tanh)\(", text), f"{name} builds a network"
        assert not re.search(r"softplus|logsigmoid|log_softmax|2 \* (math\.)?pi\b", text) or name == "helpers.py", name
        assert not re.search(r"encoder\([^)]*\)\s*(\.chunk|\[)", text), f"{name} splits the encoder's output"
        if name.endswith(".py") and name != "helpers.py":
            # The densities are called only by the checks' runs, each on its own inputs: nothing is composed.
            calls = called_in(ast.parse(text), DENSITIES)
            assert all(function.startswith("run_") for _, function in calls), (name, calls)
    # helpers.py names them only in its rules (its docstring), as allowed: no function of it uses one.
    code = sources["helpers.py"].split('"""', 2)[2]
    assert "logsigmoid" not in code and "softplus" not in code


def test_stub_is_indented_like_its_markers():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    assert strip_solutions(source, "f") == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


@pytest.mark.parametrize("source, words", [
    (f"{BEGIN}\nx = 1\n", "never closed"),
    (f"{BEGIN}\n{BEGIN}\nx = 1\n{END}\n{END}\n", "cannot nest"),
    (f"x = 1\n{END}\n", "without a"),
])
def test_bad_markers_are_refused_and_nothing_is_written(tmp_path, source, words):
    with pytest.raises(MarkerError, match=words):
        strip_solutions(source, "cell 'x'")
    solution = tmp_path / "solution"
    shutil.copytree(ROOT, solution, ignore=shutil.ignore_patterns(".venv", ".git", "data", "models", "figures"))
    (solution / "helpers.py").write_text((ROOT / "helpers.py").read_text() + "\n" + source)
    with pytest.raises(MarkerError, match=words):
        make_student(tmp_path / "out", solution_dir=solution)
    assert not (tmp_path / "out").exists()


def test_make_student_command_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "instructor.make_student", str(tmp_path / "ed")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    again = subprocess.run([sys.executable, "-m", "instructor.make_student", str(tmp_path / "ed")],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "already holds" in again.stderr
    # The handout's checks run from what the handout holds: a correct log_mean_exp passes, a wrong one is named.
    check = ("import math, torch; from vaekit import checks; checks.check_log_mean_exp("
             "lambda a, dim: torch.logsumexp(a, dim) - {}, 'cpu')")
    good = subprocess.run([sys.executable, "-c", check.format("math.log(a.shape[dim])")], cwd=tmp_path / "ed",
                          capture_output=True, text=True)
    assert good.returncode == 0 and "log_mean_exp: (2,), matches log(mean(exp(a)))" in good.stdout, good.stderr
    wrong = subprocess.run([sys.executable, "-c", check.format("0")], cwd=tmp_path / "ed",
                           capture_output=True, text=True)
    assert wrong.returncode == 1 and "AssertionError: log_mean_exp(a, dim=1): expected" in wrong.stderr
    assert ("VAE_EPOCHS=2 VAE_EVAL_IMAGES=200 .venv/bin/python -m pytest --nbval-lax --nbval-current-env A3_VAE.ipynb"
            in (tmp_path / "ed" / "README.md").read_text())


# --------------------------------------------------------------------------
# The merge that grading runs
# --------------------------------------------------------------------------

def test_merge_takes_check_cells_from_the_reference_probes_the_graded_ones_and_drops_saved_outputs():
    reference = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    submission = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    for cell in submission.cells:
        if cell.cell_type == "code":
            cell.source += "\n# edited"
            cell.outputs = [nbformat.v4.new_output("stream", text="forged\n")]
            cell.metadata["tags"] = ["nbval-skip"]
    extra = nbformat.v4.new_code_cell("helper = 1")
    submission.cells.insert(5, extra)
    merged = merge(reference, submission)
    by_id = {c.id: c for c in merged.cells}
    for ref in reference.cells:
        if is_graded(ref):  # graded: the probe runs the student's code and the grader judges
            assert by_id[ref.id].source == f"from instructor import grading_probe\ngrading_probe.report({ref.metadata['part']!r}, globals())"
            assert by_id[ref.id].metadata["tags"] == ["nbval-ignore-output"]
        elif "nbval-check-output" in ref.metadata.get("tags", []):
            assert by_id[ref.id].source == ref.source and by_id[ref.id].outputs == ref.outputs
        elif ref.cell_type == "code":
            assert by_id[ref.id].source.endswith("# edited")
            assert by_id[ref.id].outputs == []
            learner_only = "learner-only" in ref.metadata.get("tags", [])
            assert by_id[ref.id].metadata["tags"] == (["nbval-skip"] if learner_only else [])
    ids = [c.id for c in merged.cells]
    assert ids.index(extra.id) == ids.index(submission.cells[4].id) + 1
    # Section 5 runs on the seed's weights, section 6 on the trained ones again.
    assert ids.index("grading-seed-weights") == ids.index("check-training") + 1
    assert ids.index("grading-trained-weights") == ids.index("check-figures") + 1


# --------------------------------------------------------------------------
# Grading end to end
# --------------------------------------------------------------------------

def test_the_solution_passes_with_another_number_of_threads(tmp_path, monkeypatch):
    # The other gradings run with the suite's threads: one each under -n 2 (see conftest.py), else one per core.
    monkeypatch.setenv("OMP_NUM_THREADS", "2" if os.environ.get("OMP_NUM_THREADS") == "1" else "1")
    # Two threads beside the other worker spun waiting for each other: 200 s instead of 26 s beside a busy
    # process. Waiting passively they don't (and one thread never waits).
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    passed, report = grade(submission_from_solution(tmp_path), SOLUTION_NOTEBOOK)
    assert passed, "\n".join(report)
    # A pass line per part with its points, an info line per check worth none, from the notebook's metadata.
    reference = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    checks = [c for c in reference.cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert [line for line in report if line.startswith(("pass", "info"))] == [
        f"pass  {c.metadata['part']} ({c.metadata['nbgrader']['points']} of {c.metadata['nbgrader']['points']})"
        if c.metadata.get("nbgrader", {}).get("points") else f"info  notebook check {c.id!r}: passed" for c in checks]
    by_hand = [line for line in report if line.startswith("hand")]
    assert len(by_hand) == 3 and all("to be read by a person (answered" in line for line in by_hand), by_hand
    assert not [line for line in report if line.startswith("flag")], "the solution raises no flag"


def test_correct_code_in_other_styles_passes(tmp_path):
    """Networks as module classes with named layers, the ELBO written inline, another training step."""
    folder = submission_from_solution(tmp_path)
    notebook = nbformat.read(folder / "A3_VAE.ipynb", as_version=4)
    for cell_id, old, new in OTHER_STYLES:
        cell = next(c for c in notebook.cells if c.id == cell_id)
        assert cell.source.count(old) == 1, old
        cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, folder / "A3_VAE.ipynb")
    passed, report = grade(folder, SOLUTION_NOTEBOOK)
    assert passed, "\n".join(report)


def test_untouched_student_edition_fails_every_part(student_dir):
    passed, report = grade(student_dir, SOLUTION_NOTEBOOK)
    assert not passed
    parts = [line for line in report if line.startswith(("pass", "FAIL"))]
    assert parts and all(line.startswith("FAIL") for line in parts), "\n".join(report)
    assert sum("(not answered)" in line for line in report) == 3, "\n".join(report)


# Submissions that try to fool the grader, each a cell added to the untouched student edition: none
# implements anything, so every part must score 0, and each is flagged for a person.
SPOOFS = {
    "check functions replaced by what they print": """
from vaekit import checks
for name, text in PRINTED.items():
    setattr(checks, name, lambda *args, _text=text, **kwargs: print(_text, end=""))
""",
    "expected values copied from the handout": """
import dataclasses, torch
from vaekit import checks
stored = torch.load("vaekit/checks_expected.pt", weights_only=True)
for name, part in list(checks.PARTS.items()):
    values = stored.get(name, {})
    copied = {"out": values.get("out"), "pair": [values.get("mu"), values.get("log_sigma")],
              "at_zero": values.get("at_zero"), "by_column": values.get("by_column")}
    checks.PARTS[name] = dataclasses.replace(part, run=lambda *args, _copied=copied: _copied)
""",
    "torch patched to agree with anything": """
import torch
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.Tensor.__sub__ = lambda self, other: torch.zeros_like(self)
""",
    "a probe of its own that saves the public results": """
import sys, types, torch
import instructor
from vaekit import checks
fake = types.ModuleType("instructor.grading_probe")
def report(part, namespace):
    import pathlib
    folder = pathlib.Path("grading_results")
    folder.mkdir(exist_ok=True)
    values = torch.load("vaekit/checks_expected.pt", weights_only=True).get(part, {})
    torch.save({"out": values.get("out"), "at_zero": values.get("at_zero")}, folder / f"{list(checks.PARTS).index(part)}.pt")
fake.report, fake.use_weights, fake.restore_weights = report, lambda *a: None, lambda *a: None
sys.modules["instructor.grading_probe"] = instructor.grading_probe = fake
""",
}


@pytest.mark.parametrize("spoof", list(SPOOFS))
def test_a_spoof_scores_nothing_and_is_flagged(student_dir, tmp_path, spoof):
    notebook = nbformat.read(student_dir / "A3_VAE.ipynb", as_version=4)
    printed = {}
    for cell in notebook.cells:
        if "nbval-check-output" in cell.metadata.get("tags", []):
            name = re.match(r"(?:#.*\n)*checks\.(\w+)\(", cell.source).group(1)
            printed[name] = "".join(output.get("text", "") for output in cell.outputs)
    setup = next(i for i, cell in enumerate(notebook.cells) if cell.id == "setup")
    spoof_cell = nbformat.v4.new_code_cell(f"PRINTED = {printed!r}\n" + SPOOFS[spoof])
    notebook.cells.insert(setup + 1, spoof_cell)
    folder = tmp_path / "spoof"
    shutil.copytree(student_dir, folder)
    nbformat.write(notebook, folder / "A3_VAE.ipynb")
    result = grade_result(folder, SOLUTION_NOTEBOOK)
    assert result.status == "graded" and not result.passed
    assert f"cell {spoof_cell.id!r} raised" not in "\n".join(result.report)  # the spoof itself ran
    scored = {part.name: part.points for part in result.parts if part.points}
    assert scored == {}, "\n".join(result.report)
    assert result.flags, "\n".join(result.report)


OTHER_STYLES = [
    ("decoder", """decoder = nn.Sequential(
    nn.Linear(LATENT_DIM, HIDDEN_DIM),
    nn.Tanh(),
    nn.Linear(HIDDEN_DIM, DATA_DIM),
).to(device)""", """class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(LATENT_DIM, HIDDEN_DIM)
        self.logits = nn.Linear(HIDDEN_DIM, DATA_DIM)

    def forward(self, z):
        return self.logits(torch.tanh(self.hidden(z)))


decoder = Decoder().to(device)"""),
    ("encoder", """encoder = nn.Sequential(
    nn.Linear(DATA_DIM, HIDDEN_DIM),
    nn.Tanh(),
    nn.Linear(HIDDEN_DIM, 2 * LATENT_DIM),
).to(device)""", """class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(DATA_DIM, HIDDEN_DIM), nn.Linear(HIDDEN_DIM, 2 * LATENT_DIM)

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


encoder = Encoder().to(device)"""),
    ("elbo", """    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).mean()""",
     """    out = encoder(x)
    mu, log_sigma = out[:, :2], out[:, 2:]
    z = mu + torch.randn_like(mu) * log_sigma.exp()
    return torch.mean(log_likelihood(x, z) + log_prior(z) - log_q(z, mu, log_sigma))"""),
    ("train-def", """            batch_loss = loss(batch)
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()""", """            batch_loss = loss(batch)
            batch_loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)"""),
]

# A few mistakes, graded end to end; tests/test_checks.py tries many more against the checks
# directly, and tests/test_batch.py and tests/test_nbgrader.py grade a visualization mistake.
MISTAKES = {
    "log(sigmoid) Bernoulli": (None, ("F.logsigmoid(sign * logits)",
                                      "x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits))"),
                               "helpers.bernoulli_log_density"),
    "gradients pile up across steps": (("            optimizer.zero_grad()\n", ""), None, "train"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_planted_mistake_fails_and_is_named(tmp_path, mistake):
    notebook_edit, helpers_edit, part = MISTAKES[mistake]
    submission = submission_from_solution(tmp_path, notebook_edit, helpers_edit)
    passed, report = grade(submission, SOLUTION_NOTEBOOK)
    assert not passed
    assert part in failed_parts(report), "\n".join(report)
    reason = next(line for line in report if line.startswith(f"FAIL  {part} ("))
    assert "expected" in reason, reason


DETACHED_Z = ("z = sample_diag_gaussian(mu, log_sigma)\n", "z = sample_diag_gaussian(mu, log_sigma).detach()\n")


def git_head():
    """The commit checked out here, or None outside a git checkout."""
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.mark.parametrize("edit", [None, DETACHED_Z], ids=["the solution", "z cut off from its gradient"])
def test_the_recorded_seed_replays_a_grading_word_for_word(tmp_path, edit):
    # The mistake's reasons hold numbers that depend on the inputs, drawn from the seed, and on the noise its
    # elbo draws; the replay runs from the command line, as staff would, with another number of threads (a
    # batch gives each grading its share of the cores).
    submission = submission_from_solution(tmp_path / "s", edit)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    first = grade_result(submission, SOLUTION_NOTEBOOK)
    provenance = first.provenance
    assert started <= datetime.fromisoformat(provenance.graded_at) <= datetime.now(timezone.utc)
    files = [(name, (submission / name).read_bytes()) for name in ("A3_VAE.ipynb", "helpers.py")]
    assert provenance.submission_digest == "sha256:" + hashlib.sha256(
        b"".join(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data for name, data in files)).hexdigest()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (provenance.grader_version, provenance.grader_commit) == (version, git_head())
    assert (provenance.python, provenance.torch) == (platform.python_version(), importlib.metadata.version("torch"))
    assert str(provenance.seed) not in "\n".join(first.report), "the seed is for staff, not in the report"

    env = {**os.environ, "MNIST_ROOT": str(Path(os.environ.get("MNIST_ROOT", "data")).resolve()),
           "OMP_NUM_THREADS": "2" if os.environ.get("OMP_NUM_THREADS") == "1" else "1"}
    replay = subprocess.run([sys.executable, "-m", "instructor.grade", str(submission), "--json",
                             "--seed", str(provenance.seed)], capture_output=True, text=True, env=env)
    assert replay.stdout.startswith("{"), replay.stderr
    again = GradingResult.from_json(replay.stdout)
    assert again.provenance.seed == provenance.seed
    # The same verdicts and reasons, word for word. The info lines of the checks worth no points are left out:
    # they say whether a cell ran within its time limit, which a busy machine can change.
    assert verdicts(again) == verdicts(first)
    assert part_lines(again.report) == part_lines(first.report)
    assert {part.name for part in first.parts if part.reason} == (set() if edit is None else {"elbo and loss", "train"})


def verdicts(result):
    return [(part.name, part.points, part.reason, part.diagnosis) for part in result.parts]


def part_lines(report):
    return [line for line in report if line.startswith(("pass", "FAIL"))]


def test_a_seed_that_is_not_one_is_refused():
    run = subprocess.run([sys.executable, "-m", "instructor.grade", ".", "--seed", "-3"], capture_output=True,
                         text=True)
    assert run.returncode == 2 and "--seed: '-3' is not a seed: a whole number from 0 to 2**62 - 1" in run.stderr


# Stand-ins for nbval: its "kernel" (a child whose command line says ipykernel) exits after a
# second; then the parent waits on, as nbval does on the cell of a dead kernel, never reaping it,
# or reaps it as nbval's shutdown does and takes a while longer to finish, as nbval may.
FAKE_KERNEL = ("import subprocess, sys, time; kernel = subprocess.Popen([sys.executable, '-c', "
               "'import time; time.sleep(1)', 'ipykernel']); ")


@pytest.mark.parametrize("parent, died", [
    (f"time.sleep({10 * KERNEL_GONE_S})", True),
    (f"kernel.wait(); time.sleep({UNREAPED_S + 2})", False),
], ids=["exits by itself", "shut down"])
def test_a_kernel_that_exits_by_itself_is_found_dead_and_one_shut_down_is_not(tmp_path, parent, died):
    run = run_watching_the_kernel([sys.executable, "-c", FAKE_KERNEL + parent], cwd=tmp_path, env=os.environ)
    assert run.kernel_died is died
    assert run.returncode == (-9 if died else 0)  # a dead kernel's nbval is stopped, the other finishes


def test_grade_command_line_reports_and_sets_the_exit_code(tmp_path):
    env = {**os.environ, "MNIST_ROOT": str(Path(os.environ.get("MNIST_ROOT", "data")).resolve())}
    missing = subprocess.run([sys.executable, "-m", "instructor.grade", str(tmp_path)],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "no notebook (.ipynb) in the submission" in missing.stderr
    nowhere = subprocess.run([sys.executable, "-m", "instructor.grade", str(tmp_path / "nowhere")],
                             capture_output=True, text=True, env=env)
    assert nowhere.returncode == 2 and "nowhere is neither a folder nor a zip" in nowhere.stderr
    # A planted mistake, graded from the command line: the draw of z cut off from the gradient.
    submission = submission_from_solution(tmp_path / "s", ("z = sample_diag_gaussian(mu, log_sigma)\n",
                                                           "z = sample_diag_gaussian(mu, log_sigma).detach()\n"),
                                          ("import torch\n", "import torch\ntorch.exp = torch.exp\n"))
    (tmp_path / "tmp").mkdir()
    run = subprocess.run([sys.executable, "-m", "instructor.grade", str(submission),
                          "--keep", str(tmp_path / "graded")],
                         capture_output=True, text=True, env={**env, "TMPDIR": str(tmp_path / "tmp")})
    assert run.returncode == 1
    assert re.search(r"^FAIL  elbo and loss \(0 of 4\): elbo\(x\): expected the gradient", run.stdout, re.M), run.stdout
    assert re.search(r"^pass  log_prior \(1 of 1\)$", run.stdout, re.M)
    # README's example report is this grading's, but for its numbers (drawn with the inputs).
    readme = (ROOT / "README.md").read_text()
    example = readme[readme.index("For the solution with its\n  draw of z detached"):].split("```")[1]
    masked = [re.sub(r"\d+(\.\d+)?", "N", line.strip()) for line in example.strip().splitlines()]
    printed = {re.sub(r"\d+(\.\d+)?", "N", line.strip()) for line in run.stdout.splitlines()}
    assert masked and all(line in printed for line in masked), (masked, run.stdout)
    # The last line: the points of the parts (elbo and loss, and train, which steps on its ELBO, lost) and of
    # the written answers, as the notebook's metadata gives them.
    assert run.stdout.endswith(f"\n\n{MAX_POINTS - 4 - 4} of {MAX_POINTS} points, {HAND_POINTS} more by hand\n")
    assert re.search(r"^flag  helpers.py, line \d+: torch.exp = torch.exp  \(changes torch.exp", run.stdout, re.M)
    # --keep keeps what nbval ran (the student's code and the probes) with its report and the results the
    # probes saved; nothing is left in TMPDIR.
    graded = nbformat.read(tmp_path / "graded" / "A3_VAE.ipynb", as_version=4)
    assert any(".detach()" in cell.source for cell in graded.cells)
    reference = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    parts = {c.id: c.metadata["part"] for c in reference.cells if is_graded(c)}
    assert parts and all(f"report({parts[c.id]!r}" in c.source for c in graded.cells if c.id in parts)
    assert len(list((tmp_path / "graded" / "grading_results").glob("*.pt"))) == len(parts)
    assert '<testcase classname="A3_VAE.ipynb" name="Cell 0"' in (tmp_path / "graded" / "report.xml").read_text()
    assert not list((tmp_path / "tmp").iterdir())


@pytest.fixture
def other_user():
    """A system user made for the test (and removed after): needs root, as on CI."""
    name = f"vae-test-{os.getpid()}"
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                          capture_output=True, text=True) if os.geteuid() == 0 else None
    if made is None or made.returncode != 0:
        pytest.skip(f"cannot make a user here (needs root and useradd): {made and made.stderr.strip()}")
    yield name
    subprocess.run(["userdel", name], capture_output=True)


def test_every_process_of_the_student_user_is_killed_a_daemon_too(other_user):
    uid = pwd.getpwnam(other_user).pw_uid
    # A daemon: started in a session of its own by a shell that exits at once, so no tree leads to it.
    subprocess.run(["sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 &"], user=other_user, check=True)
    sleeper = subprocess.Popen(["sleep", "1000"], user=other_user)

    def living():  # procps's view, not the grader's: the states of the user's processes, zombies left out
        states = subprocess.run(["ps", "-u", other_user, "-o", "stat="], capture_output=True, text=True).stdout
        return [state for state in states.split() if not state.startswith("Z")]

    assert len(living()) == 2
    kill_processes_of(uid)
    assert sleeper.wait() == -9 and living() == []
