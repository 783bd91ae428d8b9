"""The student edition as a student meets it: everything it names is in it, and it answers no written
question."""
import re
from pathlib import Path

import nbformat


ROOT = Path(__file__).resolve().parents[1]
# A path: folders and a file name with an extension, or folders alone ("vaekit/checks/").
PATH = re.compile(r"(?<![\w/.])((?:[\w.-]+/)*[\w.-]+\.(?:py|pt|md|txt|ipynb|json|toml|ini|cfg))\b"
                  r"|(?<![\w/.])((?:[\w-]+/)+)(?=[\s`'\")])")
MODULE = re.compile(r"\b((?:vaekit|instructor|tools|tests)(?:\.\w+)+)")
FUNCTION = re.compile(r"\bhelpers\.(\w+)")
# What the notebook writes, not what it is handed: figures, checkpoints, MNIST, and names of its own.
WRITTEN = ("figures/", "models/", "data/", "MNIST/raw/", "check.pt", "epochs.pt")
# Sentences that once answered a written question in the handout, moved into the solution's answers.
MOVED = ("log(0) = -inf once sigmoid rounds", "a penalty for straying from the prior", "distance from the prior")


def texts(student_dir):
    """{where: text} of every file and cell of the edition a student reads."""
    found = {str(p.relative_to(student_dir)): p.read_text() for p in student_dir.rglob("*")
             if p.is_file() and p.suffix in (".py", ".md", ".txt")}
    for cell in nbformat.read(student_dir / "A3_VAE.ipynb", as_version=4).cells:
        found[f"cell {cell.id!r}"] = cell.source
    return found


def exists(student_dir, where, name):
    """Whether a path that the text at where names is in the edition: from its top, or from the folder
    of where or one above it (checks_expected.pt, named in vaekit/checks/, is in vaekit/)."""
    folder = student_dir / where if not where.startswith("cell ") else student_dir
    bases = [student_dir, *[parent for parent in folder.parents if student_dir in (parent, *parent.parents)]]
    return any((base / name).exists() for base in bases)


def test_every_path_and_module_the_edition_names_is_in_it(student_dir):
    missing = []
    for where, text in texts(student_dir).items():
        for match in PATH.finditer(text):
            name = match.group(1) or match.group(2)
            if not name.startswith(WRITTEN) and not name.endswith(WRITTEN) and not exists(student_dir, where, name):
                missing.append((where, name))
        for match in MODULE.finditer(text):
            module = match.group(1).replace(".", "/")
            if not (exists(student_dir, "", module + ".py") or exists(student_dir, "", module)):
                missing.append((where, match.group(1)))
        helpers = (student_dir / "helpers.py").read_text()
        missing += [(where, f"helpers.{name}") for name in FUNCTION.findall(text)
                    if name != "py" and f"def {name}(" not in helpers]
    assert missing == []


def sentences(text):
    """The sentences of a written answer with at least six words, as plain lower-case text."""
    plain = re.sub(r"[`*$\\{}]", "", text.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""))
    return [" ".join(s.split()).lower() for s in re.split(r"(?<=[.:;?!])\s+", plain) if len(s.split()) >= 6]


def test_the_edition_answers_no_written_question(student_dir):
    solution = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    answers = [s for cell in solution.cells if "written-answer" in cell.metadata.get("tags", [])
               for s in sentences(cell.source)]
    assert len(answers) > 10
    handout = {where: " ".join(text.split()).lower() for where, text in texts(student_dir).items()}
    leaked = [(where, sentence) for sentence in answers for where, text in handout.items() if sentence in text]
    assert leaked == []
    moved = [(where, phrase) for phrase in MOVED for where, text in handout.items() if phrase.lower() in text]
    assert moved == []
