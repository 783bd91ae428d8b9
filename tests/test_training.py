"""The notebook's own train(): it learns, it resumes exactly, it stops on NaN."""
import pytest
import torch

from tools.notebook_code import notebook_namespace
from vaekit import training


@pytest.fixture(scope="module")
def nb():
    return notebook_namespace()


def fresh_run(nb, n_epochs, n_images=2000):
    """Re-initialised networks (seeded) and a config for a short run on a few images."""
    torch.manual_seed(0)
    for network in (nb["encoder"], nb["decoder"]):
        for layer in network:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
    return nb["x_train"][:n_images], {**nb["CONFIG"], "n_epochs": n_epochs}


def parameters(nb):
    return [p.detach().clone() for net in (nb["encoder"], nb["decoder"]) for p in net.parameters()]


def test_a_short_run_lowers_the_loss(nb, tmp_path):
    x, config = fresh_run(nb, n_epochs=4)
    history = nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "c.pt")
    assert len(history) == 4
    assert history[-1] < history[0] - 20, history


def test_interrupted_run_resumes_bitwise_identically(nb, tmp_path, monkeypatch):
    x, config = fresh_run(nb, n_epochs=3)
    nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "whole.pt")
    uninterrupted = parameters(nb)

    x, config = fresh_run(nb, n_epochs=3)
    save = training.save_checkpoint

    def save_then_die_after_epoch_2(path, state):
        save(path, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", save_then_die_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "cut.pt")
    monkeypatch.setattr(training, "save_checkpoint", save)

    fresh_run(nb, n_epochs=3)  # scramble the networks and the RNG, as a new process would
    torch.manual_seed(123)
    history = nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "cut.pt")
    assert len(history) == 3
    assert all(torch.equal(a, b) for a, b in zip(parameters(nb), uninterrupted))


def test_finished_checkpoint_is_loaded_not_retrained(nb, tmp_path, capsys):
    x, config = fresh_run(nb, n_epochs=1)
    first = nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "c.pt")
    trained = parameters(nb)
    fresh_run(nb, n_epochs=1)
    again = nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "c.pt")
    assert again == first
    assert all(torch.equal(a, b) for a, b in zip(parameters(nb), trained))
    assert "VAE_RETRAIN=1" in capsys.readouterr().out


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(nb, tmp_path, monkeypatch):
    x, config = fresh_run(nb, n_epochs=2)  # 2000 images: 10 batches an epoch
    real_loss, calls = nb["loss"], []

    def loss_that_breaks_in_epoch_2(batch):
        calls.append(1)
        return real_loss(batch) * (float("nan") if len(calls) > 10 else 1.0)

    monkeypatch.setitem(nb, "loss", loss_that_breaks_in_epoch_2)
    path = tmp_path / "c.pt"
    with pytest.raises(FloatingPointError, match="epoch 2.*still holds epoch 1"):
        nb["train"](nb["encoder"], nb["decoder"], x, config, path)
    kept = training.load_checkpoint(path, config)
    assert kept["epoch"] == 1 and len(kept["loss_history"]) == 1
    assert all(torch.isfinite(t).all() for t in kept["decoder"].values())


def test_nan_in_the_first_epoch_says_nothing_was_saved(nb, tmp_path, monkeypatch):
    x, config = fresh_run(nb, n_epochs=2)
    real_loss = nb["loss"]
    monkeypatch.setitem(nb, "loss", lambda batch: real_loss(batch) * float("nan"))
    path = tmp_path / "c.pt"
    with pytest.raises(FloatingPointError, match="in epoch 1; training stopped, and no epoch of this run was saved"):
        nb["train"](nb["encoder"], nb["decoder"], x, config, path)
    assert not path.exists()


def test_a_grey_pixel_anywhere_in_x_train_is_refused_before_the_first_step(nb, tmp_path, monkeypatch):
    # train() checks all of x_train once before it trains: a grey pixel in any row, in the first
    # batch or in the last, stops it before a step is taken and before a checkpoint is written.
    real_loss, steps = nb["loss"], []
    monkeypatch.setitem(nb, "loss", lambda batch: steps.append(1) or real_loss(batch))
    for row in (0, 1999):
        x, config = fresh_run(nb, n_epochs=1)
        x = x.clone()
        x[row, 400] = 0.5
        with pytest.raises(ValueError, match="x_train must be binary"):
            nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "c.pt")
        assert steps == []
        assert not (tmp_path / "c.pt").exists()


def test_every_step_checks_its_arguments(nb, tmp_path, monkeypatch):
    # An encoder that starts to put out inf, on the first step or on a later one: the Gaussian's
    # check names mu there and then, and no checkpoint of that epoch is written.
    real_loss = nb["loss"]
    for broken_step in (1, 7):
        x, config = fresh_run(nb, n_epochs=1)
        steps = []

        def loss_with_an_infinite_mean(batch):
            steps.append(1)
            if len(steps) == broken_step:
                with torch.no_grad():
                    nb["encoder"][-1].bias[0] = float("inf")
            return real_loss(batch)

        monkeypatch.setitem(nb, "loss", loss_with_an_infinite_mean)
        path = tmp_path / f"c{broken_step}.pt"
        with pytest.raises(ValueError, match="mu must be finite"):
            nb["train"](nb["encoder"], nb["decoder"], x, config, path)
        assert len(steps) == broken_step
        assert not path.exists()
