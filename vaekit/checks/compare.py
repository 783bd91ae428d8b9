"""How a check compares what the student's code gave with what is right, and names the mistake.

Every comparison raises AssertionError with a message that says what was
expected, what was found and, where the numbers show it, what the mistake
most likely is (diagnosis): a result that matches a known mistake of the
part, or one off by a constant, by a factor, or only in some entries.
Nothing here knows a formula of the model; the expected values come in.

Beside its message, each AssertionError carries the cause it names as a short,
stable identifier in its attribute ``cause`` (e.g. "missing-constant"), the same
whatever the numbers in the message: the grader counts a class's failures by it
(instructor/judge.py prefixes the part). A hint names its mistake by a pair
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
    if len(found) == len(expected) + 1 and found[:len(expected)] == expected:
        return "missing-sum", f": one value per entry of the last dimension ({found[-1]}); is a sum over it missing?"
    if found == expected[::-1] and len(found) == 2:
        return "transposed", ": the transpose of the expected shape"
    if not found and expected:
        return "reduced-over-batch", ": one number where one value per row belongs; summed or averaged over the batch?"
    return "wrong-shape", ""


def expect_tensor(value, name, shape):
    expect(isinstance(value, torch.Tensor), f"{name}: expected a tensor of shape {shape}, found {describe(value)}",
           "not-a-tensor")
    cause, text = shape_diagnosis(value.shape, shape)
    expect(tuple(value.shape) == tuple(shape), f"{name}: expected shape {tuple(shape)}, found {tuple(value.shape)}"
                                               + text, cause)
    overflow = bool(torch.isinf(value).any())
    expect(bool(torch.isfinite(value).all()), f"{name}: expected finite values, found "
           + ("inf: did exp overflow (exp(1000) is inf)?" if overflow else "nan"), "overflow" if overflow else "nan")


def max_difference(found, expected):
    return (found.double() - expected.double()).abs().max().item()


# Factors a result can be off by, and what each most likely means: (cause, text).
FACTORS = {-1.0: ("flipped-sign", "the sign is flipped"),
           1 / DATA_DIM: ("mean-over-pixels", "a mean over the 784 pixels where a sum belongs?"),
           0.5: ("half", "a mean over the 2 latent dimensions where a sum belongs, or a factor 2 missing?"),
           2.0: ("double", "a factor 1/2 missing?")}


def diagnosis(found, expected, atol, hints=None):
    """What a wrong result most likely is, in the student's terms, from the numbers alone: (cause, text).

    hints: {"mistakes": {(cause, what the mistake is): the result it gives}, "offsets": {(cause, what the
    mistake is): the constant it adds}, "where": {(cause, where, in words): a mask of found's shape}} for
    the part, where the references know the mistakes students make; then what holds between found and
    expected: off by a constant, by a factor, or only in some entries (all of them in one place the hints
    name). Where nothing holds, the cause is "no-diagnosis".
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
        if named or found.numel() > 1:
            return cause, f"it is off by the same {offset:+.4g} everywhere" + (f": {named}" if named else "")
    if bool((expected.abs() > 1e-6).all()):
        ratio = found / expected
        mean_ratio = ratio.mean().item()
        if found.numel() > 1 and bool((ratio - mean_ratio).abs().max() <= 1e-3 * abs(mean_ratio)):
            cause, named = next((key for factor, key in FACTORS.items() if abs(mean_ratio - factor) < 1e-3 * abs(factor)),
                                ("off-by-factor", None))
            return cause, f"it is {mean_ratio:.4g} times the expected value" + (f": {named}" if named else "")
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
    difference most likely means (diagnosis, with the part's hints)."""
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
    real draws never come that close), not evenly spaced (a grid), and a spread that n draws give but once
    in millions.

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
    expect(0.05 < variance < 5, f"{what}: expected draws of N(0, I) in {hint}, whose variance is 1, found "
                                f"{variance:.3g}", "wrong-spread")


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
