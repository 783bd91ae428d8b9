"""Lines that reach for the grading machinery are flagged, with their cell; correct code in any style is not."""
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from tests.test_grading import OTHER_STYLES
from instructor.flags import FORBIDDEN, FORBIDDEN_USE, flag_sources
from instructor.grade import submission_flags
from instructor.layout import handout_helpers
from instructor.make_student import student_notebook
from instructor.merge import merge
from instructor.result import GradingResult, PartResult

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "A3_VAE.ipynb"


def flags_of(notebook, helpers=ROOT / "helpers.py"):
    reference = nbformat.read(SOLUTION, as_version=4)
    return submission_flags(reference, merge(reference, notebook), helpers)


def with_added_cell(notebook, source, after="elbo"):
    cell = nbformat.v4.new_code_cell(source)
    position = next(i for i, c in enumerate(notebook.cells) if c.id == after)
    notebook.cells.insert(position + 1, cell)
    return cell


def test_the_solution_and_the_student_edition_raise_no_flag(tmp_path):
    solution = nbformat.read(SOLUTION, as_version=4)
    assert flags_of(solution) == []
    handout = tmp_path / "helpers.py"
    handout.write_text(handout_helpers())
    assert flags_of(student_notebook(solution), handout) == []


def test_correct_code_in_other_styles_raises_no_flag():
    notebook = nbformat.read(SOLUTION, as_version=4)
    for cell_id, old, new in OTHER_STYLES:
        cell = next(c for c in notebook.cells if c.id == cell_id)
        cell.source = cell.source.replace(old, new)
    with_added_cell(notebook, "torch.manual_seed(3)\nresults = {}\nresults['elbo'] = elbo(x_small).item()\n"
                              "plt.rcParams['figure.dpi'] = 100\nFIGURES.mkdir(exist_ok=True)")
    assert flags_of(notebook) == []


SPOOFS = {
    "replaced check": ("from vaekit import checks\nchecks.check_elbo = lambda *args: print('ok')",
                       [(1, "imports vaekit.checks"), (2, "changes checks.check_elbo")]),
    "patched torch": ("torch.allclose = lambda *args, **kwargs: True", [(1, "changes torch.allclose")]),
    "through __dict__": ("import checks as c\nc.__dict__['check_elbo'] = print",
                         [(1, "imports checks"), (2, "changes c.__dict__")]),
    "setattr": ("setattr(torch.nn.functional, 'softplus', abs)", [(1, "calls setattr on torch.nn.functional")]),
    "sys.modules": ("import sys\nsys.modules['checks'] = object()", [(2, "uses sys.modules")]),
    "builtins": ("import builtins\nbuiltins.print = lambda *a: None", [(1, "imports builtins"), (2, "changes builtins.print")]),
    "grader's file": ("text = open('/autograder/source/A3_VAE.ipynb').read()", [(1, "names the path '/autograder")]),
    "reference": ("from pathlib import Path\nPath('tools/reference.ipynb').read_text()", [(2, "names the path 'tools/reference.ipynb'")]),
    "parent folder": ("open('../answers.py')", [(1, "names the path '../answers.py'")]),
    "the grader": ("from instructor.grade import merge", [(1, "imports instructor.grade")]),
}


@pytest.mark.parametrize("spoof", list(SPOOFS))
def test_a_spoof_is_flagged_with_its_cell_and_line(spoof):
    source, expected = SPOOFS[spoof]
    notebook = nbformat.read(SOLUTION, as_version=4)
    added = with_added_cell(notebook, source)
    flags = flags_of(notebook)
    assert [(flag["line"], flag["why"][:len(why)]) for flag, (_, why) in zip(flags, expected)] == expected, flags
    assert len(flags) == len(expected), flags
    assert all(flag["where"] == f"cell {added.id!r}" for flag in flags)
    assert flags[0]["code"] == source.split("\n")[flags[0]["line"] - 1]


def test_a_spoof_in_a_given_cell_or_in_helpers_is_flagged_and_the_given_lines_are_not(tmp_path):
    notebook = nbformat.read(SOLUTION, as_version=4)
    setup = next(c for c in notebook.cells if c.id == "setup")
    setup.source += "\nchecks.check_train = print"
    helpers = tmp_path / "helpers.py"
    helpers.write_text((ROOT / "helpers.py").read_text() + "\nimport torch\ntorch.isfinite = lambda t: t == t\n")
    flags = flags_of(notebook, helpers)
    assert [(flag["where"], flag["code"]) for flag in flags] == [
        ("cell 'setup'", "checks.check_train = print"), ("helpers.py", "torch.isfinite = lambda t: t == t")]


def test_code_that_does_not_parse_is_said_so():
    (flag,) = flag_sources([("cell 'x'", "def f(:\n    pass", "")])
    assert flag["line"] == 1 and "does not parse" in flag["why"]
    assert flag_sources([("cell 'y'", "%matplotlib inline\n!ls\nx = 1", "")]) == []


def test_gradescope_shows_the_flags_to_the_instructor_only():
    from instructor.gradescope import results_json
    flag = {"where": "cell 'elbo'", "line": 2, "code": "torch.exp = abs", "why": "changes torch.exp"}
    result = GradingResult(status="graded", passed=True,
                           parts=[PartResult(name="elbo and loss", points=4, max_points=4, reason="")],
                           report=["pass  elbo and loss (4 of 4)"], notes=[], answers=[], flags=[flag])
    results = results_json(result, 1.0)
    hidden = [test for test in results["tests"] if test["visibility"] == "hidden"]
    assert hidden == [{"name": "flags for a person (no points)", "score": 0, "max_score": 0, "visibility": "hidden",
                       "output": "cell 'elbo', line 2: torch.exp = abs  (changes torch.exp)"}]
    assert results["score"] == 4 and "torch.exp" not in results["output"]
    assert [test["visibility"] for test in results_json(replace(result, flags=[]), 1.0)["tests"]] == ["visible"]


# The assignment's rule: no library density or sampler. Each way of reaching for one is flagged; the
# functions the rules allow are not.
FORBIDDEN_USES = {
    "from torch.distributions import Normal": "imports torch.distributions",
    "import torch.distributions as D\nq = D.Normal(mu, sigma)": "imports torch.distributions",
    "z = torch.distributions.Normal(mu, sigma).rsample()": "uses torch.distributions",
    "from torch.nn.functional import binary_cross_entropy_with_logits as bce":
        "imports F.binary_cross_entropy_with_logits",
    "value = -F.binary_cross_entropy_with_logits(y, x, reduction='none')": "uses F.binary_cross_entropy_with_logits",
    "value = -F.binary_cross_entropy(torch.sigmoid(y), x)": "uses F.binary_cross_entropy",
    "criterion = torch.nn.BCEWithLogitsLoss()": "uses nn.BCEWithLogitsLoss",
    "x = torch.bernoulli(p)": "uses torch.bernoulli",
    "x = torch.empty_like(p).bernoulli_(p)": "uses .bernoulli_()",
    "eps = torch.normal(0.0, 1.0, size=(3, 2))": "uses torch.normal",
    "eps = torch.empty(3, 2).normal_()": "uses .normal_()",
    "import numpy as np\neps = np.random.normal(size=(3, 2))": "uses numpy.random",
    "from scipy import stats\nvalue = stats.norm.logpdf(z)": "imports scipy.stats",
}


@pytest.mark.parametrize("source", list(FORBIDDEN_USES))
def test_what_the_rules_forbid_is_flagged(source):
    flags = flag_sources([("cell 'x'", source, "")])
    assert any(flag["why"].startswith(FORBIDDEN_USES[source]) and flag["kinds"] == [FORBIDDEN_USE]
               for flag in flags), flags


def test_what_the_rules_allow_is_not_flagged():
    allowed = ("eps = torch.randn(3, 2, generator=g)\nu = torch.rand(3, 784)\n"
               "a = F.softplus(y) + F.logsigmoid(y) + torch.logaddexp(y, y) + torch.logsumexp(y, 1)")
    assert flag_sources([("cell 'x'", allowed, "")]) == []


def test_the_rules_handed_to_students_name_everything_the_flags_forbid(student_dir):
    for where in (student_dir / "helpers.py", student_dir / "README.md", ROOT / "README.md"):
        text = where.read_text()
        assert [rule for rule in FORBIDDEN.values() if rule not in text] == [], where
