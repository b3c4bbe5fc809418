"""Halo tiles: upscale any image in bounded memory with a result identical to the untiled one.

The output is cut into blocks. For each block we know exactly which feature pixels its queries
read (from the same neighbour choice the decoder uses), so the encoder runs on that region plus a
halo as wide as the model's receptive field. Every feature a block reads is then computed from
exactly the input pixels the whole-image encoder would use: seams cannot occur by construction.
A plan (:func:`plan_tiles`) also leaves out what flat areas do not need (:mod:`liif_core.flat`)
and counts the work that is left.
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
    return [_span(o0, o1, nb, halo, n_in) for o0, o1 in zip(bounds[:-1], bounds[1:])]


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


@dataclass(frozen=True)
class Tile:
    """One tile of a plan: its output spans, the part of them the decoder must compute (``None``:
    none, the skip alone is the result), and the work it costs, counted as in :class:`Plan`: its
    encoder's, then its decoder's."""

    rows: Span
    cols: Span
    decoded_rows: Span | None  # the first to last output row decoded, the feature and input pixels they read
    decoded_cols: Span | None
    encoder_work: int
    decoder_work: int

    @property
    def work(self) -> int:
        return self.encoder_work + self.decoder_work


@dataclass(frozen=True)
class Plan:
    """How :func:`run_tiles` cuts one upscale into tiles, and its work in output-pixel units.

    ``work`` counts one unit per decoded query and the encoder's work per input pixel converted at
    its cost relative to a query (:func:`~liif_core.query.work_per_pixel`); quiet queries, which
    take the skip alone, count nothing. So the total says how long the job will take, wherever
    the flat areas are.
    """

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    rows_nb: AxisNeighbours
    cols_nb: AxisNeighbours
    tiles: list[Tile]
    # on the CPU, whatever the device: bool on feature pixels from ``origin``, queries whose first
    # neighbour is there are decoded (``None``: all), and each output row's and column's first neighbour
    decoded: torch.Tensor | None
    origin: tuple[int, int]
    first_rows: torch.Tensor
    first_cols: torch.Tensor

    @property
    def work(self) -> int:
        return sum(t.work for t in self.tiles)

    def decoded_mask(self, rows: slice, cols: slice) -> torch.Tensor:
        """Which output pixels of ``rows`` x ``cols`` the decoder computes (on the CPU)."""
        return self.decoded[self.first_rows[rows] - self.origin[0]][:, self.first_cols[cols] - self.origin[1]]


def plan_tiles(model, in_hw: tuple[int, int], out_hw: tuple[int, int], tile: int,
               window: tuple[int, int, int, int] | None = None, quiet: torch.Tensor | None = None,
               origin: tuple[int, int] = (0, 0), device: torch.device | str = "cpu") -> Plan:
    """Cut the upscale of an ``in_hw`` input to ``out_hw`` (or only its output ``window = (row0,
    row1, col0, col1)``) into tiles of about ``tile`` input pixels.

    ``quiet``: a bool map of input pixels from ``origin`` (:func:`liif_core.flat.quiet_map`),
    covering every feature pixel the window reads. Where the decoder's residual is known to be
    zero (the model has a skip and the query's neighbourhood is quiet), the query is not decoded,
    and where a tile has no other queries, its encoder does not run either; the encoder runs only
    on the rows and columns around the queries that are decoded.
    """
    (h, w), (oh, ow) = in_hw, out_hw
    halo = model.receptive_radius
    rows_nb = axis_neighbours(axis_coord(oh, device), h, model.local_ensemble)
    cols_nb = axis_neighbours(axis_coord(ow, device), w, model.local_ensemble)
    row_part, col_part = (window[:2], window[2:]) if window else (None, None)
    row_spans = plan_axis(h, oh, tile, halo, rows_nb, row_part)
    col_spans = plan_axis(w, ow, tile, halo, cols_nb, col_part)
    per_input, per_query = work_per_pixel(model)
    share = per_input / per_query  # the encoder's work per input pixel, counted in output pixels
    decoded = ~quiet.cpu() if quiet is not None and model.skip is not None else None
    first_rows, first_cols = rows_nb.index[0].cpu(), cols_nb.index[0].cpu()
    tiles = []
    for ys in row_spans:
        for xs in col_spans:
            if decoded is None:
                enc = (ys.in1 - ys.in0) * (xs.in1 - xs.in0)
                tiles.append(Tile(ys, xs, ys, xs, round(share * enc), (ys.out1 - ys.out0) * (xs.out1 - xs.out0)))
                continue
            # output rows (columns) per feature pixel that is their first neighbour, over this tile
            r_first = first_rows[ys.out0:ys.out1] - ys.need0
            c_first = first_cols[xs.out0:xs.out1] - xs.need0
            r_count = torch.bincount(r_first, minlength=ys.need1 - ys.need0).double()
            c_count = torch.bincount(c_first, minlength=xs.need1 - xs.need0).double()
            block = decoded[ys.need0 - origin[0]:ys.need1 - origin[0],
                            xs.need0 - origin[1]:xs.need1 - origin[1]].double()
            n_decoded = int(round(float(r_count @ block @ c_count)))
            if n_decoded == 0:
                tiles.append(Tile(ys, xs, None, None, 0, 0))
                continue
            row_on = ((block @ (c_count > 0).double()) > 0)[r_first].nonzero()
            col_on = (((r_count > 0).double() @ block) > 0)[c_first].nonzero()
            lr = _span(ys.out0 + int(row_on[0]), ys.out0 + int(row_on[-1]) + 1, rows_nb, halo, h)
            lc = _span(xs.out0 + int(col_on[0]), xs.out0 + int(col_on[-1]) + 1, cols_nb, halo, w)
            enc = (lr.in1 - lr.in0) * (lc.in1 - lc.in0)
            tiles.append(Tile(ys, xs, lr, lc, round(share * enc), n_decoded))
    return Plan((h, w), (oh, ow), rows_nb, cols_nb, tiles, decoded, origin, first_rows, first_cols)


def _span(o0: int, o1: int, nb: AxisNeighbours, halo: int, n_in: int) -> Span:
    """The span of output positions ``o0..o1-1`` on one axis: the feature pixels they read, and those
    widened by the encoder's receptive field."""
    need0, need1 = int(nb.index[:, o0:o1].min()), int(nb.index[:, o0:o1].max()) + 1
    return Span(o0, o1, need0, need1, max(0, need0 - halo), min(n_in, need1 + halo))


def run_tiles(model, inp: torch.Tensor, plan: Plan,
              emit: Callable[[int, int, torch.Tensor], None],
              progress: Callable[[int, int], None] | None = None,
              cancel: Callable[[], bool] | None = None,
              part: tuple[int, int] | None = None,
              decoder_dtype: torch.dtype = torch.float32) -> None:
    """Upscale the normalised ``(1, 3, h, w)`` input as ``plan`` (:func:`plan_tiles`) says, tile by tile.

    ``part = (row0, col0)``: ``inp`` holds only the pixels from ``(row0, col0)`` of the plan's
    input, at least the :func:`input_window` of its window. A preview of a big layer then prepares
    only those pixels. ``decoder_dtype``: what the decoder's hidden layers compute in.

    ``emit(row0, col0, block)`` receives each finished ``(rows, cols, 3)`` block at its place in
    the whole output (normalised, float32, on the model's device). ``progress(done, total)``
    counts the plan's work after each tile's encoder and each chunk of rows that decodes
    anything: even a one-tile image on a CPU moves the bar every fraction of a second, at an even
    pace.
    """
    row_origin, col_origin = part or (0, 0)
    (h, w), (oh, ow) = plan.in_hw, plan.out_hw
    rows_nb, cols_nb = plan.rows_nb, plan.cols_nb
    rel_cell = torch.tensor([2 / oh * h, 2 / ow * w], device=inp.device)
    total = plan.work
    done = 0
    workspace = Workspace() if inp.device.type == "cpu" else None
    if progress:
        progress(0, total)
    for t in plan.tiles:
        ys, xs = t.rows, t.cols
        if cancel and cancel():
            raise Cancelled("upscale cancelled")
        if not (row_origin <= ys.in0 and ys.in1 <= row_origin + inp.shape[-2]
                and col_origin <= xs.in0 and xs.in1 <= col_origin + inp.shape[-1]):
            raise ValueError(f"the input part at ({row_origin}, {col_origin}) of shape {tuple(inp.shape[-2:])} "
                             f"lacks rows {ys.in0}-{ys.in1}, columns {xs.in0}-{xs.in1}")

        def cut(r: Span, c: Span) -> torch.Tensor:
            """The input pixels the span's encoder reads."""
            return inp[:, :, r.in0 - row_origin:r.in1 - row_origin, c.in0 - col_origin:c.in1 - col_origin]

        crop = cut(ys, xs)  # the skip reads these
        layer1 = width = None
        if t.decoded_rows is not None:
            lr, lc = t.decoded_rows, t.decoded_cols
            enc = cut(lr, lc)
            if inp.device.type == "cpu":
                enc = enc.contiguous(memory_format=torch.channels_last)
            layer1 = first_layer_map(model, model.gen_feat(enc))[0]
            done += t.encoder_work
            if progress:
                progress(done, total)
            layer1 = layer1[:, lr.need0 - lr.in0:lr.need1 - lr.in0, lc.need0 - lc.in0:lc.need1 - lc.in0]
            width = lc.need1 - lc.need0
            # rows gathered below, in the hidden layers' dtype
            layer1 = layer1.permute(1, 2, 0).reshape(-1, layer1.shape[0]).to(decoder_dtype).contiguous()
            cols = AxisNeighbours(cols_nb.index[:, xs.out0:xs.out1] - lc.need0, cols_nb.rel[:, xs.out0:xs.out1])
        chunk = QUERY_CHUNK_PER_THREAD * (torch.get_num_threads() if inp.device.type == "cpu" else 16)
        n_cols = xs.out1 - xs.out0
        step = max(1, -(-chunk // n_cols))  # whole rows, at least chunk queries
        r0 = ys.out0
        while r0 < ys.out1:
            if cancel and cancel():
                raise Cancelled("upscale cancelled")
            r1, only, n_decoded = _chunk(plan, t, r0, step, chunk)
            if n_decoded:
                rows = AxisNeighbours(rows_nb.index[:, r0:r1] - t.decoded_rows.need0, rows_nb.rel[:, r0:r1])
                block = decode_grid(model, layer1, width, rows, cols, rel_cell, workspace,
                                    None if only is None else only.to(inp.device))
            else:
                block = torch.zeros(r1 - r0, n_cols, 3, device=inp.device)
            if model.skip is not None:
                skip = model.skip_grid(crop, grid_positions(h, oh, r0, r1, inp.device),
                                       grid_positions(w, ow, xs.out0, xs.out1, inp.device),
                                       (h, w), (ys.in0, xs.in0))
                block = block + skip[0].permute(1, 2, 0)
            emit(r0, xs.out0, block)
            if n_decoded:
                done += n_decoded
                if progress:
                    progress(done, total)
            r0 = r1


def _chunk(plan: Plan, t: Tile, r0: int, step: int, chunk: int) -> tuple[int, torch.Tensor | None, int]:
    """The rows ``r0..r1-1`` of tile ``t`` to decode at once: ``step`` rows, or where flat areas
    leave fewer queries to decode, as many rows as hold ``chunk`` of them (at most 16 times
    ``step``), so that the GEMMs stay large. Returns ``r1``, which of those rows' pixels to decode
    (``None``: all) and how many."""
    ys, xs = t.rows, t.cols
    if plan.decoded is None:
        r1 = min(r0 + step, ys.out1)
        return r1, None, (r1 - r0) * (xs.out1 - xs.out0)
    last = min(r0 + 16 * step, ys.out1)
    if t.decoded_rows is None:
        return last, None, 0
    mask = plan.decoded_mask(slice(r0, last), slice(xs.out0, xs.out1))
    reached = int((mask.sum(dim=1).cumsum(0) < chunk).sum()) + 1  # rows until chunk queries to decode
    mask = mask[:reached]
    n = int(mask.sum())
    return r0 + len(mask), (None if n == mask.numel() else mask), n
