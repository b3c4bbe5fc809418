"""The training loop: one command, one JSON config, resumable to the bit.

``python -m liif_core.training.train CONFIG --out RUN_DIR`` trains from scratch, or resumes from
``RUN_DIR/last.pt`` when it exists. The run directory holds ``last.pt`` (model, step, config),
``last.optim.pt`` (optimizer state), ``last.ema.pt`` (the weight average, when the config asks for
one: :mod:`liif_core.training.ema`), ``log.jsonl`` (loss per step range and validation PSNR) and
a copy of the config. Batches depend only on ``(seed, step)`` and the learning rate only on the
step, so stopping and resuming reproduces the uninterrupted run exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from liif_core import models
from liif_core.coords import make_coord
from liif_core.devices import native_bfloat16
from liif_core.errors import LiifError
from liif_core.eval_sets import check_not_reserved
from liif_core.training.data import (
    Batch,
    JpegInputs,
    PatchSampler,
    Source,
    batches,
    jpeg_round_trip,
    list_images,
    load_rgb,
)
from liif_core.training.ema import WeightAverage

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "datasets"


def load_config(path: str | Path) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def _cosine(base: float, low: float, step: int, steps: int, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    return low + (base - low) * 0.5 * (1 + math.cos(math.pi * t))


def total_steps(cfg: dict[str, Any]) -> int:
    """Steps of the whole schedule: the sum of its cosine cycles, or ``steps``."""
    cycles = cfg.get("cycles")
    return sum(c["steps"] for c in cycles) if cycles else cfg["steps"]


FIT_SKIP, FIT_STEPS = 20, 200  # --fit-minutes: steps left untimed (compiling, cuDNN's search), then timed


def fit_schedule(tc: dict[str, Any], step: int, steps_left: int) -> int:
    """Make the schedule end ``steps_left`` steps after ``step``; returns the new total.

    A plain schedule gets that total. A schedule of cycles gets a new length for its last cycle
    (changed in ``tc``), which must not have started: the cycles before it, and so every earlier
    learning rate, stay as they were, and a config holding the new length reproduces the run.
    """
    end = step + max(1, steps_left)
    cycles = tc.get("cycles")
    if not cycles:
        return end
    last_start = total_steps(tc) - cycles[-1]["steps"]
    if end - last_start <= cycles[-1].get("warmup", 0):
        raise LiifError(f"--fit-minutes: the time left reaches step {end}, but the last cycle starts at step "
                        f"{last_start} and needs more than its warm-up: give more minutes")
    cycles[-1]["steps"] = end - last_start
    return end


def seconds_per_step(window: float, steps: int, val_seconds: float, vals: int, every_val: int) -> float:
    """The mean wall time of a step over a run, from a timed window of ``steps`` steps that took
    ``window`` seconds, ``val_seconds`` of them in ``vals`` validations: those belong to one step in
    ``every_val``, not to the window's, so their cost is spread over that many steps instead (a
    window without a validation cannot tell it, and counts none)."""
    per_step = (window - val_seconds) / steps
    return per_step + (val_seconds / vals / every_val if vals else 0.0)


def check_resumable_schedule(saved: dict[str, Any], tc: dict[str, Any], step: int) -> None:
    """A resume may append cycles, but each cycle the run has begun must be the one it trained on,
    or the learning rate would jump and the run could not be reproduced."""
    start = 0
    for i, ran in enumerate(saved.get("cycles") or []):
        if start >= step:
            break
        now = (tc.get("cycles") or [])[i:i + 1]
        if now != [ran]:
            raise LiifError(f"train.cycles[{i}] of the config is {now[0] if now else 'missing'}, but the run has "
                            f"trained {step - start} steps of it as {ran} (a length set by --fit-minutes is "
                            "logged as cycle_steps): put that back in the config, or start a new run")
        start += ran["steps"]


def batch_spans(tc: dict[str, Any], start: int, stop: int) -> list[tuple[int, int, int]]:
    """``(first, end, batch)`` spans covering steps ``start`` to ``stop - 1``: the config's ``batch``,
    or a cycle's own ``batch`` during that cycle (a fine-tune on a CPU may take smaller steps than
    the run it continues)."""
    spans, first = [], 0
    cycles = tc.get("cycles") or [{"steps": stop}]
    for i, cycle in enumerate(cycles):
        end = stop if i == len(cycles) - 1 else first + cycle["steps"]  # the last cycle runs on, as in learning_rate
        a, b = max(first, start), min(end, stop)
        if a < b:
            size = cycle.get("batch", tc["batch"])
            if spans and spans[-1][2] == size:
                spans[-1] = (spans[-1][0], b, size)
            else:
                spans.append((a, b, size))
        first = end
    return spans


def _batch_stream(sampler: PatchSampler, seed: int, tc: dict[str, Any], start: int, stop: int, workers: int,
                  dev: torch.device) -> Iterator[Batch]:
    for a, b, size in batch_spans(tc, start, stop):
        yield from batches(sampler, seed, size, a, b, workers, dev)


def learning_rate(cfg: dict[str, Any], step: int, total: int) -> float:
    """The learning rate at ``step``: warm-up, then cosine decay (in one or more cycles) or step decay.

    ``cycles`` (a list of ``{"steps", "lr"}``) restarts the cosine at each cycle's ``lr``, so a
    finished run can be continued with a further cycle and still be reproduced from scratch.
    """
    low = cfg.get("lr_min", 0.0)
    cycles = cfg.get("cycles")
    if cycles:
        start = 0
        for i, cycle in enumerate(cycles):
            if step < start + cycle["steps"] or i == len(cycles) - 1:
                warmup = cfg.get("warmup", 0) if i == 0 else cycle.get("warmup", 0)
                return _cosine(cycle["lr"], low, step - start, cycle["steps"], warmup)
            start += cycle["steps"]
    if cfg.get("schedule", "cosine") == "cosine":
        return _cosine(cfg["lr"], low, step, total, cfg.get("warmup", 0))
    return cfg["lr"] * cfg.get("gamma", 0.5) ** sum(step >= m for m in cfg.get("milestones", []))


def _source_images(root: Path, spec: dict[str, Any]) -> tuple[list[Path], list[Path]]:
    """Training and held-out validation files of one source (the last ``holdout`` by name)."""
    folder = root / spec["path"]
    check_not_reserved(folder)
    if not folder.exists() and "generate" in spec:  # rendered beside it, then renamed: never half a source
        from liif_core.training.synth import generate

        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        generate(partial, **spec["generate"])
        partial.rename(folder)
    files = list_images(folder)
    n = spec.get("holdout", 0)
    return (files[:-n], files[-n:]) if n else (files, [])


def build_data(cfg: dict[str, Any], root: Path,
               device: torch.device) -> tuple[PatchSampler, dict[str, list[torch.Tensor]]]:
    """The sampler over the config's sources, and each source's held-out validation images by name."""
    data = cfg["data"]
    sources, val = [], {}
    for spec in data["sources"]:
        train_files, val_files = _source_images(root, spec)
        sources.append(Source([load_rgb(p) for p in train_files], spec.get("weight", 1.0), spec["path"],
                              spec.get("from_step", 0), spec.get("min_detail", 0.0)))
        if val_files:
            val[spec["path"]] = [load_rgb(p) for p in val_files]
    jpeg = data.get("jpeg")
    if jpeg is not None:
        jpeg = JpegInputs(jpeg["share"], tuple(jpeg["quality"]), jpeg.get("from_step", 0))
    sampler = PatchSampler(sources, data.get("patch", 48), data.get("queries", 2304), data.get("scale_min", 1.0),
                           data.get("scale_max", 4.0), device, jpeg)
    return sampler, val


def psnr(a: torch.Tensor, b: torch.Tensor, shave: int) -> float:
    """PSNR of two ``(3, H, W)`` images in [0, 1] with ``shave`` border pixels ignored."""
    if shave:
        a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    mse = F.mse_loss(a, b).item()
    return 10 * math.log10(1 / max(mse, 1e-12))


def _val_psnr(model, img: torch.Tensor, s: float, crop: int, device: torch.device,
              jpeg_quality: int | None = None) -> tuple[float, float]:
    """PSNR of the model and of bicubic on one held-out image's centre crop at scale ``s``, its small
    image saved as JPEG at ``jpeg_quality`` first when given."""
    h, w = img.shape[-2:]
    side = min(crop, h, w) // int(s) * int(s)
    y, x = (h - side) // 2, (w - side) // 2
    hr = img[:, y:y + side, x:x + side].float().div(255).to(device)
    lr_side = round(side / s)
    lr = F.interpolate(hr[None], size=(lr_side, lr_side), mode="bicubic", antialias=True).clamp(0, 1)
    if jpeg_quality is not None:
        lr = jpeg_round_trip(lr[0], jpeg_quality)[None]
    coord = make_coord((side, side), device=device)[None]
    cell = torch.full_like(coord, 2 / side)
    pred = model((lr - 0.5) / 0.5, coord, cell)
    pred = (pred * 0.5 + 0.5).clamp(0, 1).view(side, side, 3).permute(2, 0, 1)
    up = F.interpolate(lr, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)[0]
    return psnr(pred, hr, int(s)), psnr(up, hr, int(s))


@torch.no_grad()
def validate(model, images: dict[str, list[torch.Tensor]], scales: list[float], crop: int,
             device: torch.device, jpeg_quality: int | None = None) -> dict:
    """Mean PSNR (RGB) of the model and of bicubic on held-out centre crops, per scale.

    Besides the mean over all images, ``sources`` gives the model's mean per source, so that a
    gain on one kind of material cannot hide a loss on another. With ``jpeg_quality`` (config
    ``val.jpeg_quality``), ``jpeg`` gives the same with each small image saved as JPEG at that
    quality first: what the model makes of a user's JPEG photograph.
    """
    was_training = model.training
    model.eval()
    result = {}
    for s in scales:
        result[f"x{s:g}"] = _val_means(model, images, s, crop, device)
        if jpeg_quality is not None:
            result[f"x{s:g}"]["jpeg"] = {"quality": jpeg_quality,
                                         **_val_means(model, images, s, crop, device, jpeg_quality)}
    model.train(was_training)
    return result


def _val_means(model, images: dict[str, list[torch.Tensor]], s: float, crop: int, device: torch.device,
               jpeg_quality: int | None = None) -> dict:
    scores = {name: [_val_psnr(model, img, s, crop, device, jpeg_quality) for img in imgs]
              for name, imgs in images.items()}
    every = [pair for pairs in scores.values() for pair in pairs]
    return {"psnr": sum(o for o, _ in every) / len(every), "bicubic": sum(b for _, b in every) / len(every),
            "sources": {name: sum(o for o, _ in pairs) / len(pairs) for name, pairs in scores.items()}}


def _write_config(run: Path, cfg: dict[str, Any]) -> None:
    """The run's ``config.json``: the config its checkpoints store, readable beside them."""
    (run / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def save_checkpoint(run: Path, model, optimizer, step: int, total: int, cfg: dict, elapsed: float,
                    ema: WeightAverage | None = None) -> None:
    """Write ``last.pt``, ``last.optim.pt`` and ``last.ema.pt`` atomically (separate files keep
    each under 16 MiB); ``last.pt`` last, since a resume starts from it."""
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}  # channels-last convs too: export needs it
    meta = {"model": weights, "step": step, "total_steps": total, "config": cfg, "elapsed": elapsed}
    files = [("last.optim.pt", {"optimizer": optimizer.state_dict(), "step": step}), ("last.pt", meta)]
    if ema is not None:
        files.insert(0, ("last.ema.pt", {"ema": ema.state_dict(), "step": step}))
    for name, obj in files:
        tmp = run / (name + ".tmp")
        torch.save(obj, tmp)
        tmp.replace(run / name)


def use_fast_cuda_math() -> None:
    """cuDNN's kernel search and TF32 matmuls: what training on a GPU runs with."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def make_optimizer(model: torch.nn.Module, tc: dict[str, Any], dev: torch.device) -> torch.optim.Optimizer:
    """The config's Adam; fused on a GPU: one kernel for all weights instead of a dozen per step
    (the same update up to rounding)."""
    return torch.optim.Adam(model.parameters(), lr=learning_rate(tc, 0, 1), betas=tuple(tc.get("betas", (0.9, 0.999))),
                            fused=dev.type == "cuda")


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Resume ``optimizer`` from a checkpoint's ``state`` without taking on how that run computed.

    A saved state carries the saving optimizer's implementation flags (``fused``, ``foreach``) and
    its moments in that run's memory layout. Loaded as they are, a run begun on a CPU, or without
    channels-last, resumes on a GPU in PyTorch's per-weight fallback, which reads every weight's
    step count back to the host: 156 waits for the GPU per step, found by profiling cycle 8 on an
    H100 (``bench/train_step.py --resume``: 0.0289 s per step resumed that way, 0.0199 resumed
    here). So the flags of the optimizer just made (:func:`make_optimizer`) are kept, and each
    moment takes its weight's layout; the values are the saved ones.
    """
    how = ("fused", "foreach", "capturable", "differentiable")
    own = {k: v for k, v in optimizer.param_groups[0].items() if k in how}
    optimizer.load_state_dict({**state, "param_groups": [{**g, **own} for g in state["param_groups"]]})
    for group in optimizer.param_groups:
        for p in group["params"]:
            moments = optimizer.state.get(p, {})
            for k, v in moments.items():
                if k != "step" and torch.is_tensor(v) and v.shape == p.shape:
                    moments[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def train_step(forward, optimizer: torch.optim.Optimizer, b, layout: torch.memory_format,
               amp: bool) -> torch.Tensor:
    """One optimizer step on batch ``b``; returns the L1 loss as a tensor on the device (reading it
    would wait for the GPU). ``forward`` is the model or its compiled form."""
    with torch.autocast(b.inp.device.type, dtype=torch.bfloat16, enabled=amp):
        pred = forward(b.inp.contiguous(memory_format=layout), b.coord, b.cell)
    loss = F.l1_loss(pred.float(), b.gt)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def start_profile(dev: torch.device) -> torch.profiler.profile:
    """A running ``torch.profiler`` of this process's CPU work, and of the GPU's kernels on CUDA."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if dev.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    profiler = torch.profiler.profile(activities=activities)
    profiler.start()
    return profiler


def write_profile(profiler: torch.profiler.profile, path: Path, dev: torch.device, steps: int,
                  started: float) -> None:
    """Stop ``profiler`` (started at ``time.perf_counter()`` ``started``) and write to ``path`` where
    its ``steps`` training steps spent their time: operators and kernels by their own time on the
    device (on CUDA), then on the CPU. Steps whose kernels add up to much less than their wall time
    wait on Python, the data or syncs, not on the GPU."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)  # the wall time ends when the GPU has done the steps
    seconds = time.perf_counter() - started
    profiler.stop()
    table = profiler.key_averages()
    parts = [f"{steps} steps profiled, {seconds / steps:.4f} s per step of wall time (the profiler adds some)"]
    if dev.type == "cuda":
        parts.append(table.table(sort_by="self_cuda_time_total", row_limit=30))
    parts.append(table.table(sort_by="self_cpu_time_total", row_limit=30))
    path.write_text("\n\n".join(parts) + "\n")
    print(f"profile of {steps} steps written to {path}", flush=True)


def train(config: str | Path, out: str | Path, data_root: str | Path | None = None, device: str = "auto",
          threads: int | None = None, max_steps: int | None = None, minutes: float | None = None,
          fit_minutes: float | None = None, workers: int | None = None, channels_last: bool = False,
          compile_model: bool = False, profile_steps: int = 0) -> Path:
    """Train (or resume) the run in ``out``; returns the run directory.

    ``max_steps`` stops early (the schedule still follows the config's total); ``minutes`` stops
    after that much wall time; ``fit_minutes`` sets the schedule's length from the measured speed
    so that this run ends then (:func:`fit_schedule`: a plain schedule's total, stored so a resume
    keeps it, or the length of the last cycle, which the config must then hold). ``workers``
    processes build batches ahead (default: the config's ``train.workers``, else up to 8 on a GPU
    and none on a CPU, where the training itself needs every core). ``channels_last`` runs the
    convolutions on channels-last tensors, the layout tensor cores work in: the same arithmetic in
    another order, so it changes speed, and the weights only by rounding. ``compile_model`` trains
    through ``torch.compile`` (fused kernels, fewer launches: on a GPU this small model's step
    is far below the card's arithmetic speed, likely from launches; not profiled); compiling takes
    a minute or more first, and the weights again differ only by rounding. ``profile_steps`` records
    that many steps with ``torch.profiler`` (:func:`write_profile`) once the first ones (and the
    timing of ``fit_minutes``) are behind, so the numbers are those of the steady loop.
    """
    cfg = load_config(config)
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    if dev.type == "cuda":
        use_fast_cuda_math()
    tc = cfg["train"]
    root = Path(data_root) if data_root else DEFAULT_DATA_ROOT
    if workers is None:  # GPU: build batches on the CPU cores meanwhile; CPU: they need every core
        workers = tc.get("workers", min(8, max(1, (os.cpu_count() or 2) - 1)) if dev.type == "cuda" else 0)
    sampler, val_images = build_data(cfg, root, dev if workers == 0 else torch.device("cpu"))
    torch.manual_seed(tc.get("seed", 0))
    model = models.make(cfg["model"]).to(dev)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    if model.scale_max != sampler.scale_max:
        raise LiifError(f"model.args.scale_max ({model.scale_max:g}) must equal data.scale_max "
                        f"({sampler.scale_max:g}): it is the largest scale the model learns, "
                        "and inference gives the decoder no smaller cell than that scale's")
    optimizer = make_optimizer(model, tc, dev)
    step, total, elapsed = 0, total_steps(tc), 0.0
    ema_cfg, ema = tc.get("ema"), None
    ema_from = ema_cfg.get("from_step", 0) if ema_cfg else 0
    if (run / "last.pt").exists():
        meta = torch.load(run / "last.pt", map_location=dev, weights_only=True)
        model.load_state_dict(meta["model"])
        opt = torch.load(run / "last.optim.pt", map_location=dev, weights_only=True)
        if opt["step"] != meta["step"]:
            raise RuntimeError(f"{run}: model and optimizer checkpoints are from different steps")
        load_optimizer_state(optimizer, opt["optimizer"])
        step, elapsed = meta["step"], meta["elapsed"]
        if ema_cfg and (run / "last.ema.pt").exists():
            saved = torch.load(run / "last.ema.pt", map_location=dev, weights_only=True)
            if saved["step"] != step:
                raise RuntimeError(f"{run}: the weight average and the model are from different steps")
            ema = WeightAverage(model, ema_cfg["decay"])
            ema.load_state_dict(saved["ema"])
        elif ema_cfg and step > ema_from:
            raise LiifError(f"{run} is at step {step} but has no last.ema.pt, so the weight average from step "
                            f"{ema_from} cannot be rebuilt: set train.ema.from_step to {step} or later")
        # a schedule of cycles may have grown since (a further cycle); a plain one keeps its fitted total
        check_resumable_schedule(meta["config"]["train"], tc, step)
        total = total_steps(tc) if "cycles" in tc else meta["total_steps"]
        print(f"resuming {run} at step {step} of {total}")
    if fit_minutes and step and ("cycles" not in tc or total - tc["cycles"][-1]["steps"] < step):
        raise LiifError(f"--fit-minutes sets the length of the schedule's last cycle, which must not have "
                        f"started: the run is at step {step}; append a cycle to the config to fit that one"
                        if "cycles" in tc else "--fit-minutes fits a schedule without cycles only from scratch")
    _write_config(run, cfg)  # the schedule the run is on now, an appended cycle included
    forward = torch.compile(model) if compile_model else model  # the weights stay model's own
    log = open(run / "log.jsonl", "a")
    # mixed precision (bfloat16 autocast: convolutions and matrix products) where it is fast: on a GPU,
    # and on a CPU that multiplies bfloat16 natively (2.2 times faster per step on a Zen 4 core)
    amp = tc.get("amp", True) and (dev.type == "cuda" or (dev.type == "cpu" and native_bfloat16()))
    seed = tc.get("seed", 0)
    every_log, every_val, every_ckpt = tc.get("log_every", 100), tc.get("val_every", 1000), tc.get("ckpt_every", 500)
    val_scales, val_crop = cfg.get("val", {}).get("scales", [2, 4]), cfg.get("val", {}).get("crop", 192)
    val_jpeg = cfg.get("val", {}).get("jpeg_quality")
    start = time.time()
    run_start_step = step
    # the loss stays on the device between log lines: reading it each step would make the CPU wait
    # for the GPU every step instead of queueing the next one
    loss_sum, n_losses = torch.zeros((), device=dev), 0
    last_t = time.time()
    data_wait = 0.0  # seconds spent waiting for batches since the last log line
    val_seconds, val_runs = 0.0, 0  # time in validation, for --fit-minutes' speed (seconds_per_step)
    stop = total if max_steps is None else min(total, max_steps)
    stream = _batch_stream(sampler, seed, tc, step, stop, workers, dev)
    profile_from = run_start_step + FIT_SKIP + (FIT_STEPS if fit_minutes else 0)
    profiler, profile_t0 = None, 0.0
    while step < stop:
        if profile_steps and step == profile_from:
            profiler, profile_t0 = start_profile(dev), time.perf_counter()
        if ema_cfg and ema is None and step >= ema_from:
            ema = WeightAverage(model, ema_cfg["decay"])
        lr = learning_rate(tc, step, total)
        for group in optimizer.param_groups:
            group["lr"] = lr
        t_data = time.perf_counter()
        b = next(stream)
        data_wait += time.perf_counter() - t_data
        loss_sum += train_step(forward, optimizer, b, layout, amp)
        if ema is not None:
            ema.update(model)
        n_losses += 1
        step += 1
        if profiler is not None and step == profile_from + profile_steps:
            write_profile(profiler, run / "profile.txt", dev, profile_steps, profile_t0)
            profiler = None
        if fit_minutes and step == run_start_step + FIT_SKIP:
            fit_start, fit_val = time.time(), (val_seconds, val_runs)
        if fit_minutes and step == run_start_step + FIT_SKIP + FIT_STEPS:
            rate = 1 / seconds_per_step(time.time() - fit_start, FIT_STEPS, val_seconds - fit_val[0],
                                        val_runs - fit_val[1], every_val)
            try:
                total = fit_schedule(tc, step, int(rate * (fit_minutes * 60 - (time.time() - start))))
            except LiifError as e:  # a warning: stopping here would lose the steps since the last checkpoint
                print(f"{e}; the schedule stays as configured", flush=True)
            else:
                stop = total if max_steps is None else min(total, max_steps)
                stream.close()
                stream = _batch_stream(sampler, seed, tc, step, stop, workers, dev)
                fitted = {"step": step, "total_steps": total, "steps_per_s": rate}
                if "cycles" in tc:
                    fitted["cycle_steps"] = tc["cycles"][-1]["steps"]
                    print(f"measured {rate:.2f} steps/s: the last cycle set to {fitted['cycle_steps']} steps, to "
                          f"step {total}; write that into train.cycles of {config} to resume or reproduce this run")
                else:
                    print(f"measured {rate:.2f} steps/s: total steps set to {total}")
                _write_config(run, cfg)
                log.write(json.dumps(fitted) + "\n")
        out_of_time = minutes is not None and time.time() - start > minutes * 60
        logging = step % every_log == 0 or step == stop
        if logging or step % every_ckpt == 0 or out_of_time:
            mean_loss = loss_sum.item() / n_losses
            if not math.isfinite(mean_loss):
                raise LiifError(f"training diverged between steps {step - n_losses} and {step}: the loss is "
                                f"{mean_loss}; {run} keeps the last checkpoint from before, so lower the "
                                "learning rate in the config and resume")
        if logging:
            now = time.time()
            rec = {"step": step, "loss": mean_loss, "lr": lr,
                   "s_per_step": (now - last_t) / n_losses, "s_data_per_step": data_wait / n_losses,
                   "elapsed": elapsed + now - start}
            loss_sum, n_losses, last_t, data_wait = torch.zeros((), device=dev), 0, now, 0.0
            if val_images and (step % every_val == 0 or step == stop):
                t_val = time.time()
                rec["val"] = validate(model, val_images, val_scales, val_crop, dev, val_jpeg)
                if ema is not None:
                    rec["val_ema"] = validate(ema.model(model), val_images, val_scales, val_crop, dev, val_jpeg)
                val_seconds, val_runs = val_seconds + time.time() - t_val, val_runs + 1
            log.write(json.dumps(rec) + "\n")
            log.flush()
            last_t = time.time()
            print(json.dumps(rec), flush=True)
        if step % every_ckpt == 0 or step == stop or out_of_time:
            save_checkpoint(run, model, optimizer, step, total, cfg, elapsed + time.time() - start, ema)
        if out_of_time:
            print(f"time budget reached at step {step}")
            break
    if profiler is not None:  # the run ended first: what was recorded
        write_profile(profiler, run / "profile.txt", dev, step - profile_from, profile_t0)
    stream.close()  # stops the batch workers when the time budget ended the run early
    log.close()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description="Train a LIIF model from a JSON config (resumes if possible).")
    parser.add_argument("config")
    parser.add_argument("--out", required=True, help="run directory (checkpoints, log)")
    parser.add_argument("--data-root", help=f"folder holding the config's sources (default {DEFAULT_DATA_ROOT})")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.add_argument("--max-steps", type=int, help="stop after this step (schedule unchanged)")
    parser.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this much wall time")
    parser.add_argument("--fit-minutes", type=float,
                        help="set the schedule's length (its total, or its last cycle's) so this run ends then")
    parser.add_argument("--workers", type=int, help="processes building batches ahead (default: 8 on GPU, 0 on CPU)")
    parser.add_argument("--channels-last", action="store_true",
                        help="convolutions in channels-last layout (GPU tensor cores; equal up to rounding)")
    parser.add_argument("--compile", action="store_true",
                        help="train through torch.compile (fewer kernel launches; a minute or more to compile first)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="record N steady steps with torch.profiler into profile.txt in the run directory")
    args = parser.parse_args()
    try:
        train(args.config, args.out, args.data_root, args.device, args.threads, args.max_steps, args.minutes,
              args.fit_minutes, args.workers, args.channels_last, args.compile, args.profile)
    except (LiifError, FileNotFoundError) as e:
        sys.exit(f"liif-train: error: {e}")


if __name__ == "__main__":
    main()
