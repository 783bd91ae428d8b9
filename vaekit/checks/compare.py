"""How a check compares what the student's code gave with what is right, and names the mistake.

Every comparison raises AssertionError with a message that says what was
expected, what was found and, where the numbers show it, what the mistake
most likely is (diagnosis): a result that matches a known mistake of the
part, or one off by a constant, by a factor, or only in some entries.
Nothing here knows a formula of the model; the expected values come in.

Beside its message, each AssertionError carries the cause it names as a short,
stable identifier in its attribute ``cause`` (e.g. "missing-constant"), the same
whatever the numbers in the message: the grader counts a class's failures by it
(the grader puts the part in front). A hint names its mistake by a pair
(cause, text).
"""
from pathlib import Path

import torch
from PIL import Image

from vaekit.checks.part import DATA_DIM


def expect(condition, message, cause):
    """Raise AssertionError(message), with cause (the identifier of what it names), unless condition holds
    (unlike assert, never switched off)."""
    if not condition:
        raise failure(message, cause)


def failure(message, cause):
    """The AssertionError of a failed check: message for the student, cause for counting (see above)."""
    err = AssertionError(message)
    err.cause = cause
    return err


def describe(found):
    if isinstance(found, torch.Tensor):
        return f"a {found.dtype} tensor of shape {tuple(found.shape)}"
    return found if isinstance(found, str) else f"a {type(found).__name__}"


def shape_diagnosis(found, expected):
    """What a wrong shape most likely means: (cause, text to add to the message)."""
    found, expected = tuple(found), tuple(expected)
    if len(found) == len(expected) + 1 and any(found[:i] + found[i + 1:] == expected and found[i] == 1
                                               for i in range(len(found))):
        return "extra-dimension", ": the expected shape with an extra dimension of size 1 (keepdim=True where it " \
                                  "does not belong, or a squeeze missing?)"
    if len(found) == len(expected) + 1 and found[:len(expected)] == expected:
        return "missing-sum", f": one value per entry of the last dimension ({found[-1]}); is a sum over it missing?"
    if found == expected[::-1] and len(found) == 2:
        return "transposed", ": the transpose of the expected shape"
    if sorted(found) == sorted(expected) and len(found) > 2:
        return "dimensions-permuted", ": the same dimensions in another order (stacked along another dimension?)"
    if not found and expected:
        return "reduced-over-batch", ": one number where one value per row belongs; summed or averaged over the batch?"
    return "wrong-shape", ""


def expect_tensor(value, name, shape):
    expect(isinstance(value, torch.Tensor), f"{name}: expected a tensor of shape {shape}, found {describe(value)}",
           "not-a-tensor")
    cause, text = shape_diagnosis(value.shape, shape)
    expect(tuple(value.shape) == tuple(shape), f"{name}: expected shape {tuple(shape)}, found {tuple(value.shape)}"
                                               + text, cause)
    overflow, underflow = bool((value == float("inf")).any()), bool((value == -float("inf")).any())
    expect(bool(torch.isfinite(value).all()), f"{name}: expected finite values, found "
           + ("inf: did exp overflow (exp(1000) is inf)?" if overflow else
              "-inf: did exp underflow to 0 before the log (exp(-1000) is 0)?" if underflow else "nan"),
           "overflow" if overflow else "underflow" if underflow else "nan")


def max_difference(found, expected):
    return (found.double() - expected.double()).abs().max().item()


# Factors a result can be off by, and what each most likely means: (cause, text).
FACTORS = {-1.0: ("flipped-sign", "the sign is flipped"),
           1 / DATA_DIM: ("mean-over-pixels", "a mean over the 784 pixels where a sum belongs?"),
           0.5: ("half", "a mean over the 2 latent dimensions where a sum belongs, or a factor 2 missing?"),
           2.0: ("double", "a factor 1/2 missing?")}


# Simple coefficients a term of a formula can be found with: (the cause's word, how it is said).
COEFFICIENTS = {0.0: ("missing", "missing"), 2.0: ("doubled", "doubled"), 0.5: ("halved", "halved"),
                -1.0: ("sign-flipped", "with its sign flipped"), -2.0: ("scaled", "doubled with its sign flipped"),
                -0.5: ("scaled", "halved with its sign flipped"),
                float(DATA_DIM): ("scaled", f"times {DATA_DIM} (added to each of the {DATA_DIM} pixels before "
                                            "the sum over them?)"),
                1 / DATA_DIM: ("scaled", f"divided by {DATA_DIM} (a mean over the pixels where a sum belongs?)")}


def simple(coefficient):
    """The simple value (1, or one of COEFFICIENTS) a fitted coefficient is, or None."""
    return next((value for value in (1.0, *COEFFICIENTS) if abs(coefficient - value) < 1e-3 * max(1.0, abs(value))),
                None)


def fitted_terms(found, terms, extras, atol):
    """found as a combination of the terms of the right formula (each with coefficient 1) and at most one or
    two terms students put in (extras, coefficient 0), by least squares over found's entries, with every
    coefficient a simple value and the combination exact within atol: (cause, text), or None.

    terms, extras: {(identifier, the term as the formula writes it, in the student's terms): values of found's
    shape}. Terms from other formulas that a student writes by mistake name what they most likely are in their
    text. A fit with as many terms as entries proves nothing, so it is not tried.
    """
    target = found.flatten().double()
    extra = list(extras.items())
    choices = [()] + [(e,) for e in extra] + [(a, b) for i, a in enumerate(extra) for b in extra[i + 1:]]
    for chosen in choices:
        columns = [*terms.items(), *chosen]
        if len(columns) >= target.numel():
            continue
        matrix = torch.stack([values.double().flatten() for _, values in columns], dim=1)
        if int(torch.linalg.matrix_rank(matrix)) < len(columns):
            continue
        fitted = [simple(c) for c in torch.linalg.lstsq(matrix, target[:, None]).solution.flatten().tolist()]
        wanted = [1.0] * len(terms) + [0.0] * len(chosen)
        if None in fitted or fitted == wanted or 0.0 in fitted[len(terms):]:
            continue
        if bool(((matrix @ torch.tensor(fitted, dtype=matrix.dtype)) - target).abs().max() <= atol):
            return describe_fit([key for key, _ in columns], fitted, len(terms))
    return None


def describe_fit(keys, coefficients, n_terms):
    """What a fit of fitted_terms says: each term of the formula found with another coefficient, and each
    term put in, or put in the place of one left out."""
    changed = [(key, c) for key, c in zip(keys[:n_terms], coefficients) if c != 1.0]
    added = [(key, c) for key, c in zip(keys[n_terms:], coefficients[n_terms:])]
    missing = [key for key, c in changed if c == 0.0]
    if len(missing) == 1 and len(added) == 1 and added[0][1] == 1.0:
        (new, text), (old, old_text) = added[0][0], missing[0]
        changed, added = [(key, c) for key, c in changed if c != 0.0], []
        parts = [f"{text} where {old_text} belongs"]
        causes = [f"{new}-for-{old}"]
    else:
        parts, causes = [], []
    parts += [f"the term {text} {COEFFICIENTS[c][1]}" for (_, text), c in changed]
    causes += [f"{cause}-{COEFFICIENTS[c][0]}" for (cause, _), c in changed]
    parts += [f"an extra term {'' if c == 1.0 else f'{c:g} * '}{text}" for (_, text), c in added]
    causes += [f"extra-{cause}" for (cause, _), c in added]
    cause = "-and-".join(causes)  # the grader keeps 61 characters of an identifier
    return cause if len(cause) <= 61 else f"{causes[0]}-and-more", "it is the formula with " + "; and ".join(parts)


def named_constant(constant, atoms, tolerance=1e-4):
    """The constant a student's formula has, written with the quantities of the part (atoms: {name: value},
    e.g. {"log 2pi": ..., "K": 2, "n": 3, "log n": ...}): one of them times +-1, +-1/2 or +-2, or the sum of
    two of them times +-1 or +-1/2; None if none is within tolerance (the simplest that is, first)."""
    scales = {1.0: "", 0.5: "1/2 ", 2.0: "2 "}
    single = [((sign * scale, name),) for name in atoms for scale in scales for sign in (1, -1)]
    pairs = sorted((a + b for i, a in enumerate(single) for b in single[i + 1:]
                    if a[0][1] != b[0][1] and abs(a[0][0]) < 2 and abs(b[0][0]) < 2),
                   key=lambda pair: abs(pair[0][0]) + abs(pair[1][0]))
    for combination in single + pairs:
        if abs(constant - sum(scale * atoms[name] for scale, name in combination)) < tolerance:
            return " ".join(("-" if scale < 0 and not i else "- " if scale < 0 else "+ " if i else "")
                            + scales[abs(scale)] + name for i, (scale, name) in enumerate(combination))
    return None


def misshapen(found, expected, hints, atol):
    """What a result of the wrong shape, or with values that are not finite, is where its values say: a known
    mistake (hints' "mistakes", NaN where it has NaN), the expected values, or the values of each entry before
    the sum (hints' "entries"), summed or averaged over one dimension, or a (B, B) table whose diagonal is
    right: (cause, text), or None."""
    close = lambda a, b: tuple(a.shape) == tuple(b.shape) and bool(  # noqa: E731
        torch.allclose(a.double(), b.double(), atol=atol, rtol=1e-4, equal_nan=True))
    for (cause, text), result in hints.get("mistakes", {}).items():
        if close(found, result):
            return cause, f"it matches {text}"
    for what, source in (("the expected values", expected), ("the values of each entry", hints.get("entries"))):
        for dim in range(source.dim() if source is not None else 0):
            for word, reduce in (("sum", torch.sum), ("mean", torch.mean)):
                if close(found, reduce(source.double(), dim)):
                    batch = dim == 0 and source.dim() == expected.dim()
                    return (f"{word}-over-batch" if batch else f"{word}-over-dim-{dim}",
                            f"it is the {word} over dimension {dim} ({source.shape[dim]} entries"
                            f"{', the batch' if batch else ''}) of {what}, of shape {tuple(source.shape)}: a "
                            f"{word} over the wrong dimension, or one too many?")
    if expected.dim() == 1 and tuple(found.shape) == (len(expected),) * 2 and close(found.diagonal(), expected):
        return "diagonal-right", ("its diagonal is right: a table of every row with every row (z @ z.T?) where "
                                  "each row's own sum belongs")
    return None


def diagnosis(found, expected, atol, hints=None):
    """What a wrong result most likely is, in the student's terms, from the numbers alone: (cause, text).

    hints: {"mistakes": {(cause, what the mistake is): the result it gives}, "offsets": {(cause, what the
    mistake is): the constant it adds}, "where": {(cause, where, in words): a mask of found's shape}} for
    the part, where the references know the mistakes students make; then what holds between found and
    expected: off by a constant (named by what it equals, with "constant": {"text": the formula's constant
    in words, "value", "atoms": the quantities to write it with}, see named_constant), by a factor, a
    combination of the formula's terms ("terms" and "extras", see fitted_terms), or only in some entries
    (all of them in one place the hints name). Where nothing holds, the cause is "no-diagnosis".
    """
    hints = hints or {}
    close = lambda a, b: bool(torch.allclose(a, b.double(), atol=atol, rtol=1e-4))  # noqa: E731
    for (cause, text), result in hints.get("mistakes", {}).items():
        if tuple(result.shape) == tuple(found.shape) and close(found, result):
            return cause, f"it matches {text}"
    difference = found - expected
    if bool((difference - difference.mean()).abs().max() <= atol):
        offset = difference.mean().item()
        cause, named = next((key for key, value in hints.get("offsets", {}).items() if abs(offset - float(value)) < 1e-3),
                            ("off-by-constant", None))
        constant = hints.get("constant")
        written = named_constant(float(constant["value"]) + offset, constant["atoms"]) if constant and not named else None
        if written:
            cause, named = "wrong-constant", f"its constant is {written} where {constant['text']} belongs"
        if named or found.numel() > 1:
            return cause, f"it is off by the same {offset:+.4g} everywhere" + (f": {named}" if named else "")
    if bool((expected.abs() > 1e-6).all()):
        ratio = found / expected
        mean_ratio = ratio.mean().item()
        if found.numel() > 1 and bool((ratio - mean_ratio).abs().max() <= 1e-3 * abs(mean_ratio)):
            cause, named = next((key for factor, key in FACTORS.items() if abs(mean_ratio - factor) < 1e-3 * abs(factor)),
                                ("off-by-factor", None))
            return cause, f"it is {mean_ratio:.4g} times the expected value" + (f": {named}" if named else "")
    fit = fitted_terms(found, hints["terms"], hints.get("extras", {}), atol) if "terms" in hints else None
    if fit:
        return fit
    bad = (difference.abs() > atol).flatten()
    if int(bad.sum()) < bad.numel():
        cause, place = next((key for key, mask in hints.get("where", {}).items()
                             if not bool((bad & ~mask.flatten()).any())), ("some-entries-off", None))
        return cause, f"only {int(bad.sum())} of {bad.numel()} values are off" + (f", all {place}" if place else "")
    same_sign = (torch.sign(found) == torch.sign(expected)).double().mean().item()
    return "no-diagnosis", ("the signs are right, the sizes are not" if same_sign == 1 else
                            f"{same_sign:.0%} of the values have the expected sign")


def expect_close(found, expected, what, atol, rtol=0.0, hints=None):
    """found and expected agree within atol + rtol * |expected|, entry by entry; if not, say what the
    difference most likely means (diagnosis, with the part's hints; for a wrong shape or values that are not
    finite, misshapen)."""
    if isinstance(found, torch.Tensor) and (tuple(found.shape) != tuple(expected.shape)
                                            or not bool(torch.isfinite(found).all())):
        named = misshapen(found, expected, hints or {}, atol)
        if named:
            found_what = (f"shape {tuple(found.shape)}" if tuple(found.shape) != tuple(expected.shape) else
                          "values that are not finite")
            raise failure(f"{what}: expected shape {tuple(expected.shape)} and finite values, found {found_what}; "
                          f"{named[1]}", named[0])
    expect_tensor(found, what, expected.shape)
    found, expected = found.double(), expected.double()
    bad = (found - expected).abs() > atol + rtol * expected.abs()
    if bool(bad.any()):
        cause, text = diagnosis(found, expected, atol + rtol * expected.abs().max().item(), hints)
        raise failure(f"{what}: expected the values of an independent computation within {atol:g}, found "
                      f"{int(bad.sum())} of {bad.numel()} values off (largest difference "
                      f"{max_difference(found, expected):.3g}); " + text, cause)


def expect_png(path, size=None):
    expect(Path(path).is_file(), f"expected the figure {Path(path).name}, found no such file", "no-figure")
    try:
        with Image.open(path) as image:
            image.load()
            expect(image.format == "PNG", f"{Path(path).name}: expected a PNG, found {image.format}", "not-png")
            if size is not None:
                expect(image.size == size, f"{Path(path).name}: expected {size[0]} x {size[1]} pixels, "
                                           f"found {image.size[0]} x {image.size[1]}", "figure-size")
            return image.convert("L")
    except OSError as err:
        raise failure(f"{Path(path).name}: expected a PNG image, found a file that cannot be read ({err})",
                      "not-png") from None


def expect_normal_draws(noise, what, hint):
    """noise (n values, n of 16 or more) looks like independent N(0, 1) draws, as far as a few numbers can
    tell: none beyond 6, not half of them repeating one another (mu +- sigma, or a grid, in place of draws:
    real draws never come that close), not evenly spaced (a grid), not all of one sign with a small spread
    (uniform draws), and a spread that n draws give but once in millions.

    hint: what the noise is, in the student's terms, for the messages (e.g. "(z - mu) / sigma")
    """
    values = noise.double().flatten()
    n = len(values)
    expect(bool((values.abs() < 6).all()), f"{what}: expected draws of N(0, I) in {hint}, found values up to "
                                           f"{values.abs().max().item():.1f} standard deviations away", "not-drawn")
    gaps = (values[:, None] - values[None, :]).abs() + torch.eye(n, dtype=values.dtype)
    twinned = int((gaps < 1e-4).any(1).sum())
    expect(twinned < n / 2, f"{what}: expected random draws of N(0, I) in {hint}, found {twinned} of {n} values "
                            "repeating others (mu +- sigma, or a fixed grid, in place of a draw?)", "deterministic-draws")
    steps = values.sort().values.diff()
    expect(not bool((steps - steps.mean()).abs().max() < 1e-4), f"{what}: expected random draws of N(0, I) in "
                                                             f"{hint}, found {n} evenly spaced values (a fixed grid "
                                                             "in place of a draw?)", "deterministic-draws")
    variance = values.var().item()
    # All of one sign with a small spread: N(0, 1) draws give that once in hundreds of millions, U[0, 1) always.
    expect(not (bool((values >= 0).all() or (values <= 0).all()) and variance < 0.25),
           f"{what}: expected draws of N(0, I) in {hint}, found all {n} of one sign, with variance {variance:.3g}: "
           "uniform draws (torch.rand) where normal ones (torch.randn) belong?", "uniform-not-normal")
    expect(0.05 < variance < 5, f"{what}: expected draws of N(0, I) in {hint}, whose variance is 1, found "
                                f"{variance:.3g}", "wrong-spread")


def passes(check, *args):
    """Whether check(*args) (one of the expect_ functions) passes: for a diagnosis that tries what else the
    values are draws of."""
    try:
        check(*args)
    except AssertionError:
        return False
    return True


def expect_binary_draws(samples, means, what):
    """samples are 0/1 draws with P(1) = means: binary, impossible where means is 0 or 1, the number
    of ones within 5 standard deviations of its expectation, and so is the number of pixels that took
    their less likely value (1 where the mean is below 1/2, 0 where it is above), which a threshold
    instead of a draw never gives."""
    expect(bool(((samples == 0) | (samples == 1)).all()), f"{what}: expected binary values, 0 or 1", "not-binary")
    means = means.double()
    expect(not bool(((samples == 1) & (means == 0)).any() or ((samples == 0) & (means == 1)).any()),
           f"{what}: expected no 1 where the mean is 0 and no 0 where it is 1", "impossible-draw")
    unlikely = torch.minimum(means, 1 - means)  # the probability of a pixel's less likely value
    expected = unlikely.sum().item()
    found = ((samples.double() - means).abs() > 0.5).sum().item()
    unlikely_spread = (unlikely * (1 - unlikely)).sum().sqrt().item()
    threshold = found == 0 and expected > 5 * unlikely_spread
    thresholded = "; are the means thresholded rather than drawn from?" if threshold else ""
    spread = (means * (1 - means)).sum().sqrt().item()
    surplus = (samples.double() - means).sum().item()
    expect(abs(surplus) <= 5 * spread + 1e-6,
           f"{what}: expected about {means.sum().item():.0f} ones (the sum of the means), found "
           f"{samples.sum().item():.0f}; each pixel must be 1 with probability equal to its mean" + thresholded,
           "thresholded" if threshold else "wrong-frequency")
    expect(abs(found - expected) <= 5 * unlikely_spread + 1e-6,
           f"{what}: expected about {expected:.0f} pixels at their less likely value (a pixel of mean 0.3 is 1 "
           f"three times in ten), found {found:.0f}" + thresholded, "thresholded" if threshold else "wrong-frequency")
