"""Seconds per training step of a config's model, for each way of running the step.

    python bench/train_step.py weights/liif-edsr.train.json                  # every variant
    python bench/train_step.py CONFIG --variants eager,compile --steps 100

Variants: ``eager`` (the training loop's default), ``sync`` (eager, but reading the loss after every
step, as the loop did before: the CPU then waits for the GPU each step), ``channels-last`` and
``compile`` (the loop's ``--channels-last`` and ``--compile``), and ``compile+channels-last``.
Batches are random tensors of the config's shapes, already on the device, so the numbers are the
step alone, without data loading; each variant also reports its warm-up time (compiling, cuDNN's
kernel search). ``--resume RUN`` starts each variant from a run directory's optimizer state and
weight average, as a resumed training run does (a resume once ran 45% slower than it should).
Run it on a lent GPU before a training run to choose the flags; the machine is printed with the
numbers. These are measurements, not tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from liif_core import models
from liif_core.training.data import Batch
from liif_core.training.ema import WeightAverage
from liif_core.training.train import load_config, load_optimizer_state, make_optimizer, train_step, use_fast_cuda_math

VARIANTS = ("eager", "sync", "channels-last", "compile", "compile+channels-last")


def random_batch(cfg: dict, batch: int, device: torch.device) -> Batch:
    """A batch of the config's shapes: inputs in [-1, 1], queries anywhere, cells of x1-x4."""
    patch, queries = cfg["data"]["patch"], cfg["data"]["queries"]
    g = torch.Generator().manual_seed(0)
    scale = 1 + 3 * torch.rand(batch, 1, 1, generator=g)
    cell = (2 / (patch * scale)).expand(batch, queries, 2).contiguous()
    return Batch(torch.rand(batch, 3, patch, patch, generator=g) * 2 - 1,
                 torch.rand(batch, queries, 2, generator=g) * 2 - 1, cell,
                 torch.rand(batch, queries, 3, generator=g) * 2 - 1).to(device)


def time_variant(cfg: dict, variant: str, device: torch.device, batch: int, steps: int, warmup: int,
                 resume: Path | None = None) -> dict:
    """Warm-up and steady seconds per step of one variant, with the weight average as in training,
    from a fresh optimizer or from the saved state in run directory ``resume``."""
    torch.manual_seed(0)
    layout = torch.channels_last if "channels-last" in variant else torch.contiguous_format
    model = models.make(cfg["model"]).to(device).to(memory_format=layout)
    optimizer = make_optimizer(model, cfg["train"], device)  # the training loop's
    ema = WeightAverage(model, 0.999)
    if resume is not None:  # as train() resumes
        load_optimizer_state(optimizer, torch.load(resume / "last.optim.pt", map_location=device,
                                                   weights_only=True)["optimizer"])
        ema.load_state_dict(torch.load(resume / "last.ema.pt", map_location=device, weights_only=True)["ema"])
    forward = torch.compile(model) if variant.startswith("compile") else model
    amp = device.type == "cuda" and cfg["train"].get("amp", True)
    b = random_batch(cfg, batch, device)

    def run(n: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        total = torch.zeros((), device=device)
        for _ in range(n):
            loss = train_step(forward, optimizer, b, layout, amp)
            ema.update(model)
            if variant == "sync":
                loss.item()
            total += loss
        total.item()
        return time.perf_counter() - start

    warm = run(warmup)
    return {"variant": variant, "warmup_s": round(warm, 2), "s_per_step": run(steps) / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (compiling happens here)")
    parser.add_argument("--batch", type=int, help="default: the config's train.batch")
    parser.add_argument("--resume", type=Path, metavar="RUN",
                        help="start from this run directory's last.optim.pt and last.ema.pt")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    cfg = load_config(args.config)
    device = torch.device(args.device)
    if device.type == "cuda":
        use_fast_cuda_math()
    batch = args.batch or cfg["train"]["batch"]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"# {name}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads; batch {batch}, "
          f"patch {cfg['data']['patch']}, {cfg['data']['queries']} queries"
          + (f"; optimizer and weight average resumed from {args.resume}" if args.resume else ""))
    base = None
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")
        torch._dynamo.reset()
        try:
            rec = time_variant(cfg, variant, device, batch, args.steps, args.warmup, args.resume)
        except Exception as e:  # e.g. no compiler for torch.compile on this machine: report, go on
            print(json.dumps({"variant": variant, "error": f"{type(e).__name__}: {e}"[:500]}), flush=True)
            continue
        base = base or rec["s_per_step"]
        rec["speed_vs_first"] = round(base / rec["s_per_step"], 3)
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
