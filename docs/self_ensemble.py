"""What the self-ensemble buys: single-pass and 8-pass scores of the same images, side by side.

    .venv/bin/liif-eval --sets Set5,Set14,ui,icons,docs --scales 2,3,4                # docs/eval/records.jsonl
    .venv/bin/liif-eval --sets Set5,Set14,ui,icons,docs --scales 2,3,4 --self-ensemble \\
        --out docs/eval/self_ensemble --no-crops
    .venv/bin/python docs/self_ensemble.py                                    # docs/eval/self_ensemble/gain.md

Only images scored both ways, by the same weights and LR mode, are compared. No timing: the two
runs shared the machine with different work, so their seconds do not compare (the self-ensemble
is 8 passes; the README's Speed section times both back to back).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "docs" / "eval" / "records.jsonl"
ENSEMBLE = ROOT / "docs" / "eval" / "self_ensemble" / "records.jsonl"
OUT = ENSEMBLE.parent / "gain.md"


def load(path: Path) -> dict[tuple[str, int, str], dict[str, Any]]:
    """Records by (set, scale, image)."""
    records = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {(r["set"], int(r["scale"]), r["image"]): r for r in records}


def compare(single: dict, ensemble: dict) -> list[dict[str, Any]]:
    """One row per (set, scale): image count, mean PSNR/SSIM both ways, images improved."""
    groups: dict[tuple[str, int], list[tuple[dict, dict]]] = {}
    for key, se in ensemble.items():
        one = single.get(key)
        if one and one["model"]["sha256"] == se["model"]["sha256"] and one["lr_mode"] == se["lr_mode"]:
            groups.setdefault(key[:2], []).append((one, se))
    ident = next(iter(ensemble.values()))
    scored = {}  # images scored in one pass by the same weights per (set, scale): a row with fewer is a subset
    for (set_name, scale, _), one in single.items():
        if one["model"]["sha256"] == ident["model"]["sha256"] and one["lr_mode"] == ident["lr_mode"]:
            scored[(set_name, scale)] = scored.get((set_name, scale), 0) + 1
    rows = []
    for (set_name, scale), pairs in groups.items():
        n = len(pairs)
        mean = {(w, m): sum(p[i][m]["ours"] for p in pairs) / n
                for i, w in enumerate(("single", "ensemble")) for m in ("psnr", "ssim")}
        rows.append({"set": set_name, "scale": scale, "images": n, "of": scored[(set_name, scale)],
                     **{f"{w}_{m}": v for (w, m), v in mean.items()},
                     "improved": sum(se["psnr"]["ours"] > one["psnr"]["ours"] for one, se in pairs)})
    order = ["Set5", "Set14", "B100", "Urban100", "ui", "icons", "docs"]
    return sorted(rows, key=lambda r: (order.index(r["set"]) if r["set"] in order else 99, r["scale"]))


def markdown(rows: list[dict[str, Any]], model: dict[str, Any]) -> str:
    lines = [
        "# Self-ensemble against a single pass",
        "",
        f"Model `{model['name']}` ({model['file']}, sha256 {model['sha256']}…). Our model's scores on the same "
        "images and LR, once as one pass and once as the mean of 8 passes over the flipped and transposed input "
        "(`--self-ensemble`). Written by `docs/self_ensemble.py` from `docs/eval/records.jsonl` and "
        "`docs/eval/self_ensemble/records.jsonl`; the benchmark protocol is in `docs/eval/report.md`.",
        "",
        "| Set | Scale | Images | One pass PSNR / SSIM | Self-ensemble PSNR / SSIM | Gain (dB) | Images improved |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        count = f"{r['images']}" if r["images"] == r["of"] else f"{r['images']} of {r['of']} (subset)"
        lines.append(f"| {r['set']} | x{r['scale']} | {count} | {r['single_psnr']:.2f} / {r['single_ssim']:.4f} "
                     f"| {r['ensemble_psnr']:.2f} / {r['ensemble_ssim']:.4f} "
                     f"| {r['ensemble_psnr'] - r['single_psnr']:+.3f} | {r['improved']} of {r['images']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    for path in (SINGLE, ENSEMBLE):
        if not path.is_file():
            print(f"{path} not found: run liif-eval as in this script's docstring first", file=sys.stderr)
            return 2
    ensemble = load(ENSEMBLE)
    rows = compare(load(SINGLE), ensemble)
    if not rows:
        print("no image was scored both ways by the same weights and LR mode", file=sys.stderr)
        return 2
    OUT.write_text(markdown(rows, next(iter(ensemble.values()))["model"]))
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
