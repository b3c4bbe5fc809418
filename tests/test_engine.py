"""The fast path equals the paper's formulation, and tiles equal the whole image."""

from __future__ import annotations

import copy

import pytest
import torch

from liif_core import models
from liif_core.coords import make_cell
from liif_core.query import query_rgb
from liif_core.reference import query_rgb_reference, upscale_reference
from liif_core.tiling import plan_tiles, run_tiles


def make_liif(encoder: str, skip: str | None, small: bool = True, seed: int = 0) -> torch.nn.Module:
    """A randomly initialised LIIF; ``small`` shrinks depth (the code paths are the same)."""
    enc_args = {"no_upsampling": True}
    if small and encoder == "edsr-baseline":
        enc_args.update(n_resblocks=3, n_feats=32)
    if small and encoder == "rdn":
        enc_args.update(G0=16, RDNconfig="A")
    spec = {"name": "liif", "args": {"encoder_spec": {"name": encoder, "args": enc_args},
                                     "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [256] * 4}},
                                     "skip": skip}}
    torch.manual_seed(seed)
    return models.make(spec).eval()


def tiled(model, inp: torch.Tensor, out_hw: tuple[int, int], tile: int) -> torch.Tensor:
    out = torch.full((*out_hw, 3), float("nan"))

    def emit(r0, c0, block):
        out[r0:r0 + block.shape[0], c0:c0 + block.shape[1]] = block

    with torch.no_grad():
        run_tiles(model, inp, plan_tiles(model, inp.shape[-2:], out_hw, tile), emit)
    return out.permute(2, 0, 1)[None]


@pytest.mark.parametrize("encoder", ["edsr-baseline", "rdn"])
@pytest.mark.parametrize("skip", [None, "bicubic"])
def test_fast_query_equals_reference(encoder, skip):
    model = make_liif(encoder, skip)
    torch.manual_seed(1)
    inp = torch.rand(2, 3, 19, 23) * 2 - 1
    coord = torch.rand(2, 500, 2) * 2 - 1
    coord[:, :10] = torch.tensor([-1.0, 1.0])[torch.randint(0, 2, (10, 2))]  # borders and corners
    cell = torch.rand(2, 500, 2) * 0.2
    with torch.no_grad():
        feat = model.gen_feat(inp)
        fast = query_rgb(model, inp, feat, coord, cell)
        ref = query_rgb_reference(model, inp, feat, coord, cell)
    assert fast.shape == ref.shape == (2, 500, 3)
    assert (fast - ref).abs().max() < 1e-5


@pytest.mark.parametrize("flags", [dict(local_ensemble=False), dict(feat_unfold=False), dict(cell_decode=False)])
def test_fast_query_equals_reference_without_paper_options(flags):
    spec = {"name": "liif", "args": {"encoder_spec": {"name": "edsr-baseline", "args": {"n_resblocks": 2}},
                                     "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [64, 64]}},
                                     **flags}}
    torch.manual_seed(0)
    model = models.make(spec).eval()
    inp = torch.rand(1, 3, 13, 17) * 2 - 1
    out_hw = (40, 37)
    ref = upscale_reference(model, inp, out_hw)
    assert (tiled(model, inp, out_hw, 7) - ref).abs().max() < 1e-5


@pytest.mark.parametrize("encoder", ["edsr-baseline", "rdn"])
@pytest.mark.parametrize("skip", [None, "bicubic"])
def test_tiled_equals_untiled_and_reference(encoder, skip):
    model = make_liif(encoder, skip, small=False)
    torch.manual_seed(2)
    inp = torch.rand(1, 3, 37, 29) * 2 - 1
    out_hw = (88, 69)  # 2.378 x 2.379: non-integer, different per axis
    whole = tiled(model, inp, out_hw, 10_000)
    ref = upscale_reference(model, inp, out_hw)
    assert not torch.isnan(whole).any()
    assert (whole - ref).abs().max() < 1e-5
    for tile in (16, 11):
        parts = tiled(model, inp, out_hw, tile)
        assert (parts - whole).abs().max() < 1e-5, tile


def test_tile_halo_is_needed():
    """Shrinking the halo makes tiles differ: the equality above is not an accident."""
    model = make_liif("edsr-baseline", None)
    inp = torch.rand(1, 3, 30, 30) * 2 - 1
    whole = tiled(model, inp, (70, 70), 10_000)
    model.encoder.receptive_radius = 1
    parts = tiled(model, inp, (70, 70), 8)
    assert (parts - whole).abs().max() > 1e-4


def test_cell_clipped_beyond_training_scales():
    """Past ``scale_max`` each axis decodes with that scale's cell; within it, with its own."""
    model = make_liif("edsr-baseline", "bicubic")
    unclipped = copy.deepcopy(model)
    unclipped.scale_max = float("inf")
    torch.manual_seed(3)
    inp = torch.rand(1, 3, 12, 12) * 2 - 1
    coord = torch.rand(1, 300, 2) * 2 - 1
    with torch.no_grad():
        feat = model.gen_feat(inp)

        def query(net, out_hw):
            return query_rgb(net, inp, feat, coord, make_cell(coord, out_hw))

        assert (query(model, (96, 24)) - query(unclipped, (48, 24))).abs().max() < 1e-6  # x8 rows, x2 columns
        assert (query(model, (96, 24)) - query(unclipped, (96, 24))).abs().max() > 1e-4
        assert torch.equal(query(model, (36, 30)), query(unclipped, (36, 30)))
    out_hw = (96, 80)
    clipped_tiles = tiled(model, inp, out_hw, 5)
    assert (clipped_tiles - upscale_reference(model, inp, out_hw)).abs().max() < 1e-5
    assert (clipped_tiles - tiled(unclipped, inp, out_hw, 5)).abs().max() > 1e-4


def test_training_forward_matches_reference():
    model = make_liif("edsr-baseline", "bicubic")
    inp = torch.rand(1, 3, 16, 16) * 2 - 1
    coord = torch.rand(1, 300, 2) * 2 - 1
    cell = make_cell(coord, (40, 40))
    out = model(inp, coord, cell)
    out.sum().backward()  # differentiable
    with torch.no_grad():
        ref = query_rgb_reference(model, inp, model.gen_feat(inp), coord, cell)
    assert (out.detach() - ref).abs().max() < 1e-5
