"""Flat areas take the model's skip alone: what changes, what does not, and what it saves."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import liif_core
from liif_core.flat import QUIET_RADIUS, quiet_map

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dialog.png"
UPSCALE = sys.modules["liif_core.upscale"]  # the package's name "upscale" is the function


@pytest.fixture(scope="module")
def tiny(tiny_model_path):
    return liif_core.load_model(tiny_model_path, device="cpu")


def upscale(image: np.ndarray, flat: bool, monkeypatch: pytest.MonkeyPatch, **kwargs) -> tuple[np.ndarray, int]:
    """The result and its counted work, with flat areas skipped as shipped, or (``flat=False``)
    with every query decoded, as before flat areas were known."""
    if not flat:
        monkeypatch.setattr(UPSCALE, "quiet_map", lambda plane, alpha=None: torch.zeros(plane.shape[-2:], dtype=bool))
    totals = []
    out = liif_core.upscale(image, progress=lambda d, t: totals.append(t), **kwargs)
    monkeypatch.undo()
    return out, totals[-1]


def noise_with_flat_block(h: int, w: int, block: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.random((h, w, 3), dtype=np.float32)
    r0, r1, c0, c1 = block
    image[r0:r1, c0:c1] = (0.2, 0.6, 0.9)
    return image


def source_pixels(n_in: int, n_out: int) -> np.ndarray:
    """The input pixel each output pixel's centre falls in, along one axis."""
    return np.minimum(((np.arange(n_out) + 0.5) * n_in / n_out).astype(int), n_in - 1)


def test_quiet_map_marks_flat_squares_and_invisible_ones():
    plane = torch.rand(3, 30, 40)
    plane[:, 5:20, 10:35] = 0.5
    quiet = quiet_map(plane)
    r = QUIET_RADIUS
    want = torch.zeros(30, 40, dtype=torch.bool)
    want[5 + r:20 - r, 10 + r:35 - r] = True
    assert torch.equal(quiet, want)
    alpha = torch.ones(30, 40)
    alpha[:, :12] = 0  # columns 0-11 invisible: quiet up to 4 pixels from the visible ones
    assert torch.equal(quiet_map(plane, alpha)[:, :8], torch.ones(30, 8, dtype=torch.bool))
    assert not quiet_map(plane, alpha)[:15, 8:10].any()
    edge = torch.rand(3, 30, 40)
    edge[:, :, :6] = 0.25  # flat up to the image's edge: the square is cut off there
    assert quiet_map(edge)[:, :2].all() and not quiet_map(edge)[:, 2:].any()


@pytest.mark.parametrize("radius", [1, 2, QUIET_RADIUS])
def test_quiet_map_equals_the_definition(radius):
    """Against the plain definition, the largest value of each channel around a pixel equal to
    its smallest (squares cut off at the edges), on random patches of few values."""
    rng = np.random.default_rng(radius)
    plane = torch.from_numpy(rng.integers(0, 2, (3, 40, 45)).astype(np.float32))
    plane[:, 3:30, 4:40] = torch.from_numpy((rng.random((27, 36)) > 0.02).astype(np.float32))
    alpha = torch.from_numpy((rng.random((40, 45)) > 0.97).astype(np.float32))
    padded = torch.nn.functional.pad(plane[None], (radius,) * 4, mode="replicate")
    high = torch.nn.functional.max_pool2d(padded, 2 * radius + 1, 1)[0]
    low = -torch.nn.functional.max_pool2d(-padded, 2 * radius + 1, 1)[0]
    seen = torch.nn.functional.max_pool2d(torch.nn.functional.pad(alpha[None, None], (radius,) * 4),
                                          2 * radius + 1, 1)[0, 0]
    want = (high == low).all(dim=0)
    assert want.any() and not want.all()
    assert torch.equal(quiet_map(plane, radius=radius), want)
    assert torch.equal(quiet_map(plane, alpha, radius=radius), want | (seen == 0))


def test_quiet_map_in_bands_equals_one_pass(monkeypatch):
    """Bands of rows (bounded memory on big layers) give the map of the whole plane at once."""
    from liif_core import flat

    rng = np.random.default_rng(4)
    plane = torch.from_numpy(rng.integers(0, 2, (3, 70, 50)).astype(np.float32))
    plane[:, 10:60, 5:45] = 1
    alpha = torch.from_numpy((rng.random((70, 50)) > 0.5).astype(np.float32))
    alpha[20:50] = 0
    whole = quiet_map(plane, alpha)
    assert whole.any() and not whole.all()
    monkeypatch.setattr(flat, "BAND_ROWS", 7)
    assert torch.equal(quiet_map(plane, alpha), whole)


def test_flat_block_takes_the_skip_and_the_rest_is_unchanged(tiny, monkeypatch):
    """Inside a flat block the result is its colour (a random model's decoder would add something
    there); every pixel whose neighbourhood is not flat is exactly what decoding everything gives;
    and the work counted drops by the flat share."""
    h, w, block = 48, 60, (8, 40, 10, 50)
    image = noise_with_flat_block(h, w, block)
    fast, fast_work = upscale(image, True, monkeypatch, scale=3, model=tiny, tile=16)
    full, full_work = upscale(image, False, monkeypatch, scale=3, model=tiny, tile=16)
    rows, cols = source_pixels(h, 3 * h), source_pixels(w, 3 * w)
    r0, r1, c0, c1 = block
    m = QUIET_RADIUS + 1  # a query's first neighbour is its pixel or the one before
    inside = np.outer((rows >= r0 + m) & (rows < r1 - m + 1), (cols >= c0 + m) & (cols < c1 - m + 1))
    near = np.outer((rows >= r0 + m - 2) & (rows < r1 - m + 2), (cols >= c0 + m - 2) & (cols < c1 - m + 2))
    assert np.abs(fast[inside] - np.array([0.2, 0.6, 0.9], np.float32)).max() < 1e-6
    assert np.abs(full[inside] - fast[inside]).max() > 1e-3, "the random decoder adds something on flat input"
    assert np.abs(full[~near] - fast[~near]).max() < 1e-5
    assert full_work - fast_work >= inside.sum()  # those queries, and the encoder of tiles that need none


def test_invisible_areas_keep_a_smooth_colour_and_no_alpha(tiny, monkeypatch):
    """Where no pixel around is visible, the colour is the skip's upscale of the fill under it and
    alpha is exactly 0; every visible pixel of the result is what decoding everything gives."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    image[:, 20:, 3] = 0  # the right part fully transparent
    fast, fast_work = upscale(image, True, monkeypatch, scale=2, model=tiny, tile=16)
    full, full_work = upscale(image, False, monkeypatch, scale=2, model=tiny, tile=16)
    far = slice(2 * (20 + QUIET_RADIUS + 1), None)
    assert (fast[:, far, 3] == 0).all()
    assert (fast[:, far, :3] != full[:, far, :3]).any(), "the random decoder's colour differs there"
    visible = fast[..., 3] > 0
    assert np.array_equal(fast[visible], full[visible])
    assert fast_work < 0.7 * full_work


def test_a_flat_alpha_costs_nothing(tiny, monkeypatch):
    """A layer at one opacity is a second plane to upscale, but a flat one: no work beyond the colour's."""
    rgb = np.random.default_rng(2).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((30, 40), 128, np.uint8)])
    with_alpha, work = upscale(rgba, True, monkeypatch, scale=2.5, model=tiny)
    without, colour_work = upscale(rgb, True, monkeypatch, scale=2.5, model=tiny)
    assert work == colour_work and (with_alpha[..., 3] == 128).all()
    assert np.array_equal(with_alpha[..., :3], without)


@pytest.mark.parametrize("hw", [(1, 1), (1, 6), (6, 1), (2, 2)])
def test_images_of_a_pixel_or_a_line(tiny, hw):
    for image in (np.full((*hw, 3), 0.5, np.float32), np.random.default_rng(0).random((*hw, 3), dtype=np.float32)):
        assert liif_core.upscale(image, scale=3, model=tiny).shape == (3 * hw[0], 3 * hw[1], 3)
    assert (liif_core.upscale(np.full((*hw, 3), 0.5, np.float32), scale=3, model=tiny) == 0.5).all()


def test_an_image_of_one_colour_needs_no_work(tiny, monkeypatch):
    image = np.full((20, 30, 4), (10, 200, 30, 255), np.uint8)
    out, work = upscale(image, True, monkeypatch, scale=3, model=tiny)
    assert work == 0 and (out == (10, 200, 30, 255)).all()


@pytest.mark.parametrize("kwargs", [{"scale": 2}, {"size": (97, 80), "tile": 8}, {"scale": 3, "self_ensemble": True},
                                    {"scale": 2, "region": (10, 5, 40, 30)}])
def test_work_is_the_progress_total_before_the_job(tiny, kwargs):
    """``liif_core.work`` says, from the pixels alone, the total ``upscale`` then reports; flat and
    invisible areas make it less than the same image's work without them."""
    image = np.dstack([noise_with_flat_block(36, 44, (3, 30, 5, 25), seed=4), np.ones((36, 44), np.float32)])
    image[20:, 30:, 3] = 0
    totals = []
    liif_core.upscale(image, model=tiny, progress=lambda d, t: totals.append(t), **kwargs)
    assert liif_core.work(image, model=tiny, **kwargs) == totals[-1] > 0
    noisy = np.random.default_rng(5).random(image.shape, dtype=np.float32)
    assert liif_core.work(image, model=tiny, **kwargs) < 0.8 * liif_core.work(noisy, model=tiny, **kwargs)
    assert liif_core.work(np.full((36, 44, 4), 0.25, np.float32), model=tiny, **kwargs) == 0
    with pytest.raises(liif_core.InputError, match="only enlarges"):
        liif_core.work(image, model=tiny, scale=0.5)


def test_what_work_prepared_serves_the_job_of_the_same_pixels(tiny, monkeypatch):
    """``work`` keeps the planes and flat maps it prepared: the next ``work`` or ``upscale`` of the same
    pixels uses them (the same numbers and pixels as without), other pixels or options do not, a
    preview leaves them kept and a job of the whole result releases them."""
    module = sys.modules["liif_core.upscale"]  # the package's name "upscale" is the function
    prepared = []
    real_split = module.split
    monkeypatch.setattr(module, "split", lambda *a, **k: prepared.append(1) or real_split(*a, **k))
    image = np.dstack([noise_with_flat_block(36, 44, (3, 30, 5, 25), seed=6), np.ones((36, 44), np.float32)])
    image[20:, 30:, 3] = 0
    image[:10, :10, 3] = 0.5
    other = image.copy()
    other[0, 0, 0] = 1 - other[0, 0, 0]
    fresh = liif_core.upscale(image, scale=2.5, model=tiny)
    fresh_other = liif_core.upscale(other, scale=2.5, model=tiny)
    assert len(prepared) == 2 and module._kept is None  # upscale keeps nothing

    prepared.clear()
    total = liif_core.work(image, scale=2.5, model=tiny)
    assert liif_core.work(image, scale=3, model=tiny) > total and len(prepared) == 1  # prepared once
    liif_core.upscale(image, scale=2.5, model=tiny, region=(10, 10, 20, 20))  # a preview: its own part
    assert len(prepared) == 2 and module._kept is not None
    totals = []
    got = liif_core.upscale(image, scale=2.5, model=tiny, progress=lambda d, t: totals.append(t))
    assert len(prepared) == 2 and module._kept is None  # the job took them
    assert np.array_equal(got, fresh) and totals[-1] == total

    liif_core.work(image, scale=2.5, model=tiny)
    assert np.array_equal(liif_core.upscale(other, scale=2.5, model=tiny), fresh_other)  # one value apart
    assert len(prepared) == 4 and module._kept is None  # released all the same
    liif_core.work(image, scale=2.5, model=tiny)
    liif_core.upscale(image, scale=2.5, model=tiny, linear=True)  # another option: prepared anew
    assert len(prepared) == 6

    # forget(): the job is not coming (an editor's dialog was cancelled): what was kept goes
    liif_core.work(image, scale=2.5, model=tiny)
    colour, alpha, beyond, flat = module._kept[1]
    assert beyond is None  # a uint8 image: nothing beyond 0..1
    held = colour.nbytes + alpha.nbytes + sum(m.nbytes for m in flat)
    assert held >= 36 * 44 * 4 * 4 and liif_core.forget() == held  # at least the four float32 planes
    assert module._kept is None and liif_core.forget() == 0
    assert np.array_equal(liif_core.upscale(image, scale=2.5, model=tiny), fresh) and len(prepared) == 8


@pytest.mark.parametrize("self_ensemble", [False, True])
def test_tiles_and_windows_agree_with_flat_areas(tiny, self_ensemble):
    """With flat and invisible areas cutting across tiles: any tile size, and any window of the
    result (a preview, in every view of the self-ensemble), give the same pixels."""
    image = np.dstack([noise_with_flat_block(36, 44, (3, 30, 5, 25), seed=3), np.ones((36, 44), np.float32)])
    image[20:, 30:, 3] = 0
    image[:12, 34:, 3] = 0.5
    size = (97, 80)  # (width, height): not whole factors
    whole = liif_core.upscale(image, size=size, model=tiny, tile=1024, self_ensemble=self_ensemble)
    tiled = liif_core.upscale(image, size=size, model=tiny, tile=8, self_ensemble=self_ensemble)
    assert np.abs(whole - tiled).max() < 1e-5
    for x, y, w, h in [(0, 0, 30, 20), (50, 40, 47, 40), (20, 10, 1, 60)]:
        window = liif_core.upscale(image, size=size, model=tiny, tile=8, self_ensemble=self_ensemble,
                                   region=(x, y, w, h))
        assert np.abs(window - whole[y:y + h, x:x + w]).max() < 1e-5


def test_shipped_model_on_the_example_changes_nothing_visible(monkeypatch):
    """The claim in liif_core.flat, with the real weights: on the example dialog x3, skipping its
    flat areas changes no 8-bit value by more than 1 level and saves over a third of the work."""
    if not liif_core.list_models():
        pytest.skip("no bundled weights in weights/")
    image = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    monkeypatch.setenv("LIIF_UPSCALE_PRECISION", "float32")
    fast, fast_work = upscale(image, True, monkeypatch, scale=3, device="cpu")
    monkeypatch.setenv("LIIF_UPSCALE_PRECISION", "float32")
    full, full_work = upscale(image, False, monkeypatch, scale=3, device="cpu")
    assert np.abs(fast.astype(int) - full.astype(int)).max() <= 1
    assert fast_work < 0.67 * full_work
