"""Submissions as students' tools save them: cells placed without ids, files found by any name.

The placement is checked against what is known of each cell (its source in
the reference), not against what the placement code computes. A Colab copy in
a zip is graded end to end in tests/test_batch.py (the batch and Gradescope).
"""
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from instructor import submission as submissions
from instructor.grade import grade_result
from instructor.make_student import student_notebook
from instructor.merge import merge, placement_notes
from instructor.placement import Placement

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "A3_VAE.ipynb"


def saved_by_colab(notebook, keep_nbgrader=False):
    """notebook as Google Colab saves it: nbformat 4.0, no cell ids, Colab's own id in the metadata."""
    raw = json.loads(nbformat.writes(notebook))
    raw["nbformat_minor"] = 0
    for number, cell in enumerate(raw["cells"]):
        del cell["id"]
        nbgrader = cell["metadata"].get("nbgrader")
        cell["metadata"] = {"id": f"colab{number:04d}x"}
        if keep_nbgrader and nbgrader:
            cell["metadata"]["nbgrader"] = nbgrader
    return nbformat.reads(json.dumps(raw), as_version=4)


def reference():
    return nbformat.read(SOLUTION, as_version=4)


def placed_source(placement, submission):
    """{reference id: the source of the submission cell placed there}."""
    return {ref_id: submission.cells[index].source for ref_id, index in placement.index.items()}


def test_a_colab_notebook_has_no_cell_ids():
    colab = saved_by_colab(reference())
    assert colab.nbformat_minor == 0 and not any("id" in cell for cell in colab.cells)


def test_every_cell_of_a_colab_notebook_is_placed_on_its_own():
    ref = reference()
    colab = saved_by_colab(ref)
    placement = Placement(ref, colab)
    assert placed_source(placement, colab) == {cell.id: cell.source for cell in ref.cells}
    assert set(placement.how.values()) <= {"content", "order"}
    assert "no cell ids (saved by Google Colab" in placement.summary()
    merged = merge(ref, colab, placement)
    nbformat.validate(merged)
    probes = ("grading-seed-weights", "grading-trained-weights")  # the grader's own cells in the merge
    assert [cell.id for cell in merged.cells if cell.id not in probes] == [cell.id for cell in ref.cells]


def test_nbgrader_metadata_places_the_graded_cells():
    ref = reference()
    colab = saved_by_colab(ref, keep_nbgrader=True)
    placement = Placement(ref, colab)
    graded = {cell.id for cell in ref.cells if cell.metadata.get("nbgrader", {}).get("grade_id")}
    assert graded and {ref_id for ref_id, how in placement.how.items() if how == "nbgrader"} == graded
    assert placed_source(placement, colab) == {cell.id: cell.source for cell in ref.cells}


def test_a_student_notebook_with_answers_moved_deleted_and_duplicated_cells():
    """The student edition saved by Colab, worked on: answers written (their first line is the student's),
    one TODO header removed, the decoder cell moved below the encoder's, the log_q cell deleted and a
    check cell duplicated."""
    ref = student_notebook(reference())
    work = nbformat.from_dict(ref)
    cells = {cell.id: cell for cell in work.cells}
    answers = [cell.id for cell in ref.cells if "written-answer" in cell.metadata.get("tags", [])]
    for number, answer in enumerate(answers):
        cells[answer].source = f"My answer {number}: because the logits keep the precision."
    cells["scatter"].source = "# my scatter plot\n" + cells["scatter"].source.split("\n", 1)[1]
    decoder = cells["decoder"]
    work.cells.remove(decoder)
    work.cells.insert(work.cells.index(cells["encoder"]) + 1, decoder)
    work.cells.remove(cells["log-q"])
    duplicate = nbformat.from_dict(cells["check-log-prior"])
    duplicate.id = "copied-check"
    work.cells.insert(work.cells.index(cells["check-log-prior"]) + 1, duplicate)
    colab = saved_by_colab(work)

    placement = Placement(ref, colab)
    expected = {cell.id: cell.source for cell in work.cells if cell is not duplicate}
    assert placed_source(placement, colab) == expected
    assert {answer: placement.how[answer] for answer in answers} == {answer: "order" for answer in answers}
    assert placement.how["scatter"] == "order" and placement.how["decoder"] == "content"
    assert [cell.id for cell in placement.unplaced()] == ["log-q"]
    duplicate_index = next(i for i, cell in enumerate(colab.cells)
                           if cell.source == duplicate.source and i != placement.index["check-log-prior"])
    assert duplicate_index not in placement.index.values()
    notes = placement_notes(placement)
    assert notes[-1] == "note  not found in the submission, graded as empty: log-q"

    merged = merge(ref, colab, placement)
    nbformat.validate(merged)
    ids = [cell.id for cell in merged.cells]
    assert len(ids) == len(set(ids)) == len(ref.cells) + 1 + 2  # the duplicate is the student's; 2 cells are the probe's
    by_id = {cell.id: cell for cell in merged.cells}
    assert by_id["log-q"].source == "" and by_id["decoder"].source == decoder.source
    assert ids.index("decoder") == ids.index("check-decoder") - 1, "each cell is run where the reference has it"


def test_regenerated_ids_are_placed_by_content_and_said_so():
    ref = reference()
    renamed = nbformat.from_dict(ref)
    for cell in renamed.cells:
        cell.id = nbformat.v4.new_code_cell().id
    placement = Placement(ref, renamed)
    assert placed_source(placement, renamed) == {cell.id: cell.source for cell in ref.cells}
    assert "some cell ids are not the handout's" in placement.summary()
    assert Placement(ref, ref).summary() is None


# --------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------

def handed_in(folder, notebook="A3_VAE.ipynb", helpers=True):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOLUTION, folder / notebook)
    if helpers:
        shutil.copy(ROOT / "helpers.py", folder / "helpers.py")
    return folder


def zipped(folder, archive, inside=""):
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in folder.rglob("*"):
            bundle.write(path, str(Path(inside) / path.relative_to(folder)))
    return archive


@pytest.mark.parametrize("name", ["A3_VAE.ipynb", "Copy of A3_VAE.ipynb", "A3_VAE (1).ipynb", "my vae.ipynb"])
def test_the_one_notebook_is_taken_whatever_its_name(tmp_path, name):
    folder = handed_in(tmp_path / "in", name)
    (folder / ".ipynb_checkpoints").mkdir()
    shutil.copy(SOLUTION, folder / ".ipynb_checkpoints" / "A3_VAE-checkpoint.ipynb")
    found = submissions.find(folder, tmp_path / "scratch")
    assert found.notebook == folder / name and found.helpers == folder / "helpers.py"
    assert found.notes == ([] if name == "A3_VAE.ipynb" else [f"note  graded {name}, the only notebook in the submission"])


def test_a_nested_folder_and_zips_are_found(tmp_path):
    nested = handed_in(tmp_path / "nested" / "my work" / "a3")
    found = submissions.find(tmp_path / "nested", tmp_path / "scratch1")
    assert found.notebook == nested / "A3_VAE.ipynb" and found.helpers == nested / "helpers.py"

    archive = zipped(handed_in(tmp_path / "zipme", "Copy of A3_VAE.ipynb"), tmp_path / "work.zip", inside="a3")
    found = submissions.find(archive, tmp_path / "scratch2")
    assert found.notebook.read_bytes() == SOLUTION.read_bytes() and found.helpers.name == "helpers.py"
    assert found.notes == ["note  unpacked work.zip",
                           "note  graded work.zip/a3/Copy of A3_VAE.ipynb, the only notebook in the submission"]

    (tmp_path / "upload").mkdir()
    shutil.copy(archive, tmp_path / "upload" / "work.zip")  # Gradescope: a folder that holds the zip
    found = submissions.find(tmp_path / "upload", tmp_path / "scratch3")
    assert found.notebook.name == "Copy of A3_VAE.ipynb" and found.notes[0] == "note  unpacked work.zip"


def test_helpers_elsewhere_is_taken_and_a_missing_one_is_none(tmp_path):
    folder = handed_in(tmp_path / "in", helpers=False)
    assert submissions.find(folder, tmp_path / "s1").helpers is None
    (folder / "code").mkdir()
    shutil.copy(ROOT / "helpers.py", folder / "code" / "helpers.py")
    found = submissions.find(folder, tmp_path / "s2")
    assert found.helpers == folder / "code" / "helpers.py"
    assert "note  took code/helpers.py, the only helpers.py in the submission" in found.notes


def test_no_notebook_or_two_say_what_was_found(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hi")
    with pytest.raises(submissions.SubmissionError, match=r"no notebook .* holds notes.txt") as caught:
        submissions.find(empty, tmp_path / "s1")
    assert caught.value.status == "missing file"
    two = handed_in(tmp_path / "two")
    shutil.copy(SOLUTION, two / "Untitled.ipynb")
    with pytest.raises(submissions.SubmissionError, match=r"2 notebooks .*A3_VAE.ipynb, Untitled.ipynb") as caught:
        submissions.find(two, tmp_path / "s2")
    assert caught.value.status == "several notebooks"
    with pytest.raises(FileNotFoundError, match="neither a folder nor a zip"):
        submissions.find(tmp_path / "nowhere", tmp_path / "s3")


def test_a_broken_or_huge_zip_is_refused_and_names_stay_inside(tmp_path, monkeypatch):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "up").mkdir()
    shutil.copy(broken, tmp_path / "up" / "broken.zip")
    with pytest.raises(submissions.SubmissionError, match="broken.zip cannot be unpacked"):
        submissions.find(tmp_path / "up", tmp_path / "s1")

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../../outside.py", "print('escaped')")
        bundle.writestr("/etc/absolute.py", "print('escaped')")
        bundle.writestr("A3_VAE.ipynb", SOLUTION.read_text())
    found = submissions.find(evil, tmp_path / "s2" / "deep")
    assert found.notebook.is_file()
    unpacked = sorted(str(p.relative_to(tmp_path / "s2")) for p in (tmp_path / "s2").rglob("*.py"))
    assert unpacked == ["deep/unpacked/evil.zip/etc/absolute.py"]  # '..' leads nowhere: left out
    assert not list(tmp_path.rglob("outside.py")) and not Path("/etc/absolute.py").exists()

    monkeypatch.setattr(submissions, "MAX_UNPACKED_BYTES", 2 * len(SOLUTION.read_bytes()))
    with pytest.raises(submissions.SubmissionError, match="unpacks to more than"):
        submissions.find(big_zip(tmp_path), tmp_path / "s3")
    # A virtual environment zipped with the work is left out, not counted.
    with_venv = tmp_path / "with_venv.zip"
    with zipfile.ZipFile(with_venv, "w") as bundle:
        bundle.writestr("a3/.venv/lib/big.bin", b"0" * 3 * len(SOLUTION.read_bytes()))
        bundle.writestr("a3/A3_VAE.ipynb", SOLUTION.read_text())
    found = submissions.find(with_venv, tmp_path / "s4")
    assert found.notebook.name == "A3_VAE.ipynb" and not list((tmp_path / "s4").rglob("big.bin"))


def big_zip(tmp_path):
    archive = tmp_path / "huge.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("A3_VAE.ipynb", SOLUTION.read_text())
        bundle.writestr("data/extra.bin", b"0" * 2 * len(SOLUTION.read_bytes()))
    return archive


def test_grade_result_of_an_unusable_submission_says_why_and_scores_nothing(tmp_path):
    two = handed_in(tmp_path / "two")
    shutil.copy(SOLUTION, two / "A3_VAE (1).ipynb")
    result = grade_result(two, SOLUTION)
    assert result.status == "several notebooks" and not result.passed
    assert all(part.points == 0 and "2 notebooks" in part.reason for part in result.parts)
    assert result.report[0].startswith("FAIL  2 notebooks in the submission (A3_VAE (1).ipynb, A3_VAE.ipynb)")


def test_a_notebook_given_alone_is_taken_with_the_helpers_beside_it(tmp_path):
    folder = handed_in(tmp_path / "in", "Copy of A3_VAE.ipynb")
    found = submissions.find(folder / "Copy of A3_VAE.ipynb", tmp_path / "s1")
    assert found.notebook == folder / "Copy of A3_VAE.ipynb" and found.helpers == folder / "helpers.py"
    assert found.notes == ["note  graded Copy of A3_VAE.ipynb, the notebook given"]
    (folder / "helpers.py").unlink()
    assert submissions.find(folder / "Copy of A3_VAE.ipynb", tmp_path / "s2").helpers is None


def test_a_batch_takes_folders_zips_and_notebooks_and_refuses_two_of_one_student(tmp_path):
    from instructor.submission import submissions_in
    batch = tmp_path / "class"
    handed_in(batch / "ann")
    zipped(handed_in(tmp_path / "ben"), batch / "ben.zip")
    shutil.copy(SOLUTION, batch / "cat.ipynb")
    (batch / "notes.txt").write_text("not a submission")
    (batch / ".DS_Store").write_text("")
    assert submissions_in(batch) == {"ann": batch / "ann", "ben": batch / "ben.zip", "cat": batch / "cat.ipynb"}
    shutil.copy(SOLUTION, batch / "ann.ipynb")
    with pytest.raises(ValueError, match=r"ann has two submissions .*\(ann and ann.ipynb\)"):
        submissions_in(batch)


def documented_digest(*files):
    """The digest as instructor/submission.py's docstring defines it: over (name, bytes) in order."""
    sha = hashlib.sha256()
    for name, data in files:
        sha.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + sha.hexdigest()


def test_the_digest_names_the_files_graded_wherever_they_lie(tmp_path):
    folder = handed_in(tmp_path / "in")
    expected = documented_digest(("A3_VAE.ipynb", SOLUTION.read_bytes()),
                                 ("helpers.py", (ROOT / "helpers.py").read_bytes()))
    assert submissions.digest(folder) == expected
    # The same files zipped in a folder of their own, or the notebook given alone: the same submission.
    assert submissions.digest(zipped(folder, tmp_path / "work.zip", inside="my work")) == expected
    assert submissions.digest(folder / "A3_VAE.ipynb") == expected
    (folder / "A3_VAE.ipynb").rename(folder / "Copy of A3_VAE.ipynb")
    assert submissions.digest(folder) == documented_digest(("Copy of A3_VAE.ipynb", SOLUTION.read_bytes()),
                                                           ("helpers.py", (ROOT / "helpers.py").read_bytes()))
    (folder / "helpers.py").write_text("# changed\n")
    assert submissions.digest(folder) == documented_digest(("Copy of A3_VAE.ipynb", SOLUTION.read_bytes()),
                                                           ("helpers.py", b"# changed\n"))
    (folder / "helpers.py").unlink()
    assert submissions.digest(folder) == documented_digest(("Copy of A3_VAE.ipynb", SOLUTION.read_bytes()))
    (folder / "Copy of A3_VAE.ipynb").unlink()
    assert submissions.digest(folder) is None and submissions.digest(tmp_path / "nowhere") is None
