"""The MATLAB ``imresize`` port against MATLAB's own output, and its basic properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from liif_core.errors import InputError
from liif_core.imresize import contributions, imresize

MATLAB_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "matlab_bicubic" / "Set5"


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matches_matlab_bicubic_downscaling(scale: int) -> None:
    """HR -> LR with ``imresize(HR, 1/s, 'bicubic')`` as published by Huang et al. (MATLAB output)."""
    folder = MATLAB_DIR / f"x{scale}"
    pairs = sorted(folder.glob("*_HR.png")) if folder.is_dir() else []
    if not pairs:
        pytest.skip(f"MATLAB reference images not found in {folder} (the shared datasets folder is missing)")
    same = total = worst = 0
    for hr_path in pairs:
        hr = np.asarray(Image.open(hr_path).convert("RGB"))
        ref = np.asarray(Image.open(hr_path.with_name(hr_path.name.replace("_HR", "_LR"))).convert("RGB"))
        out = imresize(hr, 1 / scale)
        assert out.shape == ref.shape and out.dtype == np.uint8
        diff = np.abs(out.astype(int) - ref.astype(int))
        same += int((diff == 0).sum())
        total += diff.size
        worst = max(worst, int(diff.max()))
    print(f"x{scale}: {same}/{total} LR values identical to MATLAB ({100 * same / total:.4f} %), max diff {worst}")
    assert same == total, f"x{scale}: {100 * same / total:.4f} % identical, max abs diff {worst}"


def test_constant_image_stays_constant() -> None:
    for dtype, value in ((np.uint8, 77), (np.float64, 0.3), (np.float32, 0.3)):
        img = np.full((30, 21, 3), value, dtype=dtype)
        for scale in (1 / 3, 0.5, 2, 2.5):
            out = imresize(img, scale)
            assert out.dtype == dtype
            np.testing.assert_allclose(out, value, rtol=0, atol=1e-6)


def test_output_size_rule_and_grey_input() -> None:
    img = np.random.default_rng(0).random((25, 17))
    assert imresize(img, 0.5).shape == (13, 9)  # ceil(scale * size), as MATLAB
    assert imresize(img, 3).shape == (75, 51)
    assert imresize(img, output_shape=(10, 40)).shape == (10, 40)


def test_scale_one_is_identity() -> None:
    img = np.random.default_rng(1).random((12, 9, 3))
    np.testing.assert_allclose(imresize(img, 1), img, atol=1e-12)


def test_upscaling_reproduces_a_linear_ramp_inside() -> None:
    ramp = np.tile(np.arange(20, dtype=np.float64), (6, 1))
    out = imresize(ramp, 2)
    expected = (np.arange(40) + 0.5) / 2 - 0.5  # MATLAB: u = x/s + 0.5 (1 - 1/s), 1-based
    np.testing.assert_allclose(out[:, 4:-4], np.tile(expected, (12, 1))[:, 4:-4], atol=1e-12)


def test_weights_are_normalised_and_indices_in_range() -> None:
    for n_in, n_out, scale in ((100, 25, 0.25), (10, 30, 3.0), (7, 3, 3 / 7)):
        w, idx = contributions(n_in, n_out, scale)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
        assert idx.min() >= 0 and idx.max() < n_in


def test_uint8_path_rounds_and_saturates() -> None:
    img = np.zeros((8, 8), dtype=np.uint8)
    img[:, 4:] = 255
    out = imresize(img, 2)  # cubic overshoot is clipped, not wrapped
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255


def test_bad_input_is_explained() -> None:
    with pytest.raises(InputError, match="scale"):
        imresize(np.zeros((4, 4)))
    with pytest.raises(InputError, match="uint8, float32 and float64"):
        imresize(np.zeros((4, 4), dtype=np.int32), 2)
    with pytest.raises(InputError, match="positive"):
        imresize(np.zeros((4, 4)), -1)
