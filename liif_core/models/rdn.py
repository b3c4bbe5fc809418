"""RDN encoder (Zhang et al., 2018) without its upsampler, as used by LIIF.

Module and parameter names follow the paper's code so official state dicts load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from liif_core.models import register


class RDB_Conv(nn.Module):  # noqa: N801  (official name)
    def __init__(self, in_channels: int, grow_rate: int, k_size: int = 3):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channels, grow_rate, k_size, padding=(k_size - 1) // 2), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.conv(x)), 1)


class RDB(nn.Module):
    """Residual dense block: densely connected convs, then a 1x1 local feature fusion."""

    def __init__(self, grow_rate0: int, grow_rate: int, n_conv_layers: int, k_size: int = 3):
        super().__init__()
        self.convs = nn.Sequential(
            *[RDB_Conv(grow_rate0 + c * grow_rate, grow_rate, k_size) for c in range(n_conv_layers)]
        )
        self.LFF = nn.Conv2d(grow_rate0 + n_conv_layers * grow_rate, grow_rate0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LFF(self.convs(x)) + x


class RDN(nn.Module):
    """RDN body: shallow features, ``D`` residual dense blocks, global feature fusion and skip."""

    def __init__(self, G0: int = 64, RDNkSize: int = 3, RDNconfig: str = "B", n_colors: int = 3,  # noqa: N803
                 no_upsampling: bool = True, scale: int = 2):
        super().__init__()
        if not no_upsampling:
            raise ValueError("LIIF uses RDN without its upsampler (no_upsampling=True)")
        k = RDNkSize
        self.D, C, G = {"A": (20, 6, 32), "B": (16, 8, 64)}[RDNconfig]
        self.SFENet1 = nn.Conv2d(n_colors, G0, k, padding=(k - 1) // 2)
        self.SFENet2 = nn.Conv2d(G0, G0, k, padding=(k - 1) // 2)
        self.RDBs = nn.ModuleList([RDB(G0, G, C, k) for _ in range(self.D)])
        self.GFF = nn.Sequential(nn.Conv2d(self.D * G0, G0, 1), nn.Conv2d(G0, G0, k, padding=(k - 1) // 2))
        self.out_dim = G0
        self.receptive_radius = (k // 2) * (2 + self.D * C + 1)
        # at inference: every block's output kept for the global fusion, plus one block's dense concat
        self.peak_channels = 2 * self.D * G0 + G0 + C * G

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f_1 = self.SFENet1(x)
        x = self.SFENet2(f_1)
        outs = []
        for block in self.RDBs:
            x = block(x)
            outs.append(x)
        return self.GFF(torch.cat(outs, 1)) + f_1


@register("rdn")
def make_rdn(G0: int = 64, RDNkSize: int = 3, RDNconfig: str = "B", scale: int = 2,  # noqa: N803
             no_upsampling: bool = True) -> RDN:
    return RDN(G0, RDNkSize, RDNconfig, no_upsampling=no_upsampling)
