"""The public API: sizes, pixel formats, alpha, errors, cancellation and official checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import liif_core
from liif_core import models
from liif_core.errors import Cancelled, InputError, MemoryLimitError, ModelError
from liif_core.pixels import fill_transparent


@pytest.fixture(scope="module")
def tiny(tiny_model_path):
    return liif_core.load_model(tiny_model_path, device="cpu")


def rand_image(h, w, c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w) if c == 0 else (h, w, c)
    if dtype == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


@pytest.mark.parametrize("kwargs, expected_hw", [
    ({"scale": 2}, (14, 18)),
    ({"scale": 2.5}, (18, 22)),
    ({"scale": (3, 1.5)}, (10, 27)),
    ({"size": (31, 20)}, (20, 31)),
    ({"scale": 2, "size": (10, 8)}, (8, 10)),  # size wins
    ({"scale": 1}, (7, 9)),
])
def test_output_size_is_exact(tiny, kwargs, expected_hw):
    out = liif_core.upscale(rand_image(7, 9, 3, np.uint8), model=tiny, **kwargs)
    assert out.shape == (*expected_hw, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [0, 1, 2, 3, 4])
def test_dtypes_and_channels_round_trip(tiny, dtype, channels):
    image = rand_image(6, 5, channels, dtype)
    before = image.copy()
    out = liif_core.upscale(image, scale=2.2, model=tiny)
    assert out.dtype == image.dtype
    assert out.shape == (13, 11) + image.shape[2:]
    assert np.array_equal(image, before), "the input must not be modified"
    if dtype == np.float32:
        assert out.min() >= 0 and out.max() <= 1


def test_grey_equals_mean_of_rgb(tiny):
    grey = rand_image(8, 8, 1, np.float32)
    out = liif_core.upscale(grey, scale=2, model=tiny)
    rgb = liif_core.upscale(np.repeat(grey, 3, axis=2), scale=2, model=tiny)
    inside = ((rgb > 0) & (rgb < 1)).all(axis=2)  # grey averages before clipping, RGB clips per channel
    assert inside.mean() > 0.5
    assert np.abs(out[..., 0] - rgb.mean(axis=2))[inside].max() < 1e-6


def test_opaque_alpha_stays_opaque_and_colour_matches_rgb(tiny):
    rgb = rand_image(8, 9, 3, np.uint8)
    rgba = np.concatenate([rgb, np.full((8, 9, 1), 255, np.uint8)], axis=2)
    out = liif_core.upscale(rgba, scale=3, model=tiny)
    assert (out[..., 3] == 255).all()
    assert np.array_equal(out[..., :3], liif_core.upscale(rgb, scale=3, model=tiny))


def icon(hidden_colour):
    """A 24x24 orange disc with an antialiased edge on a transparent background of ``hidden_colour``."""
    yy, xx = np.mgrid[:24, :24]
    r = np.hypot(yy - 11.5, xx - 11.5)
    alpha = np.clip(8.5 - r, 0, 1)
    img = np.zeros((24, 24, 4), np.uint8)
    img[..., :3] = hidden_colour
    img[alpha > 0, :3] = (240, 140, 20)
    img[..., 3] = np.round(alpha * 255)
    return img


@pytest.mark.parametrize("hidden", [(0, 0, 0), (255, 0, 255)])
def test_no_colour_fringe_from_transparent_pixels(hidden):
    """Edge pixels of an upscaled icon keep the icon's colour whatever hides under alpha 0."""
    image = icon(hidden)
    out = liif_core.upscale(image, scale=4, model="default", device="cpu")
    visible = out[..., 3] >= 16
    edge = visible & (out[..., 3] < 240)
    assert edge.sum() > 50
    err = np.abs(out[edge, :3].astype(int) - (240, 140, 20)).max()
    assert err <= 24, f"colour fringe up to {err} levels at the edge"
    # alpha is upscaled too: the disc covers 16 times the area
    area, expected = out[..., 3].astype(float).sum(), image[..., 3].astype(float).sum() * 16
    assert abs(area - expected) / expected < 0.02


def test_fringe_test_can_fail_without_fill(monkeypatch):
    """Without the colour fill, black under transparency darkens the edge: the test above would fail."""
    monkeypatch.setattr("liif_core.pixels.fill_transparent",
                        lambda colour, alpha, crop: colour[:, crop[0]:crop[1], crop[2]:crop[3]])
    out = liif_core.upscale(icon((0, 0, 0)), scale=4, model="default", device="cpu")
    edge = (out[..., 3] >= 16) & (out[..., 3] < 240)
    assert np.abs(out[edge, :3].astype(int) - (240, 140, 20)).max() > 24


def test_fill_keeps_visible_colour_and_fills_far_pixels():
    colour = torch.zeros(3, 16, 16)
    colour[:, :4, :4] = torch.tensor([0.2, 0.4, 0.6]).view(3, 1, 1)
    alpha = torch.zeros(16, 16)
    alpha[:4, :4] = 1
    alpha[3, 3] = 0.5
    filled = fill_transparent(colour, alpha)
    assert torch.equal(filled[:, :4, :4], colour[:, :4, :4])
    assert torch.allclose(filled[:, 15, 15], torch.tensor([0.2, 0.4, 0.6]), atol=1e-5)


@pytest.mark.parametrize("crop", [(0, 37, 0, 23), (0, 1, 0, 1), (36, 37, 22, 23), (5, 30, 9, 10), (13, 14, 0, 23)])
def test_fill_of_a_part_is_that_part_of_the_whole_fill(crop):
    """A preview fills only the part it reads; odd sizes make partial pooling windows at every level."""
    gen = torch.Generator().manual_seed(3)
    colour = torch.rand(3, 37, 23, generator=gen)
    alpha = torch.rand(37, 23, generator=gen)
    alpha[alpha < 0.8] = 0  # mostly holes, some far from any visible pixel
    r0, r1, c0, c1 = crop
    assert torch.equal(fill_transparent(colour, alpha, crop), fill_transparent(colour, alpha)[:, r0:r1, c0:c1])


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0.5}, "below 1"),
    ({"scale": -2}, "positive"),
    ({"scale": float("nan")}, "positive"),
    ({"scale": (2, 0.9)}, "below 1"),
    ({"scale": "big"}, "scale must be"),
    ({}, "give a scale"),
    ({"size": (5, 100)}, "smaller than the image"),
    ({"scale": 2, "tile": 3}, "tile"),
    ({"scale": 2, "self_ensemble": "yes"}, "self_ensemble"),
    ({"scale": 2, "self_ensemble": 3}, r"1, 2, 4 or 8"),
    ({"scale": 2, "self_ensemble": 2.0}, "self_ensemble"),
    ({"scale": 2, "linear": 1}, "linear"),
])
def test_bad_arguments_give_clear_errors(tiny, kwargs, message):
    with pytest.raises(InputError, match=message):
        liif_core.upscale(rand_image(7, 9, 3, np.uint8), model=tiny, **kwargs)


@pytest.mark.parametrize("image, message", [
    (np.zeros((0, 5, 3), np.uint8), "empty"),
    (np.zeros((4, 5, 5), np.uint8), "channels"),
    (np.zeros((4, 5, 3), np.int32), "dtype"),
    (np.full((4, 5, 3), np.nan, np.float32), "NaN"),
    (np.zeros((2, 4, 5, 3), np.uint8), "shape"),
])
def test_bad_images_give_clear_errors(tiny, image, message):
    with pytest.raises(InputError, match=message):
        liif_core.upscale(image, scale=2, model=tiny)


def test_memory_limit(tiny, monkeypatch):
    monkeypatch.setenv("LIIF_UPSCALE_MEMORY_LIMIT", "1M")
    image = rand_image(10, 10, 3, np.uint8)
    liif_core.upscale(image, scale=10, model=tiny)  # 100x100x3: well under 1 MiB
    with pytest.raises(MemoryLimitError, match="LIIF_UPSCALE_MEMORY_LIMIT"):
        liif_core.upscale(image, size=(2000, 1000), model=tiny)


def test_progress_and_cancel(tiny):
    image = rand_image(40, 40, 4, np.uint8)
    calls = []
    liif_core.upscale(image, scale=2, model=tiny, tile=16, progress=lambda d, t: calls.append((d, t)))
    total = calls[0][1]
    assert total > 2 * 80 * 80  # the colour pass and the alpha pass decode every output pixel, and the encoder
    assert calls[0] == (0, total) and calls[-1] == (total, total) and {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert all(a < b for a, b in zip(done, done[1:]))
    assert len(done) >= 2 * 2 * 9 + 1  # each tile's encoder and its rows, in both passes
    seen = []

    def cancel():
        seen.append(1)
        return len(seen) > 3

    with pytest.raises(Cancelled):
        liif_core.upscale(image, scale=2, model=tiny, tile=16, cancel=cancel)


def test_self_ensemble_is_the_mean_of_the_eight_views(tiny):
    """Each flipped/transposed pass lands back in place, across tiles and a non-square, non-integer size."""
    image = rand_image(9, 13, 3, np.float32, seed=3)
    size = (31, 20)  # (width, height): 2.38 x 2.22
    views = []
    for transpose in (False, True):
        for k in range(4):  # rotations by 90 degrees: with the transpose, all 8 symmetries
            x = np.rot90(image.transpose(1, 0, 2) if transpose else image, k)
            w, h = size[::-1] if transpose != (k % 2 == 1) else size
            y = np.rot90(liif_core.upscale(np.ascontiguousarray(x), size=(w, h), model=tiny, tile=8), -k)
            views.append(y.transpose(1, 0, 2) if transpose else y)
    views = np.stack(views)  # identity, the 3 rotations (90, 180, 270 degrees counter-clockwise), then transposed
    inside = ((views > 0) & (views < 1)).all(axis=(0, 3))  # each pass clips alone; the ensemble clips the mean
    assert inside.mean() > 0.5
    assert np.abs(views[0] - views.mean(axis=0))[inside].max() > 1e-3, "the views must differ for this to test anything"
    # all 8 (True or 8); the 4 rotations; the half turn added to the image; one pass (False or 1)
    for self_ensemble, chosen in ((True, range(8)), (8, range(8)), (4, range(4)), (2, (0, 2)), (1, (0,)),
                                  (False, (0,))):
        got = liif_core.upscale(image, size=size, model=tiny, tile=8, self_ensemble=self_ensemble)
        assert got.shape == (20, 31, 3)
        assert np.abs(got - views[list(chosen)].mean(axis=0))[inside].max() < 1e-5, self_ensemble


@pytest.mark.parametrize("dtype, channels", [(np.float32, 4), (np.uint16, 2), (np.float32, 3)])
def test_linear_light_is_upscaled_in_srgb_form(tiny, dtype, channels):
    """``linear=True``: the colour is sRGB-encoded for the model and decoded after, so the result
    is the sRGB-form upscale's, decoded; alpha is not light and comes out as without the flag."""
    from liif_core.pixels import srgb_decode, srgb_encode

    image = rand_image(9, 13, channels, dtype, seed=4)
    top = 1.0 if dtype == np.float32 else float(np.iinfo(dtype).max)
    colour = slice(0, 3) if channels >= 3 else slice(0, 1)
    encoded = image.astype(np.float32) / top
    encoded[..., colour] = srgb_encode(torch.from_numpy(encoded[..., colour])).numpy()
    via_srgb = liif_core.upscale(encoded, scale=2.5, model=tiny)
    got = liif_core.upscale(image, scale=2.5, model=tiny, linear=True).astype(np.float32) / top
    want = srgb_decode(torch.from_numpy(via_srgb[..., colour])).numpy()
    assert np.abs(got[..., colour] - want).max() <= 1.5 / top + 1e-5
    plain = liif_core.upscale(image, scale=2.5, model=tiny).astype(np.float32) / top
    if channels in (2, 4):
        assert np.array_equal(got[..., -1], plain[..., -1])
    assert np.abs(got[..., colour] - plain[..., colour]).mean() > 0.01  # the flag does change the colour


@pytest.mark.parametrize("channels, linear", [(3, False), (4, True), (2, False), (0, True)])
def test_float_colour_beyond_0_1_keeps_its_range(tiny, channels, linear):
    """HDR highlights above 1 and colour below 0 in a float image are not clipped: the part beyond
    [0, 1] is upscaled as an image of its own (0.5 + beyond / (2 * reach)) and added to the
    clipped colour's upscale, within the input's own range. Colour under fully transparent pixels
    plays no part, and a window of the result is that of the whole."""
    image = rand_image(12, 14, channels, np.float32, seed=8)
    hdr = image.reshape(12, 14, -1).copy()
    n = 3 if hdr.shape[2] >= 3 else 1
    hdr[3:7, 4:9, :n] *= 6  # highlights up to 6
    hdr[8:11, 2:6, :n] -= 0.4  # some colour below 0
    if hdr.shape[2] in (2, 4):
        hdr[..., -1] = np.where(hdr[..., -1] > 0.25, hdr[..., -1], 0)
        hdr[3:11, 2:9, -1] = 1
        hdr[0, 0, -1], hdr[0, 0, :n] = 0, 100  # hidden: must not count
    visible = hdr[..., :n][hdr[..., -1] > 0] if hdr.shape[2] in (2, 4) else hdr[..., :n]
    low, high = float(visible.min()), float(visible.max())
    assert low < -0.1 and high > 4
    hdr = hdr.reshape(image.shape)
    got = liif_core.upscale(hdr, scale=3, model=tiny, tile=8, linear=linear)
    assert got.shape == (36, 42) + image.shape[2:]

    # what it must equal: the clipped colour's upscale, plus the part beyond upscaled as an image
    flat = hdr.reshape(12, 14, -1)
    clipped = flat.copy()
    clipped[..., :n] = clipped[..., :n].clip(0, 1)
    beyond = flat[..., :n] - clipped[..., :n]
    if flat.shape[2] in (2, 4):
        beyond = np.where(flat[..., -1:] > 0, beyond, 0)
    reach = max(-low, high - 1)
    plane = np.ascontiguousarray((0.5 + beyond / (2 * reach)).astype(np.float32))
    base = liif_core.upscale(clipped.reshape(image.shape), scale=3, model=tiny, tile=8, linear=linear)
    up = liif_core.upscale(plane, scale=3, model=tiny, tile=8).reshape(36, 42, n)
    want = base.reshape(36, 42, -1).copy()
    want[..., :n] = (want[..., :n] + 2 * reach * (up - 0.5)).clip(low, high)
    got = got.reshape(want.shape)
    assert np.abs(got - want).max() < 1e-5 * reach
    assert got[..., :n].max() > 3 and got[..., :n].min() < -0.1  # the range is kept
    if flat.shape[2] in (2, 4):
        assert np.array_equal(got[..., -1], want[..., -1])  # alpha as without the part beyond

    window = liif_core.upscale(hdr, scale=3, model=tiny, tile=8, linear=linear, region=(20, 5, 15, 12))
    assert np.abs(window.reshape(12, 15, -1) - got[5:17, 20:35]).max() < 1e-5 * reach


def test_the_pass_beyond_0_1_decodes_only_around_the_highlights(tiny):
    """Where nothing is beyond, that plane is flat and decodes nothing: a 6 x 6 highlight in a
    96 x 96 image adds a few percent of work, not a second pass."""
    image = rand_image(96, 96, 3, np.float32, seed=9)
    hdr = image.copy()
    hdr[40:46, 40:46] *= 8
    within, beyond = (liif_core.work(x, scale=3, model=tiny) for x in (image, hdr))
    assert within < beyond < 1.1 * within


def test_nothing_is_beyond_0_1_in_integer_images_or_floats_within_it():
    from liif_core.pixels import beyond_range

    assert beyond_range(rand_image(5, 6, 3, np.uint16)) is None
    assert beyond_range(rand_image(5, 6, 4, np.float32)) is None
    hidden = rand_image(5, 6, 2, np.float32)
    hidden[0, 0] = (7.0, 0.0)  # beyond, but fully transparent
    assert beyond_range(hidden) is None
    hidden[0, 0, 1] = 0.01
    assert beyond_range(hidden).high == 7.0


@pytest.mark.parametrize("region", [(0, 0, 31, 20), (0, 0, 5, 4), (26, 15, 5, 5), (7, 3, 17, 11), (30, 0, 1, 20)])
@pytest.mark.parametrize("self_ensemble", [False, True])
@pytest.mark.parametrize("holes", [False, True])
def test_a_region_is_that_window_of_the_whole_result(tiny, region, self_ensemble, holes):
    """The preview's window: the whole result cut to the region, computed from only the input it
    reads (tiles of 8 input pixels, so windows start and end inside tiles; a non-integer size;
    every view of the self-ensemble; the alpha plane; fully transparent pixels, whose colour
    comes from the whole image)."""
    image = rand_image(9, 13, 4, np.float32, seed=5)
    image[..., 3] = np.where(image[..., 3] > 0.3, 1.0, 0.0 if holes else image[..., 3])
    whole = liif_core.upscale(image, size=(31, 20), model=tiny, tile=8, self_ensemble=self_ensemble)
    calls = []
    got = liif_core.upscale(image, size=(31, 20), model=tiny, tile=8, self_ensemble=self_ensemble, region=region,
                            progress=lambda d, t: calls.append((d, t)))
    x, y, w, h = region
    assert got.shape == (h, w, 4)
    assert np.abs(got - whole[y:y + h, x:x + w]).max() < 1e-5
    assert calls[-1][0] == calls[-1][1] > (8 if self_ensemble else 1) * 2 * w * h  # every pass, and the encoder


def test_a_region_prepares_only_the_input_it_needs(tiny, monkeypatch):
    """A preview of a big layer converts only the pixels around its window, in every view."""
    crops = []
    module = sys.modules["liif_core.upscale"]  # the package's name "upscale" is the function
    real_split = module.split
    monkeypatch.setattr(module, "split", lambda image, linear, crop: crops.append(crop) or real_split(image, linear,
                                                                                                      crop))
    image = rand_image(300, 400, 4, np.uint8, seed=7)
    for self_ensemble in (False, True):
        liif_core.upscale(image, scale=2, model=tiny, region=(400, 300, 30, 20), self_ensemble=self_ensemble)
    r0, r1, c0, c1 = crops[0]
    assert r0 <= 150 and r1 >= 160 and c0 <= 200 and c1 >= 215  # the window's own input
    assert (r1 - r0) * (c1 - c0) < 300 * 400 / 20
    s0, s1, t0, t1 = crops[1]  # all 8 views: about the same pixels
    assert s0 <= r0 and s1 >= r1 and t0 <= c0 and t1 >= c1 and (s1 - s0) * (t1 - t0) < 300 * 400 / 20
    liif_core.upscale(image, scale=2, model=tiny)
    assert crops[2] == (0, 300, 0, 400)


def test_a_region_reads_only_the_input_it_needs(tiny):
    """Input far from the window does not change it: the encoder ran on its neighbourhood only."""
    image = rand_image(40, 40, 3, np.uint8, seed=6)
    other = image.copy()
    other[:, 25:] = 255 - other[:, 25:]
    a = liif_core.upscale(image, scale=3, model=tiny, region=(0, 0, 20, 20))
    b = liif_core.upscale(other, scale=3, model=tiny, region=(0, 0, 20, 20))
    assert np.array_equal(a, b)
    assert not np.array_equal(liif_core.upscale(image, scale=3, model=tiny, region=(60, 0, 20, 20)),
                              liif_core.upscale(other, scale=3, model=tiny, region=(60, 0, 20, 20)))


@pytest.mark.parametrize("region, message", [
    ((0, 0, 19, 15), "not inside the 18 x 14"), ((-1, 0, 2, 2), "not inside"), ((0, 0, 0, 2), "not inside"),
    ((0, 0, 2), "region must be"), ((0, 0, 2.5, 2), "whole output pixels"), ("all", "region must be"),
])
def test_bad_regions_give_clear_errors(tiny, region, message):
    with pytest.raises(InputError, match=message):
        liif_core.upscale(rand_image(7, 9, 3, np.uint8), scale=2, model=tiny, region=region)


@pytest.mark.parametrize("views", [8, 4, 2])
def test_self_ensemble_progress_counts_every_pass(tiny, views):
    image = rand_image(20, 20, 4, np.uint8)
    calls = []
    liif_core.upscale(image, scale=2, model=tiny, tile=10, self_ensemble=views,
                      progress=lambda d, t: calls.append((d, t)))
    single = []
    liif_core.upscale(image, scale=2, model=tiny, tile=10, progress=lambda d, t: single.append(t))
    total = views * single[0]  # colour and alpha planes in each view of a square image: equal work
    done = [d for d, _ in calls]
    assert done[0] == 0 and done[-1] == total and {t for _, t in calls} == {total}
    assert liif_core.work(image, scale=2, model=tiny, tile=10, self_ensemble=views) == total
    assert all(a < b for a, b in zip(done, done[1:])) and len(done) > 2 * views * 4


def test_progress_moves_within_one_tile(tiny):
    """A one-tile upscale (the usual case on a CPU) still reports as its rows are decoded."""
    calls = []
    liif_core.upscale(rand_image(64, 64, 3, np.uint8), scale=4, model=tiny, tile=1024,
                      progress=lambda d, t: calls.append((d, t)))
    total = calls[0][1]
    assert calls[0] == (0, total) and calls[-1] == (total, total) and total > 256 * 256
    done = [d / t for d, t in calls]
    assert len(calls) >= 4 and all(a < b for a, b in zip(done, done[1:])), calls
    assert 0.05 < done[1] < 0.5, "the encoder is counted as part of the work, not as nothing or everything"


def test_official_checkpoint_loads_and_runs(tmp_path):
    """A file laid out like the paper's checkpoints loads by path and gives the network's output."""
    args = {"encoder_spec": {"name": "edsr-baseline", "args": {"no_upsampling": True}},
            "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [256, 256, 256, 256]}}}
    torch.manual_seed(0)
    net = models.make({"name": "liif", "args": args})
    assert "encoder.sub_mean.weight" in net.state_dict() and "imnet.layers.0.weight" in net.state_dict()
    path = tmp_path / "edsr-baseline-liif.pth"
    torch.save({"model": {"name": "liif", "args": args, "sd": net.state_dict()}, "epoch": 1000}, path)
    model = liif_core.load_model(path, device="cpu")
    image = rand_image(12, 10, 3, np.float32)
    out = liif_core.upscale(image, scale=2.5, model=model)
    from liif_core.reference import upscale_reference

    inp = (torch.from_numpy(image).permute(2, 0, 1)[None] - 0.5) / 0.5
    ref = (upscale_reference(net.eval(), inp, (30, 25))[0].permute(1, 2, 0) * 0.5 + 0.5).clamp(0, 1)
    assert np.abs(out - ref.numpy()).max() < 1e-5


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoint_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {"name": "liif", "args": {}, "sd": {}}, "x": Evil()}, path)
    with pytest.raises(ModelError, match="only plain tensors"):
        liif_core.load_model(path)


def test_saving_the_same_weights_gives_the_same_bytes(tmp_path):
    """The evaluation names a model by its file's hash: exporting one checkpoint twice must give one file."""
    import json

    from liif_core.weights import save_model

    torch.manual_seed(0)
    spec = {"name": "liif", "args": {"encoder_spec": {"name": "edsr-baseline", "args": {"no_upsampling": True,
                                                                                       "n_resblocks": 1}},
                                     "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [8]}}}}
    net = models.make(spec)
    first, second = (save_model(net, spec, tmp_path / f"{name}.safetensors", half=True) for name in ("a", "b"))
    blob = first.read_bytes()
    assert blob == second.read_bytes()
    size = int.from_bytes(blob[:8], "little")
    header = blob[8:8 + size]
    assert (8 + size) % 8 == 0 and header.rstrip() == json.dumps(json.loads(header), sort_keys=True,
                                                                 separators=(",", ":")).encode()
    model = liif_core.load_model(first, device="cpu")
    for key, value in net.state_dict().items():
        assert torch.equal(model.net.state_dict()[key].float(), value.half().float()), key


def test_unknown_model_names_the_bundled_ones():
    with pytest.raises(ModelError, match="liif-edsr"):
        liif_core.load_model("no-such-model")


def test_bundled_default_model_has_a_card():
    model = liif_core.load_model("default", device="cpu")
    assert model.name == "liif-edsr" and model.card["training"]["steps"] > 0
    assert model.net.skip == "bicubic"


def test_bfloat16_decoder_scores_as_float32():
    """The bfloat16 hidden layers (``auto`` on CPUs that multiply bfloat16 natively) change the
    shipped model's result by rounding only: the same quality to 0.01 dB on a real UI image."""
    from PIL import Image

    from liif_core.eval import psnr_y
    from liif_core.imresize import imresize

    example = Path(__file__).resolve().parents[1] / "examples" / "dialog.png"
    hr = np.asarray(Image.open(example).convert("RGB"))[:159, :219]
    lr = imresize(hr, scale=1 / 3, output_shape=(53, 73)).astype(np.float32) / 255
    outs = {}
    for precision in ("float32", "bfloat16"):
        model = liif_core.load_model("default", device="cpu", precision=precision)
        assert model.decoder_dtype == getattr(torch, precision)
        outs[precision] = liif_core.upscale(lr, size=(219, 159), model=model)
    diff = np.abs(outs["float32"] - outs["bfloat16"]) * 255
    assert 0 < diff.mean() < 0.1 and diff.max() < 3  # rounded, not changed: levels of 0-255
    scores = [psnr_y(np.clip(out, 0, 1), hr / 255, 3) for out in outs.values()]
    assert abs(scores[0] - scores[1]) < 0.01, scores


def test_bfloat16_tiles_match_whole(tiny_model_path):
    """Tiles stay seamless with bfloat16 hidden layers: they differ from the whole image by its
    rounding only (in float32 they are equal to float rounding, test_engine.py)."""
    model = liif_core.load_model(tiny_model_path, device="cpu", precision="bfloat16")
    image = rand_image(40, 36, 3, np.float32)
    whole = liif_core.upscale(image, scale=2.5, model=model)
    tiled = liif_core.upscale(image, scale=2.5, model=model, tile=12)
    assert np.abs(whole - tiled).max() < 2e-3


def test_precision_setting(monkeypatch, tiny_model_path):
    from liif_core.devices import PRECISION_ENV, native_bfloat16

    monkeypatch.delenv(PRECISION_ENV)
    auto = torch.bfloat16 if native_bfloat16() else torch.float32
    assert liif_core.load_model(tiny_model_path, device="cpu").decoder_dtype == auto
    monkeypatch.setenv(PRECISION_ENV, "bfloat16")
    assert liif_core.load_model(tiny_model_path, device="cpu").decoder_dtype == torch.bfloat16
    assert liif_core.load_model(tiny_model_path, device="cpu", precision="float32").decoder_dtype == torch.float32
    monkeypatch.setenv(PRECISION_ENV, "int4")
    with pytest.raises(InputError, match=f"{PRECISION_ENV}='int4'.*auto, float32, bfloat16, float16"):
        liif_core.load_model(tiny_model_path, device="cpu")
    with pytest.raises(InputError, match="precision 'half'"):
        liif_core.load_model(tiny_model_path, device="cpu", precision="half")


def test_every_bundled_model_says_what_it_is_for_and_a_jpeg_model_suits_jpeg_photographs():
    """Every bundled model loads and its card says what it is for. A model made for JPEG inputs
    enlarges the BSD200 photographs that training held out, saved as JPEG at quality 75, better than
    the default does (real weights; measured where the training images are)."""
    from liif_core import eval as ev
    from liif_core.training.data import jpeg_round_trip
    from liif_core.training.train import DEFAULT_DATA_ROOT, REPO, _source_images, load_config
    from liif_core.weights import jpeg_models, list_models, model_summaries

    for name in list_models():
        assert model_summaries()[name], f"{name}'s card has no summary"
        assert liif_core.load_model(name, device="cpu").card["training"]["steps"] > 0
    if not jpeg_models():
        pytest.skip("no bundled model is made for JPEG inputs")
    if not (DEFAULT_DATA_ROOT / "BSD200").is_dir():
        pytest.skip(f"training photographs not found in {DEFAULT_DATA_ROOT}")
    spec = next(s for s in load_config(REPO / "weights" / "liif-edsr.train.json")["data"]["sources"]
                if s["path"] == "BSD200")
    models = [liif_core.load_model(name, device="cpu", precision="float32") for name in ("default", jpeg_models()[0])]
    photos = _source_images(DEFAULT_DATA_ROOT, spec)[1]
    scores = np.zeros(2)
    for path in photos:
        hr = ev.load_rgb(path)[:160, :160]
        lr = ev.make_lr(hr, 2)
        lr = jpeg_round_trip(torch.from_numpy(lr).permute(2, 0, 1).float().div(255), 75)
        lr = lr.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        scores += [ev.psnr_y(ev.upscale_ours(lr, hr.shape[:2], m), hr / 255.0, 2) for m in models]
    default, for_jpeg = scores / len(photos)
    assert for_jpeg > default + 0.2, (default, for_jpeg)
