"""Similar work (instructor/similarity.py): a copy with renamed variables, comments and moved functions is
found; independent correct solutions in other styles, untouched handouts and the given code are not."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from instructor.markers import BEGIN, END, STUB, handed_out
from instructor import similarity
from instructor.similarity import THRESHOLD, similar_pairs
from tests.test_grading import OTHER_STYLES
from tests.test_submissions import saved_by_colab

ROOT = Path(__file__).resolve().parents[1]
# The notebook's stubs that the students of these tests fill in; the others stay as handed out.
FILLED = ("log-prior", "decoder", "log-likelihood", "joint", "encoder", "log-q", "elbo", "train-def")


def fill(source, answers=None):
    """source (the solution's) as a student hands it in: each marked block replaced by the next of answers,
    indented like its markers (answers None: the solution's own code), and no markers."""
    lines, block, answers = [], None, iter(answers) if answers is not None else None
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            indent, block = line[:len(line) - len(line.lstrip())], []
        elif line.strip() == END:
            code = block if answers is None else textwrap.indent(textwrap.dedent(next(answers)), indent).split("\n")
            lines.extend(code)
            block = None
        elif block is not None:
            block.append(line)
        else:
            lines.append(line)
    assert answers is None or next(answers, None) is None, "more answers than stubs"
    return "\n".join(lines)


def moved(source, name, before):
    """source with the top-level function name moved to just before the function before."""
    functions = re.split(r"(?=^def )", source, flags=re.M)
    function = next(f for f in functions if f.startswith(f"def {name}("))
    functions.remove(function)
    at = next(i for i, f in enumerate(functions) if f.startswith(f"def {before}("))
    return "".join(functions[:at] + [function.rstrip("\n") + "\n\n\n"] + functions[at:])


def hand_in(folder, helpers=None, cells=None, edit=lambda where, source: source, filled=FILLED):
    """A student's folder: the student edition with the stubs of the cells filled and of helpers.py filled in,
    no markers.

    helpers: the answers for helpers.py's stubs, in order (None: the solution's)
    cells:   {cell id: the answers for its stubs}; a cell of filled not there gets the solution's code
    edit:    what the student did afterwards to a filled cell (where: its id) or to helpers.py (where: "helpers.py")
    """
    folder.mkdir(parents=True)
    notebook = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.id in filled:
            cell.source = edit(cell.id, fill(cell.source, (cells or {}).get(cell.id)))
        elif BEGIN in cell.source:
            cell.source = handed_out(cell.source, cell.cell_type)
    nbformat.write(notebook, folder / "A3_VAE.ipynb")
    (folder / "helpers.py").write_text(edit("helpers.py", fill((ROOT / "helpers.py").read_text(), helpers)))
    return folder


# Another student's correct helpers.py, in their own style (the order of helpers.py's stubs).
HELPERS_B = [
    "return x * logits - F.softplus(logits)",
    'return torch.einsum("bd,gd->bg", x, logits) - F.softplus(logits).sum(-1).unsqueeze(0)',
    "d = z.shape[-1]\nreturn -(d * LOG_2PI + torch.sum(z * z, dim=-1)) / 2",
    "var = torch.exp(2 * log_sigma)\nsquares = (z - mu) ** 2 / var\n"
    "return -0.5 * torch.sum(squares + 2 * log_sigma + LOG_2PI, dim=-1)",
    "noise = torch.randn(*mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)\n"
    "return noise.mul(log_sigma.exp()).add(mu)",
    "draws = torch.rand(probs.size(), generator=generator, dtype=probs.dtype, device=probs.device)\n"
    "return torch.where(draws < probs, torch.ones_like(probs), torch.zeros_like(probs))",
    "n = a.size(dim)\nreturn torch.logsumexp(a - math.log(n), dim)",
]
# A third student's.
HELPERS_C = [
    "return torch.where(x > 0.5, F.logsigmoid(logits), F.logsigmoid(-logits))",
    "table = []\nfor row in logits:\n    table.append((x * row - F.softplus(row)).sum(1))\n"
    "return torch.stack(table, dim=1)",
    "k = z.size(1)\nreturn -0.5 * z.pow(2).sum(1) - k * math.log(math.sqrt(2 * math.pi))",
    "sigma = log_sigma.exp()\ndiff = (z - mu) / sigma\n"
    "per_dim = -0.5 * diff.pow(2) - log_sigma - 0.5 * math.log(2 * math.pi)\nreturn per_dim.sum(1)",
    "std = torch.exp(log_sigma)\neps = torch.randn(mu.shape, generator=generator, device=mu.device).type_as(mu)\n"
    "return eps * std + mu",
    "u = torch.rand(probs.shape, generator=generator, device=probs.device)\nout = torch.zeros_like(probs)\n"
    "out[u < probs] = 1.0\nreturn out",
    "m = a.max(dim=dim, keepdim=True).values\nm = torch.where(torch.isfinite(m), m, torch.zeros_like(m))\n"
    "return m.squeeze(dim) + torch.log(torch.exp(a - m).mean(dim=dim))",
]
# Their notebook code: the second student's is mostly tests/test_grading.py's OTHER_STYLES.
STYLES = {cell_id: new for cell_id, _, new in OTHER_STYLES}
CELLS_B = {"decoder": [STYLES["decoder"]],
           "encoder": [STYLES["encoder"], "out = encoder(x)\nreturn out[:, :LATENT_DIM], out[:, LATENT_DIM:]"],
           "elbo": [STYLES["elbo"], "return -elbo(x)"], "train-def": [STYLES["train-def"]]}
CELLS_C = {
    "decoder": ["layers = [nn.Linear(LATENT_DIM, HIDDEN_DIM), nn.Tanh()]\n"
                "layers.append(nn.Linear(HIDDEN_DIM, DATA_DIM))\n"
                "decoder = nn.Sequential(*layers)\ndecoder = decoder.to(device)"],
    "encoder": ["hidden = nn.Linear(DATA_DIM, HIDDEN_DIM)\nencoder = nn.Sequential(hidden, nn.Tanh(), "
                "nn.Linear(HIDDEN_DIM, 2 * LATENT_DIM)).to(device)",
                "params = encoder(x)\nmu = params[:, 0:2]\nlog_sigma = params[:, 2:4]\nreturn mu, log_sigma"],
    "elbo": ["mean, log_std = encode(x)\ncode = sample_diag_gaussian(mean, log_std)\n"
             "log_p = log_prior(code) + log_likelihood(x, code)\nreturn torch.mean(log_p - log_q(code, mean, log_std))",
             "return elbo(x).neg()"],
    "train-def": ["optimizer.zero_grad()\nbatch_loss = loss(batch)\nbatch_loss.backward()\noptimizer.step()"],
}
# The first student's code copied: variables renamed, comments added, functions moved (below, in hand_in's edit).
HELPERS_COPY = [
    "# flip the sign where the pixel is off\ns = 2 * x - 1\nreturn F.logsigmoid(s * logits)",
    "return x @ logits.T - F.softplus(logits).sum(dim=1)  # (B, G)",
    "return -0.5 * (z ** 2).sum(dim=1) - 0.5 * z.shape[1] * LOG_2PI",
    "# standardise first\nscaled = (z - mu) * torch.exp(-log_sigma)\n"
    "return (-0.5 * scaled ** 2 - log_sigma - 0.5 * LOG_2PI).sum(dim=1)",
    "noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)\n"
    "return mu + torch.exp(log_sigma) * noise  # reparameterised",
    "draw = torch.rand(probs.shape, generator=generator, device=probs.device, dtype=probs.dtype)\n"
    "return (draw < probs).to(probs.dtype)",
    "return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])",
]
CELLS_COPY = {
    "decoder": ["decoder = nn.Sequential(\n    nn.Linear(LATENT_DIM, HIDDEN_DIM),  # hidden layer\n    nn.Tanh(),\n"
                "    nn.Linear(HIDDEN_DIM, DATA_DIM),\n).to(device)"],
    "encoder": ["encoder = nn.Sequential(\n    nn.Linear(DATA_DIM, HIDDEN_DIM),\n    nn.Tanh(),\n"
                "    nn.Linear(HIDDEN_DIM, 2 * LATENT_DIM),  # mean and log sd\n).to(device)",
                "m, s = encoder(x).chunk(2, dim=1)\nreturn m, s"],
    "elbo": ["m, s = encode(x)\ncode = sample_diag_gaussian(m, s)\n"
             "return (joint_log_density(x, code) - log_q(code, m, s)).mean()",
             "return -elbo(x)"],
    "train-def": ["# a step\nl = loss(batch)\noptimizer.zero_grad()\nl.backward()\noptimizer.step()\nbatch_loss = l"],
}


def copy_edit(where, source):
    """The copier's moves: two functions of helpers.py, and loss above elbo in the notebook."""
    if where == "helpers.py":
        return moved(moved(source, "log_mean_exp", "bernoulli_log_density"), "sample_bernoulli",
                     "std_normal_log_density")
    return moved(source, "loss", "elbo") if where == "elbo" else source


@pytest.fixture(scope="module")
def classroom(tmp_path_factory, student_dir):
    """{student: their folder}: the solution's code, a copy of it, two students of their own, two untouched handouts."""
    top = tmp_path_factory.mktemp("class")
    students = {"ada": hand_in(top / "ada"), "bo": hand_in(top / "bo", HELPERS_B, CELLS_B),
                "cy": hand_in(top / "cy", HELPERS_C, CELLS_C),
                "copier": hand_in(top / "copier", HELPERS_COPY, CELLS_COPY, copy_edit)}
    for name in ("untouched-1", "untouched-2"):
        students[name] = top / name
        students[name].mkdir()
        for file in ("A3_VAE.ipynb", "helpers.py"):
            shutil.copy(student_dir / file, students[name] / file)
    return students


INDEPENDENT = ("ada", "bo", "cy")


def scores(pairs):
    return {frozenset((pair["a"], pair["b"])): pair["score"] for pair in pairs}


def test_a_copy_with_renamed_variables_comments_and_moved_functions_is_the_only_pair(classroom):
    pairs, skipped = similar_pairs(classroom)
    assert skipped == {}
    assert [(pair["a"], pair["b"]) for pair in pairs] == [("ada", "copier")]
    assert pairs[0]["score"] > 0.8


def test_independent_solutions_in_other_styles_score_clearly_below_a_copy(classroom, monkeypatch):
    monkeypatch.setattr(similarity, "MIN_SHARED", 0)  # every pair that shares code, with its score
    found = scores(similar_pairs(classroom, threshold=0)[0])
    independent = [found[frozenset((a, b))] for a in INDEPENDENT for b in (*INDEPENDENT, "copier")
                   if a < b and {a, b} != {"ada", "copier"}]
    assert max(independent) < 0.3 < THRESHOLD < 0.8 < found[frozenset(("ada", "copier"))], found
    assert all(0 <= score <= 1 for score in found.values())


def test_untouched_handouts_and_the_given_code_are_never_a_pair(classroom, tmp_path, monkeypatch):
    monkeypatch.setattr(similarity, "MIN_SHARED", 0)  # not a character of code in common
    colab = tmp_path / "untouched-colab"
    colab.mkdir()
    nbformat.write(saved_by_colab(nbformat.read(classroom["untouched-1"] / "A3_VAE.ipynb", as_version=4)),
                   colab / "A3_VAE.ipynb")
    shutil.copy(classroom["untouched-1"] / "helpers.py", colab)
    pairs, _ = similar_pairs({**classroom, "untouched-colab": colab}, threshold=0)
    assert not [pair for pair in pairs if {pair["a"], pair["b"]} & {"untouched-1", "untouched-2", "untouched-colab"}]


def test_the_matching_lines_are_side_by_side_with_where_they_came_from(classroom):
    (pair,) = similar_pairs(classroom)[0]
    sides = {(match["a"]["code"].split("\n")[0].strip(), match["b"]["code"].split("\n")[0].strip()): match
             for match in pair["matches"]}
    drawn = sides[("u = torch.rand(probs.shape, generator=generator, device=probs.device, dtype=probs.dtype)",
                   "draw = torch.rand(probs.shape, generator=generator, device=probs.device, dtype=probs.dtype)")]
    elbo = sides[("mu, log_sigma = encode(x)", "m, s = encode(x)")]
    assert elbo["b"]["code"].split("\n")[-1].strip() == "return (joint_log_density(x, code) - log_q(code, m, s)).mean()"
    for match, where in ((drawn, "helpers.py"), (elbo, "cell 'elbo'")):
        for side, student in (("a", "ada"), ("b", "copier")):
            lines = match[side]
            assert lines["where"] == where
            if where == "helpers.py":
                text = (classroom[student] / "helpers.py").read_text()
            else:
                notebook = nbformat.read(classroom[student] / "A3_VAE.ipynb", as_version=4)
                text = next(cell.source for cell in notebook.cells if cell.id == "elbo")
            shown = lines["code"].split("\n")
            assert text.split("\n")[lines["line"] - 1:lines["line"] - 1 + len(shown)] == shown
    assert not any("NotImplementedError" in match[side]["code"] for match in pair["matches"] for side in "ab")


def test_the_score_is_symmetric_and_the_same_in_every_run(classroom):
    pair = {"ada": classroom["ada"], "copier": classroom["copier"]}
    (forward,), _ = similar_pairs(pair)
    (backward,), _ = similar_pairs({"zoe": classroom["ada"], "copier": classroom["copier"]})
    assert (backward["a"], backward["b"]) == ("copier", "zoe") and backward["score"] == forward["score"]
    # Python salts its string hashes in every process; with every k-gram kept, that changes nothing.
    script = (f"from instructor.similarity import similar_pairs\n"
              f"print(repr(similar_pairs({ {name: str(path) for name, path in pair.items()} !r})[0][0]['score']))")
    for seed in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        assert float(run.stdout) == forward["score"]


def test_zips_and_notebooks_saved_by_colab_are_read_as_the_grader_reads_them(classroom, tmp_path):
    notebook = saved_by_colab(nbformat.read(classroom["copier"] / "A3_VAE.ipynb", as_version=4))
    with zipfile.ZipFile(tmp_path / "copier.zip", "w") as bundle:
        bundle.writestr("deeper/Copy of A3_VAE.ipynb", nbformat.writes(notebook))
        bundle.write(classroom["copier"] / "helpers.py", "deeper/helpers.py")
    (expected,), _ = similar_pairs({"ada": classroom["ada"], "copier": classroom["copier"]})
    (zipped,), _ = similar_pairs({"ada": classroom["ada"] / "A3_VAE.ipynb", "copier": tmp_path / "copier.zip"})
    assert zipped["score"] == expected["score"]


def test_code_in_a_cell_the_student_added_is_compared(student_dir, tmp_path):
    """The lattice's solution, written by one student in its cell and by another in a cell of their own."""
    lattice = fill(next(cell.source for cell in nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4).cells
                        if cell.id == "lattice"))
    code = lattice[lattice.index("ticks = "):]
    folders = {}
    for name in ("in-place", "added"):
        folders[name] = tmp_path / name
        shutil.copytree(student_dir, folders[name])
        notebook = nbformat.read(folders[name] / "A3_VAE.ipynb", as_version=4)
        at = next(number for number, cell in enumerate(notebook.cells) if cell.id == "lattice")
        if name == "in-place":
            notebook.cells[at].source = notebook.cells[at].source.replace("\n".join(STUB), code)
        else:
            notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(code.replace("ticks", "grid_ticks")))
        nbformat.write(notebook, folders[name] / "A3_VAE.ipynb")
    (pair,), _ = similar_pairs(folders)
    assert (pair["a"], pair["b"]) == ("added", "in-place") and pair["score"] > 0.8
    assert {match["b"]["where"] for match in pair["matches"]} == {"cell 'lattice'"}
    assert {match["a"]["where"] for match in pair["matches"]} == {f"cell {notebook.cells[at + 1].id!r}"}


def test_students_who_wrote_only_one_line_answers_alike_are_not_a_pair(student_dir, tmp_path, monkeypatch):
    one_liners = ("log-prior", "log-likelihood", "joint", "log-q")  # a line each, as any student writes it
    assert all(len(fill(cell.source).split("\n")) == len(handed_out(cell.source).split("\n")) - 1
               for cell in nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4).cells if cell.id in one_liners)
    folders = {name: hand_in(tmp_path / name, filled=one_liners) for name in ("first", "second")}
    for folder in folders.values():
        shutil.copy(student_dir / "helpers.py", folder / "helpers.py")
    assert similar_pairs(folders, threshold=0) == ([], {})
    monkeypatch.setattr(similarity, "MIN_SHARED", 0)  # what they share is all they wrote
    assert [pair["score"] for pair in similar_pairs(folders)[0]] == [1.0]


def test_a_student_whose_notebook_cannot_be_read_is_skipped_with_a_note(classroom, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "A3_VAE.ipynb").write_text("{this is not JSON")
    (tmp_path / "empty").mkdir()
    pairs, skipped = similar_pairs({"ada": classroom["ada"], "copier": classroom["copier"],
                                    "broken": tmp_path / "broken", "empty": tmp_path / "empty",
                                    "gone": tmp_path / "gone"})
    assert [(pair["a"], pair["b"]) for pair in pairs] == [("ada", "copier")]
    assert sorted(skipped) == ["broken", "empty", "gone"]
    assert "A3_VAE.ipynb cannot be read" in skipped["broken"]
    assert "no notebook" in skipped["empty"]
    assert "neither a folder nor a zip nor a notebook" in skipped["gone"]


def test_one_student_or_none_gives_no_pairs(classroom):
    assert similar_pairs({}) == ([], {})
    assert similar_pairs({"ada": classroom["ada"]}, threshold=0) == ([], {})


@pytest.mark.parametrize("arguments, error, named", [
    ({"threshold": 1.5}, ValueError, "threshold"), ({"threshold": -0.1}, ValueError, "threshold"),
    ({"threshold": "0.5"}, TypeError, "threshold"), ({"threshold": True}, TypeError, "threshold"),
    ({"submissions": ["ada"]}, TypeError, "submissions"),
])
def test_a_bad_argument_is_named(arguments, error, named):
    with pytest.raises(error, match=named):
        similar_pairs(**{"submissions": {}, **arguments})
