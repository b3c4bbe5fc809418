"""Training batches in the paper's recipe: random LR patches at a random scale, HR pixels as queries.

Each sample draws a scale ``s ~ U(scale_min, scale_max)``, crops ``round(patch * s)`` HR pixels,
downsamples the crop to ``patch`` x ``patch`` with antialiased bicubic, applies a random flip or
transpose, and keeps ``queries`` random HR pixels with their coordinates and cell sizes. Optionally
(:class:`JpegInputs`) a share of the small patches is saved as JPEG and read back first, as users'
photographs are.

A batch is a pure function of ``(seed, step)``: the sampler keeps no state, so a resumed run sees
exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from liif_core.coords import make_coord

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
DETAIL_TRIES = 8  # positions tried for a crop of a source with min_detail; the last is kept if none passes


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name so every machine sees the same order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"training folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_rgb(path: Path) -> torch.Tensor:
    """An image as a ``(3, H, W)`` uint8 tensor (alpha composited on white)."""
    with Image.open(path) as im:
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im)
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def detail(crop: torch.Tensor) -> float:
    """How much a uint8 ``(C, H, W)`` crop varies: the mean absolute difference between neighbouring
    pixels, in 0-255 units. Random crops of BSD200 score 3 at their 10th percentile and 9 at the
    median; those of Debian's wallpaper photographs 2.5 at the median."""
    c = crop.to(torch.int16)
    rows = (c[:, 1:] - c[:, :-1]).abs().float().mean()
    cols = (c[:, :, 1:] - c[:, :, :-1]).abs().float().mean()
    return float((rows + cols) / 2)


@dataclass
class Source:
    """One folder of training images, how often a sample is drawn from it, and from which step on.

    ``from_step`` lets a later cycle add a source without changing the batches of the steps before
    it, so that a run continued with new data can still be reproduced from scratch. ``min_detail``
    (0-255 units, see :func:`detail`) redraws a crop's position, up to :data:`DETAIL_TRIES` times,
    while the crop is flatter than that: for photographs with large smooth areas (sky, blurred
    backgrounds), where bicubic is already right and a sample would teach nearly nothing.
    """

    images: list[torch.Tensor]
    weight: float
    name: str
    from_step: int = 0
    min_detail: float = 0.0


@dataclass(frozen=True)
class JpegInputs:
    """From step ``from_step`` on, a ``share`` of the samples has its small patch saved as JPEG (4:2:0
    chroma, as cameras and most programs write it) at a quality drawn from ``quality`` (inclusive)
    and read back: what a user's photograph usually is. Trained on clean patches alone, the model
    takes JPEG's blocks and ringing for detail and sharpens them (docs/eval/jpeg_inputs.md)."""

    share: float
    quality: tuple[int, int]
    from_step: int = 0

    def __post_init__(self) -> None:
        low, high = self.quality
        if not (0.0 <= self.share <= 1.0 and 1 <= low <= high <= 100):
            raise ValueError(f"data.jpeg: share must be in [0, 1] and quality [low, high] within 1-100, got {self}")


def jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """A ``(3, H, W)`` image in [0, 1], quantised to 8 bits, saved as JPEG at ``quality`` and read back."""
    pixels = image.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, subsampling="4:2:0")
    with Image.open(buffer) as im:
        back = np.asarray(im.convert("RGB"))
    return torch.from_numpy(back.copy()).to(image.device).permute(2, 0, 1).float().div_(255)


@dataclass
class Batch:
    """Normalised network inputs and targets (values in [-1, 1])."""

    inp: torch.Tensor  # (B, 3, patch, patch)
    coord: torch.Tensor  # (B, Q, 2)
    cell: torch.Tensor  # (B, Q, 2)
    gt: torch.Tensor  # (B, Q, 3)

    def to(self, device: torch.device) -> Batch:
        """The batch on ``device`` (asynchronous from pinned memory)."""
        return Batch(*(t.to(device, non_blocking=True) for t in (self.inp, self.coord, self.cell, self.gt)))


class PatchSampler:
    """Draws batches from weighted image sources; stateless apart from the images it holds."""

    def __init__(self, sources: list[Source], patch: int = 48, queries: int = 2304,
                 scale_min: float = 1.0, scale_max: float = 4.0, device: str | torch.device = "cpu",
                 jpeg: JpegInputs | None = None):
        self.patch, self.queries, self.jpeg = patch, queries, jpeg
        self.scale_min, self.scale_max = scale_min, scale_max
        self.device = torch.device(device)
        largest = round(patch * scale_max)
        self.sources = []
        for src in sources:
            imgs = [im.to(self.device) for im in src.images]
            if not imgs:
                raise ValueError(f"training source {src.name!r} has no images")
            self.sources.append(Source(imgs, src.weight, src.name, src.from_step, src.min_detail))
        self.min_side = [[min(im.shape[-2:]) for im in s.images] for s in self.sources]
        if queries > patch * patch:
            raise ValueError("queries cannot exceed patch * patch (the smallest HR crop)")
        self.largest = largest

    def batch(self, seed: int, step: int, size: int) -> Batch:
        """The batch of ``size`` samples for ``step`` of a run seeded with ``seed``."""
        rng = random.Random(f"{seed}:{step}")
        jpeg_rng = random.Random(f"{seed}:{step}:jpeg")  # its own draws: the crops are those without JPEG
        gen = torch.Generator(device="cpu").manual_seed(rng.getrandbits(62))
        # a source not yet active weighs 0: the draw below then picks what it would have without it
        weights = [s.weight if step >= s.from_step else 0.0 for s in self.sources]
        inps, coords, cells, gts = [], [], [], []
        for _ in range(size):
            s = rng.uniform(self.scale_min, self.scale_max)
            hr = round(self.patch * s)
            k = rng.choices(range(len(self.sources)), weights)[0]
            fits = [i for i, side in enumerate(self.min_side[k]) if side >= hr]
            if not fits:  # every image of this source is smaller than the crop: shrink the scale
                i = max(range(len(self.min_side[k])), key=lambda j: self.min_side[k][j])
                hr = self.min_side[k][i]
            else:
                i = rng.choice(fits)
            img, min_detail = self.sources[k].images[i], self.sources[k].min_detail
            for _ in range(DETAIL_TRIES if min_detail else 1):  # a source without min_detail: one draw, as always
                y = rng.randrange(img.shape[-2] - hr + 1)
                x = rng.randrange(img.shape[-1] - hr + 1)
                if not min_detail or detail(img[:, y:y + hr, x:x + hr]) >= min_detail:
                    break
            crop = img[:, y:y + hr, x:x + hr].float().div_(255)
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            if rng.random() < 0.5:
                crop = crop.flip(-2)
            if rng.random() < 0.5:
                crop = crop.transpose(-1, -2)
            lr = F.interpolate(crop[None], size=(self.patch, self.patch), mode="bicubic", antialias=True,
                               align_corners=False).clamp_(0, 1)[0]
            if self.jpeg is not None and step >= self.jpeg.from_step and jpeg_rng.random() < self.jpeg.share:
                lr = jpeg_round_trip(lr, jpeg_rng.randint(*self.jpeg.quality))
            pick = torch.randperm(hr * hr, generator=gen)[: self.queries].to(self.device)
            coord = make_coord((hr, hr), device=self.device)[pick]
            inps.append(lr)
            coords.append(coord)
            cells.append(torch.full_like(coord, 2 / hr))
            gts.append(crop.reshape(3, -1)[:, pick].t())
        return Batch(torch.stack(inps).sub_(0.5).div_(0.5), torch.stack(coords), torch.stack(cells),
                     torch.stack(gts).sub_(0.5).div_(0.5))


class _StepBatches(torch.utils.data.Dataset):
    """Item ``step`` is the batch of that step, so that worker processes can build batches ahead."""

    def __init__(self, sampler: PatchSampler, seed: int, size: int) -> None:
        self.sampler, self.seed, self.size = sampler, seed, size

    def __getitem__(self, step: int) -> tuple[torch.Tensor, ...]:
        return astuple(self.sampler.batch(self.seed, step, self.size))


def batches(sampler: PatchSampler, seed: int, size: int, start: int, stop: int, workers: int = 0,
            device: str | torch.device = "cpu") -> Iterator[Batch]:
    """The batches of steps ``start`` to ``stop - 1`` in order, on ``device``.

    With ``workers`` > 0 they are built ahead by that many processes (sampling, cropping and
    resizing on CPU cores while a GPU trains on the current batch); each batch is still the pure
    function of ``(seed, step)`` that :meth:`PatchSampler.batch` returns, so results do not depend
    on the worker count.
    """
    device = torch.device(device)
    if workers <= 0:
        for step in range(start, stop):
            yield sampler.batch(seed, step, size).to(device)
        return
    loader = torch.utils.data.DataLoader(_StepBatches(sampler, seed, size), batch_size=None,
                                         sampler=range(start, stop), num_workers=workers,
                                         pin_memory=device.type == "cuda", prefetch_factor=4)
    for parts in loader:
        yield Batch(*parts).to(device)
