"""The fast exact query: the paper's decoder, rearranged so that most work is done once per pixel.

The first MLP layer is linear in the 3x3-unfolded feature, so its feature part equals a 3x3
convolution of the feature map with the layer's weights reshaped. That is computed once per
low-resolution pixel (``first_layer_map``) and gathered for each query, instead of building and
multiplying 580-wide inputs per query and per ensemble branch. The four branches then run as one
batch through the remaining layers. The result equals the paper's formulation up to float
rounding (tested against ``liif_core.reference``); training and inference share this code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from liif_core.coords import AxisNeighbours, combine_axes, ensemble_neighbours


def first_layer_map(model, feat: torch.Tensor) -> torch.Tensor:
    """First decoder layer's feature part (plus its bias) at every feature pixel: ``(B, hidden, H, W)``."""
    first = model.imnet.linears[0]
    c = feat.shape[1]
    hidden = first.weight.shape[0]
    if model.feat_unfold:
        weight = first.weight[:, : c * 9].reshape(hidden, c, 3, 3)
        return F.conv2d(feat, weight, first.bias, padding=1)
    weight = first.weight[:, :c].reshape(hidden, c, 1, 1)
    return F.conv2d(feat, weight, first.bias)


def work_per_pixel(model) -> tuple[int, int]:
    """Multiply-adds of the fast path: per input pixel (encoder and :func:`first_layer_map`) and
    per output pixel (the rest of the decoder, all ensemble branches). Progress and the benchmark's
    GFLOP/s are counted with these."""
    first = model.imnet.linears[0]
    feature = model.encoder.out_dim * (9 if model.feat_unfold else 1)
    per_input = sum(m.weight.numel() for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d))
    per_input += feature * first.out_features
    per_query = (first.in_features - feature) * first.out_features
    per_query += sum(lin.in_features * lin.out_features for lin in model.imnet.linears[1:])
    return per_input, per_query * (4 if model.local_ensemble else 1)


class Workspace:
    """Reusable output buffers for inference chunks.

    Freshly allocated large tensors cost page faults on every chunk: on this machine a 16 MiB
    gather into a new tensor took 8.5 ms and into a reused one 1.4 ms. Buffers grow as needed.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        n = 1
        for d in shape:
            n *= d
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n or buf.device != like.device or buf.dtype != like.dtype:
            buf = torch.empty(n, device=like.device, dtype=like.dtype)
            self._buffers[name] = buf
        return buf[:n].view(shape)


def decode(model, layer1: torch.Tensor, index: torch.Tensor, rel: torch.Tensor, weight: torch.Tensor,
           rel_cell: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
    """Decode and blend the ensemble branches: ``(B, Q, 3)`` colours, before any skip is added.

    ``layer1``: ``first_layer_map`` as ``(B, H*W, hidden)``, in the dtype the hidden layers are to
    compute in; ``index``: ``(K, B, Q)`` flat pixel
    index into it; ``rel``: ``(K, B, Q, 2)`` relative coordinates; ``weight``: ``(K, B, Q)`` ensemble
    weights; ``rel_cell``: ``(B, Q, 2)`` cell size in feature pixels. With a ``workspace``
    (inference only) intermediate results go to reused buffers instead of new tensors.
    """
    linears = model.imnet.linears
    first = linears[0]
    b, hw, hidden = layer1.shape
    k, _, q = index.shape
    n_feat = first.in_features - 2 - (2 if model.cell_decode else 0)
    if b > 1:
        index = index + torch.arange(b, device=index.device).view(1, b, 1) * hw
    extra = rel
    if model.cell_decode:
        rel_cell = clip_cell(model, rel_cell)
        extra = torch.cat([rel, rel_cell.unsqueeze(0).expand(k, b, q, 2)], dim=-1)
    extra = extra.reshape(k * b * q, -1)
    flat = layer1.reshape(b * hw, hidden)
    dtype = flat.dtype  # the hidden layers' (float32 unless inference asks for less)
    if workspace is None:
        x = flat.index_select(0, index.reshape(-1))
        x = torch.addmm(x, extra.to(dtype), first.weight[:, n_feat:].t().to(dtype)).relu_()
        for lin in linears[1:-1]:
            x = torch.addmm(lin.bias.to(dtype), x, lin.weight.t().to(dtype)).relu_()
    else:
        rows = k * b * q
        x = torch.index_select(flat, 0, index.reshape(-1), out=workspace.get("a", (rows, hidden), flat))
        x.addmm_(extra.to(dtype), first.weight[:, n_feat:].t().to(dtype)).relu_()
        for i, lin in enumerate(linears[1:-1]):
            out = workspace.get("b" if i % 2 == 0 else "a", (rows, lin.out_features), x)
            x = torch.addmm(lin.bias.to(dtype), x, lin.weight.t().to(dtype), out=out).relu_()
    last = linears[-1]
    if not torch.is_autocast_enabled(x.device.type):  # its 3 outputs are the colour correction: float32
        x = x.float()
    x = torch.addmm(last.bias, x, last.weight.t()).view(k, b, q, -1)
    return (x * weight.unsqueeze(-1)).sum(dim=0)


def clip_cell(model, rel_cell: torch.Tensor) -> torch.Tensor:
    """The cell (in feature pixels) the decoder is given: never smaller than at the model's
    largest training scale, where a smaller one would be outside anything it learned."""
    return rel_cell.clamp(min=2 / model.scale_max)


def feature_cell(cell: torch.Tensor, feat_hw: tuple[int, int]) -> torch.Tensor:
    """The cell measured in feature pixels, as the decoder takes it."""
    rel_cell = cell.clone()
    rel_cell[..., 0] *= feat_hw[0]
    rel_cell[..., 1] *= feat_hw[1]
    return rel_cell


def query_rgb(model, inp: torch.Tensor, feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Colours ``(B, Q, 3)`` at ``coord`` ``(B, Q, 2)`` for cells ``cell`` ``(B, Q, 2)``; differentiable."""
    h, w = feat.shape[-2:]
    layer1 = first_layer_map(model, feat)
    layer1 = layer1.permute(0, 2, 3, 1).reshape(feat.shape[0], h * w, -1).contiguous()
    nb = ensemble_neighbours(coord, (h, w), model.local_ensemble)
    ret = decode(model, layer1, nb.row * w + nb.col, nb.rel, nb.weight, feature_cell(cell, (h, w)))
    if model.skip is not None:
        ret = ret + model.skip_sample(inp, coord)
    return ret


def decode_grid(model, layer1: torch.Tensor, width: int, rows: AxisNeighbours, cols: AxisNeighbours,
                rel_cell: torch.Tensor, workspace: Workspace | None = None,
                only: torch.Tensor | None = None) -> torch.Tensor:
    """Decode a block of output pixels given per-axis neighbours: ``(len(rows), len(cols), 3)``.

    ``layer1`` is ``(h*width, hidden)`` (one region of ``first_layer_map``); the neighbour indices
    in ``rows``/``cols`` are local to that region; ``rel_cell`` is the ``(2,)`` cell in feature pixels.
    ``only``: a ``(len(rows), len(cols))`` bool mask; just those pixels are decoded, the rest are
    zero (their neighbours need not be in ``layer1``).
    """
    n_rows, n_cols = rows.index.shape[1], cols.index.shape[1]
    pairs, weight = combine_axes(AxisNeighbours(rows.index[:, :, None], rows.rel[:, :, None]),
                                 AxisNeighbours(cols.index[:, None, :], cols.rel[:, None, :]))
    index = torch.stack([rows.index[sy][:, None] * width + cols.index[sx][None, :] for sy, sx in pairs])
    rel = torch.stack([torch.stack(torch.broadcast_tensors(rows.rel[sy][:, None], cols.rel[sx][None, :]), dim=-1)
                       for sy, sx in pairs])
    k = len(pairs)
    q = n_rows * n_cols
    index, rel, weight = index.view(k, 1, q), rel.view(k, 1, q, 2), weight.view(k, 1, q)
    if only is not None:
        picked = only.reshape(-1).nonzero().squeeze(1)
        index, rel, weight = index[:, :, picked], rel[:, :, picked], weight[:, :, picked]
    out = decode(model, layer1.unsqueeze(0), index, rel, weight,
                 rel_cell.view(1, 1, 2).expand(1, index.shape[-1], 2), workspace)
    if only is None:
        return out.view(n_rows, n_cols, -1)
    full = torch.zeros(q, out.shape[-1], device=out.device, dtype=out.dtype)
    full[picked] = out[0]
    return full.view(n_rows, n_cols, -1)
