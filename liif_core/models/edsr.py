"""EDSR encoder (Lim et al., 2017) without its upsampler, as used by LIIF.

Module and parameter names follow the paper's code so official state dicts load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from liif_core.models import register


def _conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class MeanShift(nn.Conv2d):
    """Fixed 1x1 colour shift. Unused in LIIF's forward pass but present in official state dicts."""

    def __init__(self, rgb_range: float = 1.0, rgb_mean=(0.4488, 0.4371, 0.4040), sign: int = -1):
        super().__init__(3, 3, kernel_size=1)
        # made on the CPU and copied: on the meta device (weights.architecture) torch.eye first imports
        # torch._dynamo, a second of a worker's start-up
        with torch.no_grad():
            self.weight.copy_(torch.eye(3, device="cpu").view(3, 3, 1, 1))
            self.bias.copy_(sign * rgb_range * torch.tensor(rgb_mean, device="cpu"))
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    def __init__(self, n_feats: int, kernel_size: int, res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(
            _conv(n_feats, n_feats, kernel_size), nn.ReLU(True), _conv(n_feats, n_feats, kernel_size)
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.body(x)
        if self.res_scale != 1:
            res = res * self.res_scale
        return res + x


class EDSR(nn.Module):
    """EDSR body: head conv, ``n_resblocks`` residual blocks, a closing conv and a global skip."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0,
                 n_colors: int = 3, rgb_range: float = 1.0, no_upsampling: bool = True, scale: int = 2):
        super().__init__()
        if not no_upsampling:
            raise ValueError("LIIF uses EDSR without its upsampler (no_upsampling=True)")
        kernel_size = 3
        self.sub_mean = MeanShift(rgb_range)
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.head = nn.Sequential(_conv(n_colors, n_feats, kernel_size))
        body = [ResBlock(n_feats, kernel_size, res_scale) for _ in range(n_resblocks)]
        body.append(_conv(n_feats, n_feats, kernel_size))
        self.body = nn.Sequential(*body)
        self.out_dim = n_feats
        # Each 3x3 conv widens the receptive field by one pixel on every side.
        self.receptive_radius = 2 * n_resblocks + 2
        # feature maps alive at once at inference (input of a block, its inner conv, the head's skip)
        self.peak_channels = 4 * n_feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        return self.body(x) + x


@register("edsr-baseline")
def make_edsr_baseline(n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0,
                       scale: int = 2, no_upsampling: bool = True, rgb_range: float = 1.0) -> EDSR:
    return EDSR(n_resblocks, n_feats, res_scale, rgb_range=rgb_range, no_upsampling=no_upsampling)


@register("edsr")
def make_edsr(n_resblocks: int = 32, n_feats: int = 256, res_scale: float = 0.1,
              scale: int = 2, no_upsampling: bool = True, rgb_range: float = 1.0) -> EDSR:
    return EDSR(n_resblocks, n_feats, res_scale, rgb_range=rgb_range, no_upsampling=no_upsampling)
