"""The paper's query, written plainly: the yardstick the fast path is tested against.

This follows ``LIIF.query_rgb`` of github.com/yinboc/liif step by step (unfold the feature map
to 9x the channels, sample it at each shifted query, run the MLP on 580-wide inputs, blend by
areas). It is slow and memory hungry on purpose: it is never used outside tests and ``bench/``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from liif_core.coords import CLAMP, EPS_SHIFT, make_coord
from liif_core.query import clip_cell
from liif_core.resample import grid_positions


def query_rgb_reference(model, inp: torch.Tensor, feat: torch.Tensor, coord: torch.Tensor,
                        cell: torch.Tensor, add_skip: bool = True) -> torch.Tensor:
    """Colours ``(B, Q, 3)`` at ``coord`` ``(B, Q, 2)`` with ``cell`` ``(B, Q, 2)``, paper style.

    ``add_skip=False`` leaves out our bicubic skip (for callers that add it on a whole grid).
    """
    if model.feat_unfold:
        feat = F.unfold(feat, 3, padding=1).view(feat.shape[0], feat.shape[1] * 9, feat.shape[2], feat.shape[3])
    if model.local_ensemble:
        vx_lst, vy_lst, eps_shift = [-1, 1], [-1, 1], EPS_SHIFT
    else:
        vx_lst, vy_lst, eps_shift = [0], [0], 0
    rx = 2 / feat.shape[-2] / 2
    ry = 2 / feat.shape[-1] / 2
    feat_coord = (make_coord(feat.shape[-2:], flatten=False, device=feat.device)
                  .permute(2, 0, 1).unsqueeze(0).expand(feat.shape[0], 2, *feat.shape[-2:]))
    preds, areas = [], []
    for vx in vx_lst:
        for vy in vy_lst:
            coord_ = coord.clone()
            coord_[:, :, 0] += vx * rx + eps_shift
            coord_[:, :, 1] += vy * ry + eps_shift
            coord_.clamp_(-CLAMP, CLAMP)
            q_feat = F.grid_sample(feat, coord_.flip(-1).unsqueeze(1), mode="nearest",
                                   align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            q_coord = F.grid_sample(feat_coord, coord_.flip(-1).unsqueeze(1), mode="nearest",
                                    align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            rel_coord = coord - q_coord
            rel_coord[:, :, 0] *= feat.shape[-2]
            rel_coord[:, :, 1] *= feat.shape[-1]
            x = torch.cat([q_feat, rel_coord], dim=-1)
            if model.cell_decode:
                rel_cell = cell.clone()
                rel_cell[:, :, 0] *= feat.shape[-2]
                rel_cell[:, :, 1] *= feat.shape[-1]
                x = torch.cat([x, clip_cell(model, rel_cell)], dim=-1)  # the one step not in the paper's code
            bs, q = coord.shape[:2]
            preds.append(model.imnet(x.view(bs * q, -1)).view(bs, q, -1))
            areas.append(torch.abs(rel_coord[:, :, 0] * rel_coord[:, :, 1]) + 1e-9)
    tot_area = torch.stack(areas).sum(dim=0)
    if model.local_ensemble:
        areas[0], areas[3] = areas[3], areas[0]
        areas[1], areas[2] = areas[2], areas[1]
    ret = 0
    for pred, area in zip(preds, areas):
        ret = ret + pred * (area / tot_area).unsqueeze(-1)
    if model.skip is not None and add_skip:
        ret = ret + model.skip_sample(inp, coord)
    return ret


def upscale_reference(model, inp: torch.Tensor, out_hw: tuple[int, int], bsize: int = 30000) -> torch.Tensor:
    """Whole-image upscale of a normalised ``(1, 3, h, w)`` input the way the paper's demo does it.

    Our bicubic skip, where the model has one, is added on the whole grid with the same matrices
    the tiles use, so only the paper's part is computed differently from the fast path.
    """
    coord = make_coord(out_hw, device=inp.device).unsqueeze(0)
    cell = torch.ones_like(coord)
    cell[..., 0] *= 2 / out_hw[0]
    cell[..., 1] *= 2 / out_hw[1]
    with torch.no_grad():
        feat = model.gen_feat(inp)
        preds = [query_rgb_reference(model, inp, feat, coord[:, i:i + bsize], cell[:, i:i + bsize], add_skip=False)
                 for i in range(0, coord.shape[1], bsize)]
        out = torch.cat(preds, dim=1).view(1, *out_hw, 3).permute(0, 3, 1, 2)
        if model.skip is not None:
            h, w = inp.shape[-2:]
            out = out + model.skip_grid(inp, grid_positions(h, out_hw[0], device=inp.device),
                                        grid_positions(w, out_hw[1], device=inp.device), (h, w), (0, 0))
    return out
