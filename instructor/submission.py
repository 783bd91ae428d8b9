"""Finding the notebook and helpers.py in a submission, as students really hand them in.

A submission is a folder, a zip, or a notebook file (with helpers.py beside it). Students upload ``Copy of A3_VAE.ipynb``
(Colab's name for a copy), ``A3_VAE (1).ipynb`` (a second download), a zip
of their folder, or the folder one level deeper; Gradescope keeps uploaded
folders. So the notebook is the one notebook found anywhere in the
submission, whatever its name, after unpacking any zip in it; Jupyter's
checkpoints, macOS's ``__MACOSX`` folders and hidden files do not count.
helpers.py is the one beside the notebook, else the only one in the submission.
The digest of a submission names the files graded, whatever folder or zip they came in.
"""
import fnmatch
import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

NOTEBOOK, HELPERS = "A3_VAE.ipynb", "helpers.py"
IGNORED_FOLDERS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}
MAX_UNPACKED_BYTES = 200 * 2 ** 20  # a submission is a few MB; more is not one
MAX_LISTED = 10


class SubmissionError(Exception):
    """Nothing can be graded: the message says what was found. status: "missing file" or "several notebooks"."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Submission:
    """notebook: the notebook to grade; helpers: its helpers.py, or None; notes: report lines on what was taken."""

    def __init__(self, notebook, helpers, notes):
        self.notebook, self.helpers, self.notes = notebook, helpers, notes

    def digest(self):
        """"sha256:" and the hex SHA-256 over the files graded, the notebook then helpers.py (none without
        one): for each, its file name, a NUL, its size in bytes in decimal, a NUL and its bytes. The names
        count (a renamed notebook is another submission); the folders and zips around them do not."""
        sha = hashlib.sha256()
        for path in (self.notebook, self.helpers):
            if path is not None:
                data = Path(path).read_bytes()
                sha.update(f"{Path(path).name}\0{len(data)}\0".encode() + data)
        return f"sha256:{sha.hexdigest()}"


def files_below(top, pattern):
    """The files below top whose names match pattern, shallowest first, leaving out checkpoints, hidden
    files and folders (a virtual environment in .venv is not walked)."""
    found = []
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = [name for name in subfolders if name not in IGNORED_FOLDERS and not name.startswith(".")]
        for name in files:
            path = Path(folder) / name
            if fnmatch.fnmatch(name, pattern) and not name.startswith("."):
                found.append(path)
    return sorted(found, key=lambda p: (len(p.parts), str(p)))


def ignored(name):
    """Whether a file of a zip lies in a folder that does not count (a virtual environment in .venv, say)."""
    return any(part in IGNORED_FOLDERS or part.startswith(".") for part in Path(name).parts[:-1])


def unpack(archive, into):
    """Extract a zip into the folder into, but for the folders that do not count; raises SubmissionError
    when it cannot be read or is too large."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir() and not ignored(info.filename)]
            if sum(info.file_size for info in members) > MAX_UNPACKED_BYTES:
                raise SubmissionError("missing file", f"{archive.name} unpacks to more than "
                                                      f"{MAX_UNPACKED_BYTES // 2 ** 20} MB; nothing was graded")
            for info in members:
                bundle.extract(info, into)  # zipfile drops absolute paths and '..' from the names
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise SubmissionError("missing file", f"{archive.name} cannot be unpacked ({type(err).__name__}: "
                                              f"{err}); upload the notebook and helpers.py, or a zip of them") from None


def listing(top):
    """A short list of what a folder holds, for messages."""
    found = [str(p.relative_to(top)) for p in files_below(top, "*")]
    shown = ", ".join(found[:MAX_LISTED]) + (f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else "")
    return shown or "nothing"


def find(path, scratch):
    """The Submission in path (a folder, a zip, or a notebook); zips are unpacked into the folder scratch.

    raises FileNotFoundError when path is none of these, SubmissionError when no single notebook is found
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".ipynb":  # a notebook alone: helpers.py beside it, if any
        helpers = path.parent / HELPERS
        notes = [] if path.name == NOTEBOOK else [f"note  graded {path.name}, the notebook given"]
        return Submission(path, helpers if helpers.is_file() else None, notes)
    if path.is_file() and zipfile.is_zipfile(path):
        given, archives = path.parent, [path]
    elif path.is_dir():
        given = path
        archives = [] if files_below(path, "*.ipynb") else files_below(path, "*.zip")
    else:
        raise FileNotFoundError(f"{path} is neither a folder nor a zip nor a notebook; a submission holds "
                                f"{NOTEBOOK} and {HELPERS}")
    top, notes = given, []
    if archives:  # each unpacked into a folder named after it, so messages say which zip a file came from
        top = Path(scratch) / "unpacked"
        for archive in archives:
            unpack(archive, top / archive.name)
            notes.append(f"note  unpacked {archive.relative_to(given)}")
    notebooks = files_below(top, "*.ipynb")
    if not notebooks:
        raise SubmissionError("missing file", f"no notebook (.ipynb) in the submission, which holds "
                                              f"{listing(top)}; a submission holds {NOTEBOOK} and {HELPERS}")
    if len(notebooks) > 1:
        names = ", ".join(str(n.relative_to(top)) for n in notebooks)
        raise SubmissionError("several notebooks", f"{len(notebooks)} notebooks in the submission ({names}): it is "
                                                   f"not clear which to grade; hand in one, {NOTEBOOK}")
    notebook = notebooks[0]
    where = notebook.relative_to(top)
    if str(where) != NOTEBOOK:
        notes.append(f"note  graded {where}, the only notebook in the submission")
    helpers = notebook.parent / HELPERS
    if not helpers.is_file():
        others = files_below(top, HELPERS)
        helpers = others[0] if len(others) == 1 else None
        if helpers is not None:
            notes.append(f"note  took {helpers.relative_to(top)}, the only {HELPERS} in the submission")
    return Submission(notebook, helpers, notes)


def digest(path):
    """The digest (Submission.digest) of the submission in path, a folder, a zip or a notebook, as grading
    would find it; None when no single notebook is found there, or nothing (path is neither of these). Zips
    are unpacked into a temporary folder.
    """
    with tempfile.TemporaryDirectory(prefix="vae-digest-") as scratch:
        try:
            return find(path, scratch).digest()
        except (SubmissionError, FileNotFoundError):
            return None


def submissions_in(folder):
    """{student: their submission} in a class's folder: a folder, a zip or a notebook named after the student.

    raises ValueError when a student has two (e.g. bob/ and bob.zip)
    """
    found = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith(".") or not (path.is_dir() or path.suffix.lower() in (".zip", ".ipynb")):
            continue
        student = path.name if path.is_dir() else path.stem
        if student in found:
            raise ValueError(f"{student} has two submissions in {folder} ({found[student].name} and {path.name}); "
                             "keep one")
        found[student] = path
    return found
