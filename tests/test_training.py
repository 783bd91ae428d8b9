"""The notebook's own train(): it learns, it resumes exactly, it stops on NaN."""
import pytest
import torch

from tools.notebook_code import notebook_namespace


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
    save = nb["save_checkpoint"]

    def save_then_die_after_epoch_2(path, state):
        save(path, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setitem(nb, "save_checkpoint", save_then_die_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        nb["train"](nb["encoder"], nb["decoder"], x, config, tmp_path / "cut.pt")
    monkeypatch.setitem(nb, "save_checkpoint", save)

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
    kept = nb["load_checkpoint"](path, config)
    assert kept["epoch"] == 1 and len(kept["loss_history"]) == 1
    assert all(torch.isfinite(t).all() for t in kept["decoder"].values())
