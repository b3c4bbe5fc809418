"""Reference (the paper's query) vs fast path: seconds, peak memory, max difference, GFLOP/s.

    python bench/bench_engine.py                       # 256x256 -> 768x768, default model
    python bench/bench_engine.py --threads 1 --load 1  # with one busy process beside it
    python bench/bench_engine.py --precision float32   # the fast path without bfloat16

Each path runs in its own subprocess so peak memory (max RSS) is measured cleanly. ``--load K``
starts K processes that keep one core each busy, as an editor beside the worker would. The
machine is printed with the numbers; these are measurements, not tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run_one(path: str, size: int, scale: float, model_name: str, out: str, tile: int | None,
            precision: str) -> dict:
    import torch

    import liif_core
    from liif_core import tiling
    from liif_core.query import work_per_pixel
    from liif_core.reference import upscale_reference

    model = liif_core.load_model(model_name, device="cpu", precision="float32" if path == "reference" else precision)
    rng = np.random.default_rng(0)
    image = rng.random((size, size, 3), dtype=np.float32)
    out_hw = (round(size * scale), round(size * scale))
    stats = {"mlp_s": 0.0}
    if path == "reference":
        inp = (torch.from_numpy(image).permute(2, 0, 1)[None] - 0.5) / 0.5
        start = time.perf_counter()
        result = upscale_reference(model.net, inp, out_hw)[0].permute(1, 2, 0)
        result = (result * 0.5 + 0.5).clamp(0, 1).numpy()
        stats["seconds"] = time.perf_counter() - start
        stats.pop("mlp_s")
    else:
        decode = tiling.decode_grid

        def timed(*args, **kwargs):
            t = time.perf_counter()
            r = decode(*args, **kwargs)
            stats["mlp_s"] += time.perf_counter() - t
            return r

        tiling.decode_grid = timed
        start = time.perf_counter()
        result = liif_core.upscale(image, size=out_hw[::-1], model=model, tile=tile)
        stats["seconds"] = time.perf_counter() - start
        flops = 2 * work_per_pixel(model.net)[1] * out_hw[0] * out_hw[1]
        stats["mlp_gflops"] = flops / stats["mlp_s"] / 1e9
        stats["decoder_dtype"] = str(model.decoder_dtype).removeprefix("torch.")
    np.save(out, result)
    stats["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats["threads"] = torch.get_num_threads()
    return stats


def busy() -> None:
    while True:
        pass


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--scale", type=float, default=3.0)
    p.add_argument("--model", default="default")
    p.add_argument("--threads", type=int, help="LIIF_UPSCALE_THREADS for both paths")
    p.add_argument("--load", type=int, default=0, help="busy processes running beside the benchmark")
    p.add_argument("--tile", type=int)
    p.add_argument("--precision", default="auto", help="the fast path's (the reference is float32)")
    p.add_argument("--skip-reference", action="store_true")
    p.add_argument("--run", choices=["reference", "fast"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.run:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(run_one(args.run, args.size, args.scale, args.model, args.out, args.tile, args.precision)))
        return
    env = dict(os.environ)
    if args.threads:
        env["LIIF_UPSCALE_THREADS"] = str(args.threads)
    loaders = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.load)]
    for proc in loaders:
        proc.start()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in (["fast"] if args.skip_reference else ["reference", "fast"]):
            cmd = [sys.executable, __file__, "--run", path, "--size", str(args.size), "--scale", str(args.scale),
                   "--model", args.model, "--out", str(Path(tmp) / f"{path}.npy"), "--precision", args.precision]
            cmd += ["--threads", str(args.threads)] if args.threads else []
            cmd += ["--tile", str(args.tile)] if args.tile else []
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                sys.exit(proc.stderr)
            results[path] = json.loads(proc.stdout.strip().splitlines()[-1])
        if not args.skip_reference:
            diff = np.abs(np.load(Path(tmp) / "reference.npy") - np.load(Path(tmp) / "fast.npy")).max()
            results["max_abs_diff"] = float(diff)
            results["speedup"] = results["reference"]["seconds"] / results["fast"]["seconds"]
    for proc in loaders:
        proc.terminate()
    out = round(args.size * args.scale)
    from liif_core.devices import cpu_name, native_bfloat16

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, native bfloat16: {native_bfloat16()}, "
          f"python {platform.python_version()}; busy processes beside: {args.load}")
    print(f"{args.size}x{args.size} -> {out}x{out}, model {args.model}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
