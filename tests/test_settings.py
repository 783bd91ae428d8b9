"""The notebook's settings from the environment: defaults, and a clear error for a bad value."""
from pathlib import Path

import pytest
import torch

from vaekit.settings import read_settings

CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(autouse=True)
def no_settings(monkeypatch):
    for name in ("VAE_EPOCHS", "VAE_CHECKPOINT", "VAE_RETRAIN", "VAE_EVAL_IMAGES"):
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_are_the_assignments_run_sized_for_the_device():
    cpu, gpu = read_settings(CPU), read_settings(GPU)
    assert (cpu.epochs, cpu.checkpoint, cpu.retrain) == (100, Path("models/vae_100epochs.pt"), False)
    assert (cpu.eval_images, cpu.bound_images, cpu.gap_images) == (1000, 100, 40)
    assert (gpu.eval_images, gpu.bound_images, gpu.gap_images) == (10000, 10000, 200)


def test_the_environment_sets_each(monkeypatch):
    monkeypatch.setenv("VAE_EPOCHS", "7")
    monkeypatch.setenv("VAE_RETRAIN", "1")
    monkeypatch.setenv("VAE_EVAL_IMAGES", "30")
    settings = read_settings(CPU)
    assert settings.epochs == 7 and settings.checkpoint == Path("models/vae_7epochs.pt") and settings.retrain
    assert (settings.eval_images, settings.bound_images, settings.gap_images) == (30, 30, 30)
    monkeypatch.setenv("VAE_CHECKPOINT", "elsewhere/mine.pt")
    assert read_settings(CPU).checkpoint == Path("elsewhere/mine.pt")


@pytest.mark.parametrize("name, value, message", [
    ("VAE_EPOCHS", "0", "VAE_EPOCHS must be a positive whole number, got '0'"),
    ("VAE_EPOCHS", "2.5", "VAE_EPOCHS must be a positive whole number, got '2.5'"),
    ("VAE_EPOCHS", "", "VAE_EPOCHS must be a positive whole number, got ''"),
    ("VAE_EVAL_IMAGES", "0", "VAE_EVAL_IMAGES must be a whole number from 1 to 10000, got '0'"),
    ("VAE_EVAL_IMAGES", "10001", "VAE_EVAL_IMAGES must be a whole number from 1 to 10000, got '10001'"),
    ("VAE_EVAL_IMAGES", "-5", "VAE_EVAL_IMAGES must be a whole number from 1 to 10000, got '-5'"),
])
def test_a_bad_value_is_refused_by_name(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as raised:
        read_settings(CPU)
    assert str(raised.value) == message
