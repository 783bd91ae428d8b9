"""The worked examples (doctests) of every function a student writes pass against the solution, and
fail with NotImplementedError in the student edition until the stub is written."""
import doctest
import importlib.util

import nbformat
import pytest

import helpers
from tools.notebook_code import NOTEBOOK, notebook_namespace

HELPERS = ("bernoulli_log_density", "bernoulli_log_likelihood_table", "std_normal_log_density",
           "diag_gaussian_log_density", "sample_diag_gaussian", "sample_bernoulli", "log_mean_exp")
# The notebook's functions, the training function aside, and the cell that defines each.
NOTEBOOK_FUNCTIONS = {"log_prior": "log-prior", "log_likelihood": "log-likelihood", "joint_log_density": "joint",
                      "encode": "encoder", "log_q": "log-q", "elbo": "elbo", "loss": "elbo"}


def run_examples(function, name, globs):
    """(examples tried, the report of those that failed) for the docstring of function."""
    [test] = doctest.DocTestFinder().find(function, name, globs=dict(globs))
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=report.append)
    return result.attempted, "".join(report)


@pytest.fixture(scope="module")
def nb():
    return notebook_namespace()


@pytest.mark.parametrize("name", HELPERS)
def test_every_helper_has_an_example_that_the_solution_passes(name):
    attempted, failures = run_examples(getattr(helpers, name), name, vars(helpers))
    assert attempted >= 1 and not failures, failures


@pytest.mark.parametrize("name", NOTEBOOK_FUNCTIONS)
def test_every_notebook_function_has_an_example_that_the_solution_passes(nb, name):
    attempted, failures = run_examples(nb[name], name, nb)
    assert attempted >= 1 and not failures, failures


def test_in_the_student_edition_each_helper_example_stops_at_its_stub(student_dir):
    spec = importlib.util.spec_from_file_location("student_helpers", student_dir / "helpers.py")
    student_helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(student_helpers)
    for name in HELPERS:
        attempted, failures = run_examples(getattr(student_helpers, name), name, vars(student_helpers))
        assert attempted >= 1 and "NotImplementedError" in failures, (name, failures)


def test_in_the_student_edition_each_notebook_example_stops_at_its_stub(nb, student_dir):
    # Each function's cell as handed out, run over the solution's namespace: the cell itself stops at
    # a stub (the encoder's module comes before encode), or the function's example does.
    cells = {cell.id: cell.source for cell in nbformat.read(student_dir / NOTEBOOK.name, as_version=4).cells}
    for name, cell_id in NOTEBOOK_FUNCTIONS.items():
        namespace = dict(nb)
        try:
            exec(compile(cells[cell_id], cell_id, "exec"), namespace)
        except NotImplementedError:
            continue
        attempted, failures = run_examples(namespace[name], name, namespace)
        assert attempted >= 1 and "NotImplementedError" in failures, (name, failures)
