"""Continuous coordinates as the paper defines them, and the local-ensemble neighbourhood.

Pixel centres of an ``n``-pixel axis sit at ``-1 + (2i + 1) / n``; index 0 of a coordinate
is the row (y) axis, index 1 the column (x) axis. Every path (reference, fast query, tiling,
training) takes its coordinates and neighbour choices from here, so they agree to the bit.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

# Official LIIF constants: the shift that breaks ties between neighbours and the coordinate clamp.
EPS_SHIFT = 1e-6
CLAMP = 1 - 1e-6


def axis_coord(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Coordinates of the ``n`` pixel centres of one axis (float32, exactly as ``make_coord``)."""
    r = (1 - (-1)) / (2 * n)
    return -1 + r + (2 * r) * torch.arange(n, device=device).float()


def make_coord(shape: tuple[int, ...], flatten: bool = True,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Pixel-centre coordinates of a grid, shape ``(*shape, len(shape))`` or flattened ``(N, d)``."""
    seqs = [axis_coord(n, device) for n in shape]
    ret = torch.stack(torch.meshgrid(*seqs, indexing="ij"), dim=-1)
    return ret.view(-1, ret.shape[-1]) if flatten else ret


def make_cell(coord: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """The cell (size of one output pixel in coordinate units) for every query of ``coord``."""
    cell = torch.ones_like(coord)
    cell[..., 0] *= 2 / out_hw[0]
    cell[..., 1] *= 2 / out_hw[1]
    return cell


class AxisNeighbours(NamedTuple):
    """Along one axis, for each ensemble shift s and position: the chosen feature pixel and the offset to it."""

    index: torch.Tensor  # (S, *positions) int64 feature-pixel index along the axis
    rel: torch.Tensor  # (S, *positions) position minus that pixel's centre, in feature pixels


class Neighbours(NamedTuple):
    """For each ensemble branch k and query q: the feature pixel, the offset to it, the blend weight."""

    row: torch.Tensor  # (K, B, Q) int64 row index into the feature map
    col: torch.Tensor  # (K, B, Q) int64 column index
    rel: torch.Tensor  # (K, B, Q, 2) query minus feature-centre coordinate, in feature pixels
    weight: torch.Tensor  # (K, B, Q) local-ensemble weight (sums to 1 over k)


def axis_neighbours(c: torch.Tensor, n: int, local_ensemble: bool = True) -> AxisNeighbours:
    """Nearest feature pixels of coordinates ``c`` on an ``n``-pixel axis, for each ensemble shift.

    The paper finds neighbours with ``grid_sample(mode='nearest')`` on shifted, clamped
    coordinates. Sampling a map of pixel indices with the same call makes the same choice to the
    bit, ties and borders included. Rows and columns are independent, so every path (general
    queries, whole grids, tiles) computes each axis with this one function.
    """
    shifts, eps = ((-1, 1), EPS_SHIFT) if local_ensemble else ((0,), 0.0)
    r = 2 / n / 2
    index_map = torch.arange(n, device=c.device, dtype=torch.float32).view(1, 1, 1, n)
    centre = axis_coord(n, c.device)
    flat = c.reshape(-1)
    indices, rels = [], []
    for v in shifts:
        shifted = (flat + (v * r + eps)).clamp_(-CLAMP, CLAMP)
        grid = torch.stack([shifted, torch.zeros_like(shifted)], dim=-1).view(1, 1, -1, 2)
        index = F.grid_sample(index_map, grid, mode="nearest", align_corners=False).view(-1).long()
        indices.append(index.view(c.shape))
        rels.append(((flat - centre[index]) * n).view(c.shape))
    return AxisNeighbours(torch.stack(indices), torch.stack(rels))


def combine_axes(rows: AxisNeighbours, cols: AxisNeighbours) -> tuple[list, torch.Tensor]:
    """Pair row and column shifts into ensemble branches (paper's order) and weigh them.

    ``rows`` and ``cols`` must broadcast against each other. Returns the ``(row_shift, col_shift)``
    pairs and the weights ``(K, *broadcast shape)``: each branch is weighted by the area of the
    rectangle between the query and the diagonally opposite neighbour.
    """
    pairs = [(sy, sx) for sy in range(rows.index.shape[0]) for sx in range(cols.index.shape[0])]
    area = torch.stack([torch.abs(rows.rel[sy] * cols.rel[sx]) + 1e-9 for sy, sx in pairs])
    if len(pairs) > 1:
        area = area.flip(0)
    return pairs, area / area.sum(dim=0, keepdim=True)


def ensemble_neighbours(coord: torch.Tensor, feat_hw: tuple[int, int], local_ensemble: bool = True) -> Neighbours:
    """Neighbours of arbitrary queries ``coord`` ``(B, Q, 2)`` on a feature map of size ``feat_hw``."""
    rows = axis_neighbours(coord[..., 0], feat_hw[0], local_ensemble)
    cols = axis_neighbours(coord[..., 1], feat_hw[1], local_ensemble)
    pairs, weight = combine_axes(rows, cols)
    row = torch.stack([rows.index[sy] for sy, _ in pairs])
    col = torch.stack([cols.index[sx] for _, sx in pairs])
    rel = torch.stack([torch.stack([rows.rel[sy], cols.rel[sx]], dim=-1) for sy, sx in pairs])
    return Neighbours(row, col, rel, weight)
