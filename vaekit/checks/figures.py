"""The checks of the four visualizations of section 5.

Each visualization's cell leaves tensors behind (its contract) and saves a
figure. The tensors are compared with what the student's own networks give
(in the notebook) or the grader's networks holding the seed's weights (when
grading); random draws are judged by what a draw must satisfy. How a figure
looks is free: only its file is checked (a PNG; the lattice's exact pixels).
"""
from pathlib import Path

import torch

from vaekit.checks.compare import (expect, expect_binary_draws, expect_close, expect_normal_draws, expect_png,
                                   expect_tensor, passes)
from vaekit.checks.part import DATA_DIM, LATENT_DIM, Part, no_inputs, plain, public_check, report

LATTICE_SIZE, LATTICE_RANGE = 50, 3.0
LATTICE_PICKED = range(0, LATTICE_SIZE, 7)  # the tile rows and columns compared: 0, 7, ..., 49
SCATTER_ROWS = 97  # every 97th training digit is compared


# ---------------------------------------------------------------------------
# 5.1 the scatter of the encoder means
# ---------------------------------------------------------------------------

def scatter_rows(n):
    return torch.arange(0, n, SCATTER_ROWS)


def run_scatter(inputs, device, mu_train):
    return {"mu_train": plain(mu_train)}


def compare_scatter(inputs, results, expected, figure):
    """expected: "mu" and "log_sigma" of q(z | x) for the training digits scatter_rows(60000)."""
    mu_train = results["mu_train"]
    rows = scatter_rows(60000)
    expect(not (isinstance(mu_train, torch.Tensor) and tuple(mu_train.shape) == (60000, 2 * LATENT_DIM)
                and torch.allclose(mu_train[rows, :LATENT_DIM].double(), expected["mu"].double(), atol=1e-4)),
           f"mu_train: expected shape (60000, {LATENT_DIM}), found (60000, {2 * LATENT_DIM}): the encoder's "
           f"{2 * LATENT_DIM} outputs, of which mu is the first {LATENT_DIM} (encode(x)[0])", "encoder-outputs-not-mu")
    expect_tensor(mu_train, "mu_train", (60000, LATENT_DIM))
    found = mu_train[scatter_rows(len(mu_train))]
    if not torch.allclose(found.double(), expected["mu"].double(), atol=1e-4):
        # The right means at other rows: each compared row's mean is somewhere in mu_train.
        nearest = torch.cdist(expected["mu"].double(), mu_train.double()).min(dim=1).values
        expect(not bool((nearest <= 1e-4).all()),
               "mu_train: expected the encoder means of the training digits in x_train's order; it holds the "
               "right means in another order (shuffled, or sorted?): keep x_train's order", "reordered")
    # Codes drawn from q instead of its means: (found - mu) / sigma is standard normal.
    noise = (found.double() - expected["mu"].double()) / expected["log_sigma"].double().exp()
    expect(not (abs(noise.mean().item()) < 0.2 and abs(noise.std().item() - 1) < 0.2),
           "mu_train: expected the encoder means of the training digits, found codes drawn from q(z | x) around "
           "them (mu + sigma * noise): the means are wanted, not samples", "sampled-codes")
    expect_close(found, expected["mu"], "mu_train, the encoder means of the training digits (in x_train's order)",
                 atol=1e-4, hints={"mistakes": {("log-sigma-not-mu", "the encoder's log_sigma, not its mu"):
                                                expected["log_sigma"],
                                                ("every-other-output", "outputs 0 and 2 of the encoder: every other "
                                                                       "output, where mu is the first two"):
                                                torch.stack([expected["mu"][:, 0], expected["log_sigma"][:, 0]], 1)}})
    expect_png(figure)
    return [f"mu_train: {tuple(mu_train.shape)}, the encoder means of the training digits: ok",
            f"figure saved: {Path(figure).name}"]


SCATTER = Part("scatter (5.1)", ("mu_train",), no_inputs, run_scatter, compare_scatter, "latent_scatter.png",
               visualization=True)


def check_scatter(mu_train, encode, x_train, figure):
    def own(inputs, results):
        with torch.no_grad():
            mu, log_sigma = encode(x_train[scatter_rows(len(x_train)).to(x_train.device)])
        return {"mu": mu.cpu(), "log_sigma": log_sigma.cpu()}
    public_check(SCATTER, x_train.device, mu_train, expected=own, figure=figure)


# ---------------------------------------------------------------------------
# 5.2 digits from the prior
# ---------------------------------------------------------------------------

def run_prior_samples(inputs, device, z_prior, prior_means, prior_samples):
    return {"z_prior": plain(z_prior), "prior_means": plain(prior_means), "prior_samples": plain(prior_samples)}


def compare_prior_samples(inputs, results, expected, figure):
    """expected: "means" sigmoid(decoder(z_prior)) and "logits" decoder(z_prior) at the reported z_prior."""
    z_prior, prior_means, prior_samples = results["z_prior"], results["prior_means"], results["prior_samples"]
    expect_tensor(z_prior, "z_prior", (10, LATENT_DIM))
    expect_tensor(prior_means, "prior_means", (10, DATA_DIM))
    expect_tensor(prior_samples, "prior_samples", (10, 3, DATA_DIM))
    expect_normal_draws(z_prior, "z_prior", "z_prior")
    expect_close(prior_means, expected["means"], "prior_means, sigmoid(decoder(z_prior))", atol=1e-5,
                 hints={"mistakes": {("sigmoid-missing", "decoder(z_prior), the logits: is the sigmoid missing?"):
                                     expected["logits"]}})
    # The draws of means.repeat(3, 1) viewed as (10, 3, 784): the codes' rows mixed, each sample of another code.
    mixed = prior_means.repeat(3, 1).view_as(prior_samples)
    expect(passes(expect_binary_draws, prior_samples, prior_means.unsqueeze(1).expand_as(prior_samples), "")
           or not passes(expect_binary_draws, prior_samples, mixed, ""),
           "prior_samples: expected 3 draws from each code's means in its row, found draws of other codes' means: "
           "repeat(3, 1) then view mixes the codes; stack the 3 draws along dimension 1", "codes-mixed")
    expect_binary_draws(prior_samples, prior_means.unsqueeze(1).expand_as(prior_samples), "prior_samples")
    expect(not bool((prior_samples[:, 0] == prior_samples[:, 1]).all() and
                    (prior_samples[:, 1] == prior_samples[:, 2]).all()),
           "prior_samples: expected 3 independent samples per code, found 3 identical ones", "same-draw-thrice")
    expect_png(figure)
    return [f"z_prior {tuple(z_prior.shape)}, prior_means {tuple(prior_means.shape)} = sigmoid(decoder(z)), "
            f"prior_samples {tuple(prior_samples.shape)}: ok",
            "the samples are binary and as frequent as the means say: ok",
            f"figure saved: {Path(figure).name}"]


PRIOR_SAMPLES = Part("prior samples (5.2)", ("z_prior", "prior_means", "prior_samples"), no_inputs,
                     run_prior_samples, compare_prior_samples, "prior_samples.png", visualization=True)


def check_prior_samples(z_prior, prior_means, prior_samples, decoder, figure):
    def own(inputs, results):
        device = next(decoder.parameters()).device
        with torch.no_grad():
            logits = decoder(results["z_prior"].to(device)).cpu()
        return {"means": torch.sigmoid(logits), "logits": logits}
    public_check(PRIOR_SAMPLES, "cpu", z_prior, prior_means, prior_samples, expected=own, figure=figure)


# ---------------------------------------------------------------------------
# 5.3 reconstructions
# ---------------------------------------------------------------------------

def run_reconstructions(inputs, device, x_four, z_four, recon_means, recon_samples):
    return {"x_four": plain(x_four), "z_four": plain(z_four), "recon_means": plain(recon_means),
            "recon_samples": plain(recon_samples)}


def compare_reconstructions(inputs, results, expected, figure):
    """expected: "in_train" (4 bools: each row of x_four is a training digit), "mu" and "sigma" of
    q(z | x) for x_four, "means" sigmoid(decoder(z_four)) at the reported codes."""
    x_four, z_four = results["x_four"], results["z_four"]
    recon_means, recon_samples = results["recon_means"], results["recon_samples"]
    expect_tensor(x_four, "x_four", (4, DATA_DIM))
    expect_tensor(z_four, "z_four", (4, 2, LATENT_DIM))
    expect_tensor(recon_means, "recon_means", (4, 2, DATA_DIM))
    expect_tensor(recon_samples, "recon_samples", (4, 2, DATA_DIM))
    expect(all(expected["in_train"]), "x_four: expected 4 digits taken from x_train, found rows that are not in it",
           "not-training-digits")
    expect(not bool((z_four[:, 0] == z_four[:, 1]).all()), "z_four: expected two different draws from q(z | x) of "
                                                          "each digit, found the same code twice", "same-draw-twice")
    standardised = (z_four.double() - expected["mu"].unsqueeze(1)) / expected["sigma"].unsqueeze(1)
    try:
        expect_normal_draws(standardised, "z_four", "(z_four - mu) / sigma, with the encoder's mu and sigma of each "
                                                    "digit")
    except AssertionError as err:  # draws of the wrong spread: sigma passed where log_sigma belongs spreads exp(sigma)
        as_log_sigma = (z_four.double() - expected["mu"].unsqueeze(1)) / expected["sigma"].exp().unsqueeze(1)
        expect(err.cause != "wrong-spread" or not passes(expect_normal_draws, as_log_sigma, "", ""),
               f"{err}; they are draws of N(0, I) in (z_four - mu) / exp(sigma): sigma passed to the sampler where "
               "log_sigma belongs?", "sigma-as-log-sigma")
        raise
    expect_close(recon_means, expected["means"], "recon_means, sigmoid(decoder(z_four))", atol=1e-5)
    expect_binary_draws(recon_samples, recon_means, "recon_samples")
    expect_png(figure)
    return [f"x_four {tuple(x_four.shape)} from the training set; z_four {tuple(z_four.shape)} drawn from q(z | x)",
            f"recon_means {tuple(recon_means.shape)} = sigmoid(decoder(z)); recon_samples binary draws: ok",
            f"figure saved: {Path(figure).name}"]


RECONSTRUCTIONS = Part("reconstructions (5.3)", ("x_four", "z_four", "recon_means", "recon_samples"), no_inputs,
                       run_reconstructions, compare_reconstructions, "reconstructions.png", visualization=True)


def check_reconstructions(x_four, z_four, recon_means, recon_samples, encode, decoder, x_train, figure):
    def own(inputs, results):
        x = results["x_four"].to(x_train.device)
        with torch.no_grad():
            mu, log_sigma = encode(x)
            means = torch.sigmoid(decoder(results["z_four"].reshape(8, LATENT_DIM).to(x.device))).view(4, 2, DATA_DIM)
        return {"in_train": [bool((x_train == row).all(1).any()) for row in x], "mu": mu.double().cpu(),
                "sigma": log_sigma.exp().double().cpu(), "means": means.cpu()}
    public_check(RECONSTRUCTIONS, "cpu", x_four, z_four, recon_means, recon_samples, expected=own,
                 figure=figure)


# ---------------------------------------------------------------------------
# 5.4 the lattice
# ---------------------------------------------------------------------------

def run_lattice(inputs, device, lattice_image):
    return {"lattice_image": plain(lattice_image)}


# Where tile row r and column c of the lattice sit in z: as asked (z_1 to the right, z_2 upwards), and as
# two mistakes place them.
LATTICE_LAYOUTS = {"tiles": lambda row, column: (column, LATTICE_SIZE - 1 - row),
                   "upside down": lambda row, column: (column, row),
                   "transposed": lambda row, column: (row, LATTICE_SIZE - 1 - column)}


def lattice_codes(layout="tiles"):
    """The codes of the compared lattice tiles, row by row: (len(LATTICE_PICKED) ** 2, 2)."""
    ticks = torch.linspace(-LATTICE_RANGE, LATTICE_RANGE, LATTICE_SIZE, dtype=torch.float64)
    place = LATTICE_LAYOUTS[layout]
    return torch.tensor([[ticks[i] for i in place(row, column)] for row in LATTICE_PICKED for column in LATTICE_PICKED])


def compare_lattice(inputs, results, expected, figure):
    """expected: for each layout of LATTICE_LAYOUTS, sigmoid(decoder(lattice_codes(layout))) as (n, 28, 28), and
    "logits", decoder(lattice_codes()) as (n, 28, 28)."""
    side = LATTICE_SIZE * 28
    image = results["lattice_image"]
    expect_tensor(image, "lattice_image", (side, side))
    tiles = torch.stack([image[28 * row:28 * row + 28, 28 * column:28 * column + 28]
                         for row in LATTICE_PICKED for column in LATTICE_PICKED])
    mistakes = {("upside-down", "the lattice upside down: z_2 must grow upwards, row 0 at the top holding z_2 = 3"):
                expected["upside down"],
                ("transposed", "the lattice transposed: z_1 must grow to the right, along a row"): expected["transposed"],
                ("sigmoid-missing", "the decoder's logits, not sigmoid of them: is the sigmoid missing?"):
                    expected["logits"]}
    expect_close(tiles, expected["tiles"], "lattice_image: the tile in tile row r and column c is the decoder's "
                                           "means at z = (z1[c], z2[49 - r]) over [-3, 3]^2, z_1 to the right and "
                                           "z_2 upwards", atol=1e-4, hints={"mistakes": mistakes})
    saved = expect_png(figure, size=(side, side))
    grey = torch.frombuffer(bytearray(saved.tobytes()), dtype=torch.uint8).view(side, side)
    worst = (grey.double() / 255 - image.double()).abs().max().item()
    low, high = image.double().min(), image.double().max()
    cause, named = next(((cause, text) for cause, text, levels in (
        ("not-times-255", ": the means not multiplied by 255 before the conversion to bytes?", image.double()),
        ("autoscaled", ": the image stretched from its own darkest to its lightest pixel (plt.imsave or imshow "
                       "without vmin=0, vmax=1?)", 255 * (image.double() - low) / (high - low)))
        if (grey.double() - levels).abs().max().item() <= 2.5), ("figure-differs", ""))
    expect(worst <= 2.5 / 255, f"{Path(figure).name}: expected the lattice image's means as grey levels (0 black, "
                               f"255 white), found pixels {worst * 255:.0f} grey levels away" + named, cause)
    return [f"lattice_image: {tuple(image.shape)}, the decoder's means tiled with z_1 to the right and z_2 "
            "upwards: ok", f"{Path(figure).name}: {saved.size[0]} x {saved.size[1]} pixels, the same image: ok"]


LATTICE = Part("lattice (5.4)", ("lattice_image",), no_inputs, run_lattice, compare_lattice, "latent_lattice.png",
               visualization=True)


def check_lattice(lattice_image, decoder, figure):
    def own(inputs, results):
        device = next(decoder.parameters()).device
        with torch.no_grad():
            logits = {layout: decoder(lattice_codes(layout).float().to(device)).view(-1, 28, 28).cpu()
                      for layout in LATTICE_LAYOUTS}
        return {**{layout: torch.sigmoid(values) for layout, values in logits.items()}, "logits": logits["tiles"]}
    public_check(LATTICE, "cpu", lattice_image, expected=own, figure=figure)


def check_figures(folder, names):
    for name in names:
        expect_png(Path(folder) / f"{name}.png")
    report([f"figures saved: {', '.join(names)}"])
