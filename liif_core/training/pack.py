"""Pack a config's training images into one compact folder, to take along to a GPU machine.

``python -m liif_core.training.pack CONFIG OUT [--data-root DIR]`` copies every source folder of
the config into ``OUT`` as lossless WebP (about half the size of PNG) and renders the generated
sources there. The pixels and the file names' order are unchanged, so ``liif-train CONFIG
--data-root OUT`` draws exactly the batches it would from the original folders (tested).

``--skip PATH`` leaves a source out. For a generated source that is the way to keep the pack small:
training renders a missing generated source itself, so the machine that trains draws it (the
photograph-like ``structure_count`` views do not compress, and need no Qt).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from liif_core.errors import LiifError
from liif_core.eval_sets import check_not_reserved
from liif_core.training.data import list_images
from liif_core.training.train import DEFAULT_DATA_ROOT


def pack(config: str | Path, out: str | Path, data_root: str | Path | None = None,
         skip: Sequence[str] = ()) -> int:
    """Write the config's sources, except those in ``skip``, under ``out``; returns the bytes written."""
    cfg = json.loads(Path(config).read_text())
    root, out = Path(data_root) if data_root else DEFAULT_DATA_ROOT, Path(out)
    unknown = set(skip) - {spec["path"] for spec in cfg["data"]["sources"]}
    if unknown:
        raise LiifError(f"--skip names no source of {config}: {', '.join(sorted(unknown))}")
    total = 0
    with tempfile.TemporaryDirectory(prefix="liif-pack-") as tmp:
        for spec in (s for s in cfg["data"]["sources"] if s["path"] not in skip):
            src = root / spec["path"]
            check_not_reserved(src)
            if not src.exists() and "generate" in spec:
                from liif_core.training.synth import generate

                src = Path(tmp) / spec["path"]
                generate(src, **spec["generate"])
            dst = out / spec["path"]
            dst.mkdir(parents=True, exist_ok=True)
            for path in list_images(src):
                target = dst / (path.stem + ".webp")
                with Image.open(path) as im:  # palette and grey+alpha images keep their alpha as RGBA
                    im.convert(im.mode if im.mode in ("RGB", "RGBA", "L") else "RGBA").save(
                        target, lossless=True, quality=50, method=4)
                total += target.stat().st_size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m liif_core.training.pack", description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("out")
    parser.add_argument("--data-root", help=f"folder holding the config's sources (default {DEFAULT_DATA_ROOT})")
    parser.add_argument("--skip", action="append", default=[], metavar="PATH",
                        help="leave this source out (repeatable); a generated one is then rendered where it trains")
    args = parser.parse_args(argv)
    try:
        size = pack(args.config, args.out, args.data_root, args.skip)
    except (LiifError, FileNotFoundError) as e:
        print(f"pack: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {size / 2**20:.1f} MiB of images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
