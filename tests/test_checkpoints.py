"""Checkpoints: atomic writes, and refusal of damaged, foreign or mismatched files."""
import os

import pytest
import torch
from torch import nn

from checkpoints import (FORMAT_VERSION, build_networks, CheckpointError, load_checkpoint, networks_from_checkpoint,
                         restore_training_state, save_checkpoint, training_state)

CONFIG = {"data_dim": 6, "hidden_dim": 5, "latent_dim": 2, "batch_size": 4,
          "lr": 1e-3, "n_epochs": 3, "seed": 0}


def small_networks(config=CONFIG):
    encoder, decoder = build_networks(config)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()])
    return encoder, decoder, optimizer


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    encoder, decoder, optimizer = small_networks()
    path = tmp_path / "run.pt"
    state = training_state(CONFIG, [3.0, 2.0], encoder, decoder, optimizer, torch.Generator().manual_seed(7))
    save_checkpoint(path, state)
    return path, encoder, decoder


def test_round_trip_restores_weights_history_and_random_state(saved):
    path, encoder, decoder = saved
    expected_draw = torch.rand(3)  # the global RNG continues from the saved state
    fresh_encoder, fresh_decoder, optimizer = small_networks()
    shuffle_rng = torch.Generator()
    history = restore_training_state(load_checkpoint(path, CONFIG), fresh_encoder, fresh_decoder,
                                     optimizer, shuffle_rng)
    assert history == [3.0, 2.0]
    for a, b in zip([*encoder.parameters(), *decoder.parameters()],
                    [*fresh_encoder.parameters(), *fresh_decoder.parameters()]):
        assert torch.equal(a, b)
    assert torch.equal(torch.rand(3), expected_draw)
    assert torch.equal(torch.randperm(10, generator=shuffle_rng),
                       torch.randperm(10, generator=torch.Generator().manual_seed(7)))
    assert list(path.parent.iterdir()) == [path], "no temporary file is left behind"


def test_networks_rebuilt_from_a_checkpoint_compute_the_same(saved):
    path, encoder, decoder = saved
    rebuilt_encoder, rebuilt_decoder = networks_from_checkpoint(load_checkpoint(path))
    x = torch.rand(4, 6)
    assert torch.equal(rebuilt_encoder(x), encoder(x))
    assert torch.equal(rebuilt_decoder(x[:, :2]), decoder(x[:, :2]))


def test_a_failed_write_keeps_the_old_file(saved, monkeypatch):
    path, _, _ = saved
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"anything": 1})
    assert path.read_bytes() == before
    assert list(path.parent.iterdir()) == [path]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_file_is_refused(saved, damage):
    path, _, _ = saved
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(4000), "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint.*Delete"):
        load_checkpoint(path, CONFIG)


def test_other_configuration_is_refused_with_the_difference(saved):
    path, _, _ = saved
    with pytest.raises(CheckpointError, match="hidden_dim: 5 in the file, 7 now"):
        load_checkpoint(path, {**CONFIG, "hidden_dim": 7})


def test_newer_format_is_refused(saved):
    path, _, _ = saved
    state = torch.load(path, weights_only=True)
    state["format"] = FORMAT_VERSION + 1
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="newer version"):
        load_checkpoint(path, CONFIG)


def test_foreign_dict_and_arbitrary_objects_are_refused(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="missing format"):
        load_checkpoint(path)
    torch.save({"format": 1, "payload": nn.Linear(2, 2)}, path)  # a pickled module: not weights only
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint"):
        load_checkpoint(path)


def test_finished_run_keeps_only_weights_and_history(tmp_path):
    encoder, decoder, optimizer = small_networks()
    path = tmp_path / "done.pt"
    save_checkpoint(path, training_state(CONFIG, [3.0, 2.0, 1.5], encoder, decoder, optimizer, torch.Generator()))
    checkpoint = load_checkpoint(path, CONFIG)
    assert checkpoint["epoch"] == CONFIG["n_epochs"]
    assert "optimizer" not in checkpoint and "rng" not in checkpoint
    fresh_encoder, fresh_decoder, fresh_optimizer = small_networks()
    assert restore_training_state(checkpoint, fresh_encoder, fresh_decoder, fresh_optimizer,
                                  torch.Generator()) == [3.0, 2.0, 1.5]
    assert torch.equal(fresh_decoder[2].weight, decoder[2].weight)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
