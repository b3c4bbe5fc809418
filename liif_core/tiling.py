"""Halo tiles: upscale any image in bounded memory with a result identical to the untiled one.

The output is cut into blocks. For each block we know exactly which feature pixels its queries
read (from the same neighbour choice the decoder uses), so the encoder runs on that region plus a
halo as wide as the model's receptive field. Every feature a block reads is then computed from
exactly the input pixels the whole-image encoder would use: seams cannot occur by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from liif_core.coords import AxisNeighbours, axis_coord, axis_neighbours
from liif_core.errors import Cancelled
from liif_core.query import Workspace, decode_grid, first_layer_map, work_per_pixel
from liif_core.resample import grid_positions

# Queries decoded per GEMM batch and CPU thread (times 4 ensemble branches). Measured here with
# reused buffers: 1 thread peaks at 4096-8192 GEMM rows, 2 threads want 16384 and more.
QUERY_CHUNK_PER_THREAD = 2048


@dataclass(frozen=True)
class Span:
    """One tile along one axis: output positions, feature pixels read, encoder input pixels."""

    out0: int
    out1: int
    need0: int
    need1: int
    in0: int
    in1: int


def plan_axis(n_in: int, n_out: int, tile: int, halo: int, nb: AxisNeighbours,
              part: tuple[int, int] | None = None) -> list[Span]:
    """Cut one axis, or only its output positions ``part = (first, end)``, into spans of about
    ``tile`` input pixels each."""
    first, end = part or (0, n_out)
    n_tiles = max(1, math.ceil(n_in * (end - first) / n_out / tile))
    bounds = sorted({first + round(k * (end - first) / n_tiles) for k in range(n_tiles + 1)})
    spans = []
    for o0, o1 in zip(bounds[:-1], bounds[1:]):
        need0 = int(nb.index[:, o0:o1].min())
        need1 = int(nb.index[:, o0:o1].max()) + 1
        spans.append(Span(o0, o1, need0, need1, max(0, need0 - halo), min(n_in, need1 + halo)))
    return spans


def input_window(model, in_hw: tuple[int, int], out_hw: tuple[int, int],
                 window: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The input pixels ``(row0, row1, col0, col1)`` that the output ``window`` (same form) depends
    on: the feature pixels its queries read, widened by the encoder's receptive field. With only
    these, :func:`run_tiles` computes that window exactly as from the whole input."""
    bounds = []
    for n_in, n_out, (first, end) in ((in_hw[0], out_hw[0], window[:2]), (in_hw[1], out_hw[1], window[2:])):
        index = axis_neighbours(axis_coord(n_out)[first:end], n_in, model.local_ensemble).index
        bounds += [max(0, int(index.min()) - model.receptive_radius),
                   min(n_in, int(index.max()) + 1 + model.receptive_radius)]
    return bounds[0], bounds[1], bounds[2], bounds[3]


def run_tiles(model, inp: torch.Tensor, out_hw: tuple[int, int], tile: int,
              emit: Callable[[int, int, torch.Tensor], None],
              progress: Callable[[int, int], None] | None = None,
              cancel: Callable[[], bool] | None = None,
              window: tuple[int, int, int, int] | None = None,
              part: tuple[int, int, int, int] | None = None,
              decoder_dtype: torch.dtype = torch.float32) -> None:
    """Upscale the normalised ``(1, 3, h, w)`` input to ``out_hw``, tile by tile; with ``window =
    (row0, row1, col0, col1)`` only that part of the output (the encoder runs only where it reads).

    ``part = (row0, col0, h, w)``: ``inp`` holds only the pixels from ``(row0, col0)`` of an
    ``h x w`` input, at least the :func:`input_window` of ``window``. A preview of a big layer then
    prepares only those pixels. ``decoder_dtype``: what the decoder's hidden layers compute in.

    ``emit(row0, col0, block)`` receives each finished ``(rows, cols, 3)`` block at its place in
    the whole output (normalised, float32, on the model's device). ``progress(done, total)``
    counts work in output pixels (a tile's encoder pass adds the equivalent of its input pixels,
    see ``work_per_pixel``) after each tile's encoder and each chunk of rows: even a one-tile image
    on a CPU moves the bar every fraction of a second, at an even pace.
    """
    row_origin, col_origin, h, w = part or (0, 0, *inp.shape[-2:])
    oh, ow = out_hw
    halo = model.receptive_radius
    cy, cx = axis_coord(oh, inp.device), axis_coord(ow, inp.device)
    rows_nb = axis_neighbours(cy, h, model.local_ensemble)
    cols_nb = axis_neighbours(cx, w, model.local_ensemble)
    row_part, col_part = (window[:2], window[2:]) if window else (None, None)
    row_spans = plan_axis(h, oh, tile, halo, rows_nb, row_part)
    col_spans = plan_axis(w, ow, tile, halo, cols_nb, col_part)
    rel_cell = torch.tensor([2 / oh * h, 2 / ow * w], device=inp.device)
    per_input, per_query = work_per_pixel(model)
    share = per_input / per_query  # the encoder's work per input pixel, counted in output pixels
    encoder_work = {(ys, xs): round(share * (ys.in1 - ys.in0) * (xs.in1 - xs.in0))
                    for ys in row_spans for xs in col_spans}
    total = sum(ys.out1 - ys.out0 for ys in row_spans) * sum(xs.out1 - xs.out0 for xs in col_spans)
    total += sum(encoder_work.values())
    done = 0
    workspace = Workspace() if inp.device.type == "cpu" else None
    if progress:
        progress(0, total)
    for ys in row_spans:
        for xs in col_spans:
            if cancel and cancel():
                raise Cancelled("upscale cancelled")
            if not (row_origin <= ys.in0 and ys.in1 <= row_origin + inp.shape[-2]
                    and col_origin <= xs.in0 and xs.in1 <= col_origin + inp.shape[-1]):
                raise ValueError(f"the input part at ({row_origin}, {col_origin}) of shape {tuple(inp.shape[-2:])} "
                                 f"lacks rows {ys.in0}-{ys.in1}, columns {xs.in0}-{xs.in1}")
            crop = inp[:, :, ys.in0 - row_origin:ys.in1 - row_origin, xs.in0 - col_origin:xs.in1 - col_origin]
            if inp.device.type == "cpu":
                crop = crop.contiguous(memory_format=torch.channels_last)
            layer1 = first_layer_map(model, model.gen_feat(crop))[0]
            done += encoder_work[ys, xs]
            if progress:
                progress(done, total)
            layer1 = layer1[:, ys.need0 - ys.in0:ys.need1 - ys.in0, xs.need0 - xs.in0:xs.need1 - xs.in0]
            width = xs.need1 - xs.need0
            # rows gathered below, in the hidden layers' dtype
            layer1 = layer1.permute(1, 2, 0).reshape(-1, layer1.shape[0]).to(decoder_dtype).contiguous()
            cols = AxisNeighbours(cols_nb.index[:, xs.out0:xs.out1] - xs.need0, cols_nb.rel[:, xs.out0:xs.out1])
            chunk = QUERY_CHUNK_PER_THREAD * (torch.get_num_threads() if inp.device.type == "cpu" else 16)
            step = max(1, -(-chunk // (xs.out1 - xs.out0)))  # whole rows, at least chunk queries
            for r0 in range(ys.out0, ys.out1, step):
                if cancel and cancel():
                    raise Cancelled("upscale cancelled")
                r1 = min(r0 + step, ys.out1)
                rows = AxisNeighbours(rows_nb.index[:, r0:r1] - ys.need0, rows_nb.rel[:, r0:r1])
                block = decode_grid(model, layer1, width, rows, cols, rel_cell, workspace)
                if model.skip is not None:
                    skip = model.skip_grid(crop, grid_positions(h, oh, r0, r1, inp.device),
                                           grid_positions(w, ow, xs.out0, xs.out1, inp.device),
                                           (h, w), (ys.in0, xs.in0))
                    block = block + skip[0].permute(1, 2, 0)
                emit(r0, xs.out0, block)
                done += (r1 - r0) * (xs.out1 - xs.out0)
                if progress:
                    progress(done, total)
