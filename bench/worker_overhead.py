"""What the worker process costs: one upscale in-process versus the same one through ``liif_core.worker``.

The editors never run the engine in their own Python; they send pixels to the worker and wait for
the result. The difference between the two timings is what that boundary costs (framing, copying
the pixels through two pipes, waking threads), and it should be small next to the upscale itself.

    python bench/worker_overhead.py                       # 1024x1024 RGBA uint8, x2, default model
    python bench/worker_overhead.py --model tiny.safetensors --size 256 --repeat 3
    python bench/worker_overhead.py --boundary-only       # the boundary alone, no network (seconds)

``--boundary-only`` swaps the network for nearest-neighbour repetition on both sides, so the
difference is the boundary's cost alone, free of the noise of a long model run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Started as the worker by --boundary-only: the real worker, with upscale replaced by pixel repetition.
BOUNDARY_WORKER = """
import numpy as np
from liif_core import worker
def nearest(self, job, progress, cancel):
    image, s = job["image"], int(job["scale"])
    progress(0, 1)
    out = image.repeat(s, axis=0).repeat(s, axis=1)
    progress(1, 1)
    return out
worker.Engine.upscale = nearest
worker.main()
"""


def nearest(image: np.ndarray, scale: float) -> np.ndarray:
    s = int(scale)
    return image.repeat(s, axis=0).repeat(s, axis=1)


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls of ``fn`` and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default="default", help="bundled model name or .safetensors/.pth path")
    parser.add_argument("--size", type=int, default=1024, help="input width and height (default 1024)")
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tile", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after one warm-up (median reported)")
    parser.add_argument("--boundary-only", action="store_true",
                        help="no network: nearest-neighbour on both sides, to time the boundary alone")
    args = parser.parse_args(argv)
    if args.boundary_only and args.scale != int(args.scale):
        parser.error("--boundary-only needs a whole-number --scale")
    sys.path.insert(0, str(REPO))  # run from a checkout: liif_core and plugin.common import from here
    import liif_core
    from plugin.common import WorkerClient

    image = np.random.default_rng(0).integers(0, 256, size=(args.size, args.size, 4), dtype=np.uint8)
    options = {"scale": args.scale, "device": args.device, "tile": args.tile}
    if args.boundary_only:
        worker_args = ["-c", BOUNDARY_WORKER]

        def in_process() -> np.ndarray:
            return nearest(image, args.scale)
    else:
        worker_args = None
        model = liif_core.load_model(source=args.model, device=args.device)

        def in_process() -> np.ndarray:
            return liif_core.upscale(image, model=model, **options)

    with WorkerClient(python=sys.executable, repo=str(REPO), args=worker_args) as client:
        t0 = time.perf_counter()
        info = client.info()
        start_s = time.perf_counter() - t0

        def via_worker() -> np.ndarray:
            data, shape, dtype = client.upscale(image.tobytes(), image.shape, "uint8", model=args.model, **options)
            return np.frombuffer(data, dtype=dtype).reshape(shape)

        in_process()  # warm-up: allocator, kernels, caches
        via_worker()  # warm-up: loads the model into the worker
        local_s, expected = timed(in_process, args.repeat)
        worker_s, got = timed(via_worker, args.repeat)

    same = expected.shape == got.shape and expected.tobytes() == got.tobytes()
    out_mb = got.nbytes / 2**20
    what = "no network (--boundary-only)" if args.boundary_only else f"model {args.model!r}"
    print(f"input {args.size}x{args.size} RGBA uint8, scale {args.scale:g}, {what}, "
          f"device {info['device'] if args.device == 'auto' else args.device}, torch {info['torch']}")
    print(f"worker start (info round trip):  {start_s * 1000:8.1f} ms")
    print(f"in-process upscale (median):     {local_s * 1000:8.1f} ms")
    print(f"via the worker (median):         {worker_s * 1000:8.1f} ms")
    relative = "" if args.boundary_only else f" ({(worker_s / local_s - 1) * 100:+.1f}%)"
    print(f"overhead:                        {(worker_s - local_s) * 1000:8.1f} ms{relative}, "
          f"moving {image.nbytes / 2**20:.0f} MiB in, {out_mb:.0f} MiB out")
    print(f"results identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
