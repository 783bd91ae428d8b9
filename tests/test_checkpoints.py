"""Checkpoints: atomic writes, and refusal of damaged, foreign or mismatched files."""
import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn

from vaekit.checkpoints import (FORMAT_VERSION, CheckpointError, load_checkpoint, restore_training_state, save_checkpoint,
                         training_state)
from instructor.reference_model import build_networks, networks_from_checkpoint
from vaekit.files import WriteError

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


@pytest.mark.parametrize("damage", ["truncate", "empty"])
def test_damaged_file_is_refused(saved, damage):
    path, _, _ = saved
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint.*Delete"):
        load_checkpoint(path, CONFIG)


def test_any_bytes_that_are_not_a_checkpoint_are_refused(tmp_path):
    # Arbitrary bytes make torch's unpickler fail in arbitrary ways (IndexError, KeyError, ...);
    # each must read as a damaged file. Seeded, so that a failure repeats.
    generator = torch.Generator().manual_seed(0)
    path = tmp_path / "run.pt"
    for trial in range(300):
        size = int(torch.randint(1, 5000, (1,), generator=generator))
        body = torch.randint(0, 256, (size,), dtype=torch.uint8, generator=generator).numpy().tobytes()
        path.write_bytes((b"", b"\x80\x02", b"PK\x03\x04")[trial % 3] + body)  # none, a pickle's or a zip's header
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


# --------------------------------------------------------------------------
# Integrity: a digest over the contents, and writes that fail in plain words
# --------------------------------------------------------------------------

BIG = {**CONFIG, "data_dim": 784, "hidden_dim": 500}


def big_checkpoint(config=BIG):
    torch.manual_seed(1)
    encoder, decoder, optimizer = small_networks(config)
    return training_state(config, [3.0], encoder, decoder, optimizer, torch.Generator())


def test_flipped_bytes_inside_the_weights_are_refused(tmp_path):
    path = tmp_path / "run.pt"
    save_checkpoint(path, big_checkpoint())
    data = bytearray(path.read_bytes())
    middle = len(data) // 2  # inside the weights: the zip structure stays intact
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))
    assert torch.load(path, weights_only=True)["format"] == FORMAT_VERSION, "the file still unpickles"
    with pytest.raises(CheckpointError, match="damaged: its contents do not match the SHA-256 digest.*Delete"):
        load_checkpoint(path, BIG)


def test_the_digest_covers_every_field(tmp_path):
    path = tmp_path / "run.pt"
    save_checkpoint(path, big_checkpoint())
    for key, change in (("loss_history", lambda v: [v[0] + 1e-9]), ("config", lambda v: {**v, "lr": 0.5}),
                        ("epoch", lambda v: v + 1)):
        state = torch.load(path, weights_only=True)
        state[key] = change(state[key])
        torch.save(state, tmp_path / "edited.pt")
        with pytest.raises(CheckpointError, match="digest"):
            load_checkpoint(tmp_path / "edited.pt")


def test_a_checkpoint_of_the_previous_format_loads_with_a_note(tmp_path, capsys):
    state = {k: v for k, v in big_checkpoint().items()}
    state["format"] = 1  # format 1 had no digest
    torch.save(state, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt", BIG)
    assert torch.equal(loaded["decoder"]["2.weight"], state["decoder"]["2.weight"])
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and "format 1" in note and "unverified" in note


def test_the_committed_checkpoint_carries_a_valid_digest():
    path = Path(__file__).resolve().parents[1] / "models" / "vae_100epochs.pt"
    checkpoint = load_checkpoint(path)
    assert checkpoint["format"] == FORMAT_VERSION and len(checkpoint["digest"]) == 64


def test_a_full_disk_is_reported_and_the_previous_checkpoint_kept(small_disk):
    path = small_disk / "run.pt"
    save_checkpoint(path, training_state(CONFIG, [3.0], *small_networks(), torch.Generator()))
    before = path.read_bytes()
    with pytest.raises(WriteError, match=r"cannot write the checkpoint to .*run\.pt: the disk is full\. "
                                         r"The file .* still holds its previous contents; free some space"):
        save_checkpoint(path, big_checkpoint())  # about 3 MB with Adam's moments
    assert path.read_bytes() == before
    assert [p.name for p in small_disk.iterdir()] == ["run.pt"], "no temporary file is left"


def test_a_read_only_folder_is_reported(small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(WriteError, match="read-only file system. Nothing was written to .*; choose a folder"):
        save_checkpoint(small_disk / "run.pt", big_checkpoint())


def test_a_folder_in_place_of_the_file_is_reported(tmp_path):
    (tmp_path / "run.pt").mkdir()
    with pytest.raises(WriteError, match="that path is a folder, not a file"):
        save_checkpoint(tmp_path / "run.pt", big_checkpoint())
    assert list((tmp_path / "run.pt").iterdir()) == []
