"""How long the Krita dialog's preview takes next to the whole job, through a real worker.

The preview asks the worker for one window of the result (``region``), so only the input pixels
that window depends on are converted and go through the network; the whole layer still travels
to the worker, and with transparent pixels their colour fill still looks at all of it. This
times both, each after a warm-up, on the same image.

    python bench/preview.py                                  # 1024x768 RGBA uint8, x3, 360x240 window
    python bench/preview.py --width 4000 --height 3000 --scale 2 --skip-whole
    python bench/preview.py --width 4000 --height 3000 --scale 2 --skip-whole --transparent
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default="default", help="bundled model name or .safetensors/.pth path")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--window", default="360x240", help="preview window in result pixels (WxH)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--self-ensemble", action="store_true")
    parser.add_argument("--skip-whole", action="store_true", help="time only the preview")
    parser.add_argument("--transparent", action="store_true",
                        help="a layer with transparent pixels (an opaque disc on nothing), not an opaque one")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from liif_core.eval import machine
    from plugin.common import WorkerClient

    ww, wh = (int(v) for v in args.window.lower().split("x"))
    image = np.random.default_rng(0).integers(0, 256, size=(args.height, args.width, 4), dtype=np.uint8)
    image[..., 3] = 255
    if args.transparent:
        y, x = np.ogrid[:args.height, :args.width]
        image[((y - args.height / 2) / args.height) ** 2 + ((x - args.width / 2) / args.width) ** 2 > 0.16, 3] = 0
    ow, oh = round(args.width * args.scale), round(args.height * args.scale)
    region = ((ow - ww) // 2, (oh - wh) // 2, ww, wh)
    options = {"size": (ow, oh), "model": args.model, "device": args.device, "self_ensemble": args.self_ensemble}

    with WorkerClient(python=sys.executable, repo=str(REPO)) as client:
        client.upscale(image[:64, :64].tobytes(), (64, 64, 4), "uint8", scale=2, model=args.model,
                       device=args.device)  # warm-up: starts the worker, loads the model

        def timed(**extra: object) -> float:
            t0 = time.perf_counter()
            client.upscale(image.tobytes(), image.shape, "uint8", **options, **extra)
            return time.perf_counter() - t0

        timed(region=region)  # warm-up at this size
        preview_s = timed(region=region)
        whole_s = None if args.skip_whole else timed()

    print(f"{args.width}x{args.height} RGBA uint8{' (transparent outside a disc)' if args.transparent else ''} -> "
          f"{ow}x{oh}, model {args.model!r}"
          f"{', self-ensemble' if args.self_ensemble else ''}; {machine()}")
    print(f"preview window {ww}x{wh}:  {preview_s:7.2f} s")
    if whole_s is not None:
        print(f"whole result:           {whole_s:7.2f} s  ({whole_s / preview_s:.0f}x the preview)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
