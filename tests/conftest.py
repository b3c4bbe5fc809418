"""Shared fixtures: a tiny random LIIF model saved once per test session; settings for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_SPEC = {
    "name": "liif",
    "args": {
        "encoder_spec": {"name": "edsr-baseline", "args": {"n_resblocks": 2, "n_feats": 16, "no_upsampling": True}},
        "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [32, 32]}},
        "skip": "bicubic",
    },
}


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``.safetensors`` file of a tiny, randomly initialised LIIF (fast enough for any test)."""
    import torch

    from liif_core import models, weights

    torch.manual_seed(0)
    model = models.make(TINY_SPEC)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    weights.save_model(model, TINY_SPEC, path, {"name": "tiny", "description": "random weights, for tests only"})
    return path


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Workers started by tests remember their speed in a throw-away cache, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session", autouse=True)
def float32_decoder() -> None:
    """Tests compare the fast path with the paper's formulation and tiles with whole images to
    float32 rounding, on any CPU: the decoder computes in float32 unless a test asks otherwise
    (the bfloat16 one has tests of its own, in test_api.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIIF_UPSCALE_PRECISION", "float32")
        yield
