"""Build the plug-in archives users install from inside the editors.

    python plugin/build_release.py [--out dist]

- ``liif_upscale-krita-VERSION.zip``: for Krita's Tools > Scripts > Import Python Plugin from File
  (the ``.desktop`` file and the ``liif_upscale`` package at the archive's root, the shared client
  inside the package as ``liif_common``; the ``.action`` file rides along in the package, Krita's
  importer ignores it and the menu entry works without it).
- ``liif-upscale-gimp-VERSION.zip``: unpack into GIMP 3's ``plug-ins`` folder (one folder
  ``liif-upscale/`` holding the executable script and ``liif_common``).

Both plug-ins still need the engine's environment: run ``python3 install.py --no-krita --no-gimp``
once (or point ``LIIF_UPSCALE_PYTHON`` at a Python that can import ``liif_core``).
Standard library only; archives are reproducible (fixed timestamps, sorted entries).
"""

from __future__ import annotations

import argparse
import re
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugin"
STAMP = (2026, 1, 1, 0, 0, 0)


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _add(zf: zipfile.ZipFile, path: Path, name: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, STAMP)
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, path.read_bytes())


def build_krita(out: Path) -> Path:
    dst = out / f"liif_upscale-krita-{version()}.zip"
    with zipfile.ZipFile(dst, "w") as zf:
        _add(zf, PLUGIN / "krita" / "liif_upscale.desktop", "liif_upscale.desktop")
        for p in _files(PLUGIN / "krita" / "liif_upscale"):
            _add(zf, p, f"liif_upscale/{p.relative_to(PLUGIN / 'krita' / 'liif_upscale').as_posix()}")
        for p in _files(PLUGIN / "common"):
            _add(zf, p, f"liif_upscale/liif_common/{p.relative_to(PLUGIN / 'common').as_posix()}")
        _add(zf, PLUGIN / "krita" / "liif_upscale.action", "liif_upscale/liif_upscale.action")
    return dst


def build_gimp(out: Path) -> Path:
    dst = out / f"liif-upscale-gimp-{version()}.zip"
    src = PLUGIN / "gimp" / "liif-upscale"
    with zipfile.ZipFile(dst, "w") as zf:
        for p in _files(src):
            if p.parent == src:
                _add(zf, p, f"liif-upscale/{p.name}", executable=p.suffix == ".py")
        for p in _files(PLUGIN / "common"):
            _add(zf, p, f"liif-upscale/liif_common/{p.relative_to(PLUGIN / 'common').as_posix()}")
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the Krita and GIMP plug-in archives.")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (build_krita(args.out), build_gimp(args.out)):
        print(path)


if __name__ == "__main__":
    main()
