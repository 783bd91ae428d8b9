"""A class handed in as students hand in work, graded by grade_batch: the class report counts it right.

The students fill the stubs of the student edition (no solution markers):

- ada: the solution's code, every stub and the written answers;
- copier: ada's work with variables renamed, comments added and functions moved;
- bo: correct code in styles of their own, the visualizations not done;
- cy: other styles again, with log_q short of its normalising constant and probabilities passed as
  logits in log_likelihood;
- dan: a fourth style, with log_q short of its constant written another way (the cause cy's shares);
- hal and ivy: the handout untouched.

Then the report is opened in headless Chromium, as tests/test_browser.py opens the notebook.
"""
import csv
import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from instructor.markers import BEGIN
from tests.test_batch import GENEROUS_TIMEOUT_S, MAX_POINTS, environment
from tests.test_browser import ARTIFACTS, CHROMIUM_FLAGS, chromium
from tests.test_similarity import (CELLS_B, CELLS_C, CELLS_COPY, HELPERS_B, HELPERS_C, HELPERS_COPY, ROOT,
                                   copy_edit, hand_in)

EVERY_STUB = tuple(cell.id for cell in nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4).cells
                   if BEGIN in cell.source)  # the written answers too
VISUALIZATIONS = ("scatter (5.1)", "prior samples (5.2)", "reconstructions (5.3)", "lattice (5.4)")
# A fourth student's own helpers.py (in the order of its stubs) and notebook code.
HELPERS_D = [
    "return -F.softplus(-logits) * x - F.softplus(logits) * (1 - x)",
    "return torch.stack([bernoulli_log_density(row.expand_as(logits), logits).sum(dim=1) for row in x])",
    "return torch.sum(-0.5 * z.square() - 0.5 * math.log(2 * math.pi), dim=1)",
    "return std_normal_log_density((z - mu) / log_sigma.exp()) - log_sigma.sum(dim=1)",
    "eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)\n"
    "return torch.addcmul(mu, eps, torch.exp(log_sigma))",
    "u = torch.rand(probs.shape, generator=generator, dtype=probs.dtype, device=probs.device)\n"
    "return torch.lt(u, probs).type(probs.dtype)",
    "top = torch.amax(a, dim=dim, keepdim=True)\n"
    "return (top + torch.log(torch.mean(torch.exp(a - top), dim=dim, keepdim=True))).squeeze(dim)",
]
CELLS_D = {
    "decoder": ["from collections import OrderedDict\n"
                "decoder = nn.Sequential(OrderedDict(hidden=nn.Linear(LATENT_DIM, HIDDEN_DIM), act=nn.Tanh(),\n"
                "                                    out=nn.Linear(HIDDEN_DIM, DATA_DIM))).to(device)"],
    "encoder": ["encoder = nn.Sequential(OrderedDict(hidden=nn.Linear(DATA_DIM, HIDDEN_DIM), act=nn.Tanh(),\n"
                "                                    out=nn.Linear(HIDDEN_DIM, 2 * LATENT_DIM))).to(device)",
                "mu, log_sigma = torch.split(encoder(x), LATENT_DIM, dim=1)\nreturn mu, log_sigma"],
    "log-q": ["scaled = (z - mu) / torch.exp(log_sigma)\nreturn -(0.5 * scaled.pow(2) + log_sigma).sum(dim=1)"],
    "elbo": ["params = encode(x)\nsample = sample_diag_gaussian(*params)\n"
             "log_weights = joint_log_density(x, sample) - log_q(sample, *params)\nreturn log_weights.mean()",
             "return elbo(x) * -1"],
    "train-def": ["optimizer.zero_grad(set_to_none=True)\nbatch_loss = loss(batch)\nbatch_loss.backward()\n"
                  "optimizer.step()"],
}
CY_MISTAKES = {"log-q": ["inv = torch.exp(-log_sigma)\nreturn torch.sum(-0.5 * ((z - mu) * inv) ** 2 - log_sigma, 1)"],
               "log-likelihood": ["return bernoulli_log_density(x, torch.sigmoid(decoder(z))).sum(dim=1)"]}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, student_dir):
    """(the grades folder, the gradebook's rows by student, the class report's JSON) of the class above."""
    top = tmp_path_factory.mktemp("handed-in")
    folder = top / "submissions"
    hand_in(folder / "ada", filled=EVERY_STUB)
    hand_in(folder / "copier", HELPERS_COPY, CELLS_COPY, copy_edit, filled=EVERY_STUB)
    hand_in(folder / "bo", HELPERS_B, CELLS_B)
    hand_in(folder / "cy", HELPERS_C, {**CELLS_C, **CY_MISTAKES})
    hand_in(folder / "dan", HELPERS_D, CELLS_D)
    for name in ("hal", "ivy"):
        (folder / name).mkdir()
        for file in ("A3_VAE.ipynb", "helpers.py"):
            shutil.copy(student_dir / file, folder / name / file)
    out = top / "grades"
    run = subprocess.run([sys.executable, "-m", "instructor.grade_batch", str(folder), "--out", str(out), "--jobs", "2",
                          "--timeout", str(GENEROUS_TIMEOUT_S)], capture_output=True, text=True,
                         env=environment(top / "tmp"))
    assert run.returncode == 0, run.stdout + run.stderr
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return out, rows, json.loads((out / "class_report.json").read_text())


def part(report, name):
    return next(entry for entry in report["parts"] if entry["part"] == name)


def causes(report, name):
    return {diagnosis["id"]: diagnosis["count"] for diagnosis in part(report, name)["diagnoses"]}


def test_every_student_is_graded_and_the_correct_work_scores_in_full(graded_class):
    _, rows, report = graded_class
    assert report["students"] == 7 and report["statuses"] == {"graded": 7}
    assert report["scores"]["ada"] == report["scores"]["copier"] == MAX_POINTS
    bo = json.loads((graded_class[0] / "results" / "bo.json").read_text())
    assert {p["name"] for p in bo["parts"] if p["points"] < p["max_points"]} == set(VISUALIZATIONS)
    assert report["scores"]["hal"] == report["scores"]["ivy"] == 0
    assert {name: int(row[f"total ({MAX_POINTS})"]) for name, row in rows.items()} == report["scores"]


def test_failures_are_counted_by_cause_across_students(graded_class):
    _, rows, report = graded_class
    assert [entry["part"] for entry in report["parts"]][:3] == ["helpers.bernoulli_log_density",
                                                                "helpers.std_normal_log_density", "log_prior"]
    log_q = part(report, "log_q")
    assert (log_q["graded"], log_q["passed"]) == (7, 3)
    assert causes(report, "log_q") == {"log_q/missing-constant": 2, "log_q/raised-NotImplementedError": 2}
    assert log_q["diagnoses"][0]["id"] == "log_q/missing-constant"  # a tie ranks by name
    assert re.match(r"(cy|dan): log_q\(z, mu, log_sigma\): .*normalising constant", log_q["diagnoses"][0]["example"])
    assert causes(report, "log_likelihood") == {"log_likelihood/raised-NotImplementedError": 2,
                                                "log_likelihood/probabilities-as-logits": 1}
    assert "log_q/missing-constant" in rows["dan"]["diagnoses"].split("; ")
    for name in VISUALIZATIONS:  # bo, cy and dan left them undone, as the untouched handouts did
        assert part(report, name)["passed"] == 2
    assert report["written_answers"] == [{"question": name, "given": 2, "missing": 5} for name in
                                         ("question 1: why logits", "question 2: the scatter plot",
                                          "question 3: the lattice")]


def test_the_copy_is_the_only_similar_pair(graded_class):
    _, _, report = graded_class
    assert [(pair["a"], pair["b"]) for pair in report["similar"]] == [("ada", "copier")]
    assert report["similar"][0]["matches"] and report["problems"] == []


PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.querySelectorAll("img")].map((img) => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    let contrast = 0;
    if (img.naturalWidth > 0) {
      context.drawImage(img, 0, 0);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let low = 255, high = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        const grey = (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
        low = Math.min(low, grey);
        high = Math.max(high, grey);
      }
      contrast = high - low;
    }
    return {width: img.naturalWidth, contrast: contrast};
  });
  const tables = [...document.querySelectorAll("table")].map((table) => table.rows.length);
  const report = document.createElement("pre");
  report.id = "browser-check";
  report.textContent = JSON.stringify({images: images, tables: tables, text: document.body.innerText.length});
  document.body.appendChild(report);
});
</script>"""


def test_the_page_shows_its_figures_and_tables_in_a_browser(graded_class, tmp_path):
    browser = chromium()
    out, _, report = graded_class
    page = tmp_path / "class_report.html"
    page.write_text((out / "class_report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=30000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=300).stdout
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', dom, re.S)
    try:
        assert found, "the probe did not report: the page did not load"
        shown = json.loads(found.group(1).replace("&quot;", '"'))
        # The histogram, the parts and the similar pairs, each drawn (not blank). The tables: how the
        # submissions ended, the parts, the written answers (no line was flagged), then a table of
        # matching lines per similar pair; each has a row below its header.
        assert len(shown["images"]) == 3, shown
        assert all(image["width"] > 0 and image["contrast"] > 10 for image in shown["images"]), shown
        assert len(shown["tables"]) == 3 + len(report["similar"]), shown
        assert all(rows >= 2 for rows in shown["tables"]), shown
    except AssertionError:
        ARTIFACTS.mkdir(exist_ok=True)
        subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                        "--window-size=1280,4000", f"--screenshot={ARTIFACTS / 'class_report.png'}",
                        page.as_uri()], capture_output=True, timeout=300)
        raise
