"""Pairs of students whose own code is unusually alike: places for a person to look, not verdicts.

Only what a student wrote is compared: the code that stands in place of each
stub of the handout, in the notebook and in helpers.py, and the cells they
added. Submissions carry no solution markers, so a student's lines are found
against the handout as the flags find them: the student's cells are placed on
the reference's (instructor/placement.py, by id or, without ids, by what they
hold), and a line that the handed-out version of its cell or of helpers.py
holds is given code (instructor/flags.py's own_lines). Two untouched handouts
therefore share nothing.

The comparison is copydetect's (winnowing over normalised tokens): names,
strings, comments and layout are normalised away, so renamed variables, added
comments and reordered functions are still found. The handed-out code is also
passed to copydetect as boilerplate, so that a given line the student edited
slightly does not count either. Each student is fingerprinted once; a pair
costs one comparison of two sets of fingerprints, and only a reported pair's
blocks are compared one by one, to show its lines side by side. The written
answers (markdown) are not compared.
"""
import io
import tempfile
from functools import cached_property
from itertools import combinations

import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files

from instructor.flags import own_lines
from instructor.grade import student_sources
from instructor.layout import default_reference, handout_helpers
from instructor.markers import handed_out
from instructor.merge import merge
from instructor.submission import SubmissionError, find

# copydetect's noise threshold: a match shorter than this many characters of normalised code (names are one
# character, layout and comments gone: `z = mu + torch.exp(log_sigma) * eps` is `V=V+V.V(V)*V`, 12) is ignored.
# 20 is about a line and a half: shorter matches are idioms that independent students share.
NOISE_THRESHOLD = 20
# copydetect's winnowing window. 1 keeps every k-gram: students' code is short (a few hundred k-grams each), and
# with a larger window which k-grams are kept depends on Python's string hashes, which change from run to run
# (PYTHONHASHSEED), so scores would too.
WINDOW = 1
# The least amount of code a reported pair shares, in characters of normalised code on each side: about eight
# lines. Students who wrote only a few one-line answers (`return log_prior(z) + log_likelihood(x, z)`) write them
# alike and would score 1. In tests/test_similarity.py's class independent solutions share up to 130 such
# characters and the copy 470 (a copy of its helpers.py alone would share 300).
MIN_SHARED = 150
# The least score reported: half of the two students' own code alike. In tests/test_similarity.py independent
# correct solutions in other styles score at most 0.24 (they share the one-line answers every student writes
# alike) and a copy with renamed variables, added comments and moved functions 0.97.
THRESHOLD = 0.5


class Student:
    """One student's own code, fingerprinted.

    blocks:      [{"where", "line", "code"}]: each run of the student's own lines, where ("cell 'ID'" or
                 "helpers.py") and the number of its first line there
    fingerprint: copydetect's CodeFingerprint of all blocks, one after the other
    block_fingerprints: a CodeFingerprint per block, to pair a match's lines side by side; made only for
                 a student in a reported pair
    """

    def __init__(self, blocks, boilerplate):
        self.blocks, self.boilerplate = blocks, boilerplate
        self.fingerprint = fingerprint("\n".join(block["code"] for block in blocks), boilerplate)

    @cached_property
    def block_fingerprints(self):
        return [fingerprint(block["code"], self.boilerplate) for block in self.blocks]


def fingerprint(code, boilerplate=None):
    """copydetect's CodeFingerprint of code (Python), every k-gram of NOISE_THRESHOLD characters of its
    normalised form but those among boilerplate (an array of hashes)."""
    return CodeFingerprint("code.py", NOISE_THRESHOLD, WINDOW, boilerplate=boilerplate, language="python",
                           fp=io.StringIO(code))


def own_blocks(where, source, given):
    """The student's own lines of source as blocks of consecutive lines: [{"where", "line", "code"}].

    A block ends at a line of given (the handed-out version); blank lines inside a block are kept.
    """
    own, runs, run = own_lines(source, given), [], None
    for number, line in enumerate(source.split("\n"), start=1):
        if number in own:
            if run is None:
                run = (number, [])
                runs.append(run)
            run[1].append(line)
        elif line.strip():
            run = None
        elif run is not None:
            run[1].append(line)
    return [{"where": where, "line": first, "code": "\n".join(lines).rstrip()} for first, lines in runs]


def read_blocks(path, reference):
    """The own blocks (own_blocks) of the submission at path, a folder, a zip or a notebook (found as
    instructor/submission.py finds it): (blocks, None), or (None, why) when no notebook is found or readable."""
    with tempfile.TemporaryDirectory(prefix="vae-similar-") as scratch:
        try:
            found = find(path, scratch)
        except (SubmissionError, OSError) as err:
            return None, str(err)
        try:
            notebook = nbformat.read(found.notebook, as_version=4)
        except Exception as err:  # nbformat raises several kinds for a broken file
            return None, f"{found.notebook.name} cannot be read ({type(err).__name__}: {err})"
        sources = student_sources(reference, merge(reference, notebook), found.helpers)
    return [block for where, source, given in sources for block in own_blocks(where, source, given)], None


def handout_fingerprints(reference):
    """Every k-gram of the handed-out code (the notebook's code cells and helpers.py), for copydetect's boilerplate."""
    code = [handed_out(cell.source) for cell in reference.cells if cell.cell_type == "code"] + [handout_helpers()]
    return np.unique(np.array(list(fingerprint("\n".join(code)).hashes), dtype=np.int64))


def alike(a, b):
    """(score, shared) of two CodeFingerprints that share a fingerprint or more.

    shared: the fewer of the characters (of normalised code) that each side has in stretches the other has too
    score:  both sides' such characters over all fingerprinted characters of both: symmetric, near 0 when
            little is shared and 1 when all of both is
    """
    _, (share_a, share_b), _ = compare_files(a, b)
    overlap_a, overlap_b = share_a * a.token_coverage, share_b * b.token_coverage
    return float((overlap_a + overlap_b) / (a.token_coverage + b.token_coverage)), float(min(overlap_a, overlap_b))


def lines_in(block, slices):
    """The lines of block (a dict of own_blocks) that copydetect's slices (character positions in its code,
    a 2 x N array of starts and ends) touch: the block from its first such line to its last."""
    code = block["code"]
    first = code.count("\n", 0, int(slices[0].min()))
    last = code.count("\n", 0, max(int(slices[1].max()) - 1, 0))
    return {"where": block["where"], "line": block["line"] + first,
            "code": "\n".join(code.split("\n")[first:last + 1])}


def matches(a, b):
    """The blocks of a and b that share code, side by side: [{"a": lines, "b": lines}], most shared first.

    Each block that shares code is paired with the other student's block that shares most fingerprints
    with it (the first on a tie); lines: {"where", "line", "code"}, the lines of the block that are shared.
    """
    shared = {(i, j): len(fa.hashes & fb.hashes) for i, fa in enumerate(a.block_fingerprints)
              for j, fb in enumerate(b.block_fingerprints)}
    shared = {key: n for key, n in shared.items() if n}

    def most_shared(keys):
        return min(keys, key=lambda key: (-shared[key], key))

    kept = {most_shared([key for key in shared if key[side] == block])
            for side in (0, 1) for block in {key[side] for key in shared}}
    pairs = []
    for i, j in sorted(kept, key=lambda key: (-shared[key], key)):
        _, _, (slices_a, slices_b) = compare_files(a.block_fingerprints[i], b.block_fingerprints[j])
        pairs.append({"a": lines_in(a.blocks[i], slices_a), "b": lines_in(b.blocks[j], slices_b)})
    return pairs


def similar_pairs(submissions, threshold=THRESHOLD, reference=None):
    """Pairs of students whose own code scores at least threshold, highest first.

    submissions: {student: their submission}, a folder, a zip or a notebook (with helpers.py beside it)
                 per student, as instructor.submission.submissions_in gives them; the student's name is
                 used as given (the gradebook's)
    threshold:   the least score reported, from 0 to 1 (default THRESHOLD, see there); a pair that shares
                 less than MIN_SHARED characters of normalised code is never reported
    reference:   the solution notebook, whose handed-out cells say which lines are given (default A3_VAE.ipynb)

    returns (pairs, skipped):
        pairs:   [{"a", "b", "score", "matches"}], a before b by name, by score (a float from 0 to 1: the
                 share of both students' own code that is alike, see alike) highest first, then by names;
                 matches: [{"a": lines, "b": lines}], the lines side by side, lines: {"where": "cell 'ID'"
                 or "helpers.py", "line": the number of its first line there, "code": the lines}
        skipped: {student: why their work could not be compared}, e.g. a notebook that cannot be read
    raises TypeError for submissions that is not a mapping or a threshold that is not a number, ValueError
    for a threshold outside [0, 1]
    """
    if not hasattr(submissions, "items"):
        raise TypeError(f"submissions must map each student to their submission, not {type(submissions).__name__}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold must be a number from 0 to 1, not {threshold!r}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number from 0 to 1, not {threshold!r}")
    reference = nbformat.read(reference or default_reference(), as_version=4)
    boilerplate = handout_fingerprints(reference)
    students, skipped = {}, {}
    for name, path in sorted(submissions.items()):
        blocks, why = read_blocks(path, reference)
        if why is None:
            students[name] = Student(blocks, boilerplate)
        else:
            skipped[name] = why
    pairs = []
    for (name_a, a), (name_b, b) in combinations(students.items(), 2):
        if a.fingerprint.hashes & b.fingerprint.hashes:
            score, shared = alike(a.fingerprint, b.fingerprint)
            if score >= threshold and shared >= MIN_SHARED:
                pairs.append({"a": name_a, "b": name_b, "score": score, "matches": matches(a, b)})
    return sorted(pairs, key=lambda pair: -pair["score"]), skipped
