"""Classic resampling kernels as matrices: the bicubic skip on grids, and comparison baselines."""

from __future__ import annotations

import torch


def cubic(x: torch.Tensor, a: float = -0.75) -> torch.Tensor:
    """Keys' cubic convolution kernel (a = -0.75 as in PyTorch, a = -0.5 as in MATLAB)."""
    x = x.abs()
    x2, x3 = x * x, x * x * x
    near = (a + 2) * x3 - (a + 3) * x2 + 1
    far = a * x3 - 5 * a * x2 + 8 * a * x - 4 * a
    return torch.where(x <= 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def cubic_matrix(out_positions: torch.Tensor, n: int, start: int = 0, size: int | None = None,
                 a: float = -0.75) -> torch.Tensor:
    """Interpolation matrix ``(len(out_positions), size)`` for positions in input-pixel units.

    Taps outside ``[0, n)`` are clamped to the border (PyTorch's ``padding_mode='border'``). The
    matrix addresses the crop ``[start, start + size)`` of the axis, so a tile gets exactly the
    weights the whole image would.
    """
    size = n - start if size is None else size
    pos = out_positions.double()
    base = torch.floor(pos)
    m = torch.zeros(len(pos), size, dtype=torch.float64, device=pos.device)
    for tap in range(-1, 3):
        index = (base + tap).clamp(0, n - 1).long() - start
        if index.min() < 0 or index.max() >= size:
            raise ValueError("bicubic taps reach outside the crop; the halo is too small")
        m.scatter_add_(1, index.view(-1, 1), cubic(pos - base - tap).view(-1, 1))
    return m.float()


def grid_positions(n_in: int, n_out: int, o0: int = 0, o1: int | None = None,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """Input-pixel positions (float64) of output pixel centres ``o0..o1`` when ``n_in`` maps to ``n_out``."""
    o1 = n_out if o1 is None else o1
    return (torch.arange(o0, o1, dtype=torch.float64, device=device) + 0.5) * (n_in / n_out) - 0.5


def bicubic_resize(img: torch.Tensor, out_hw: tuple[int, int], a: float = -0.75) -> torch.Tensor:
    """Plain (non-antialiased) bicubic resize of ``(..., H, W)`` to ``out_hw``; for upscaling."""
    h, w = img.shape[-2:]
    my = cubic_matrix(grid_positions(h, out_hw[0], device=img.device), h, a=a)
    mx = cubic_matrix(grid_positions(w, out_hw[1], device=img.device), w, a=a)
    return torch.einsum("yh,...hw,xw->...yx", my, img, mx)
