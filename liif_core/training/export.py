"""Turn a training run into a shipped model: ``weights/NAME.safetensors`` plus its JSON card.

``python -m liif_core.training.export RUN_DIR weights/NAME.safetensors [--half]`` writes the
weights (fp16 if asked: half the size, see the card's evaluation for the effect) and a card with
the architecture, training data, steps, hardware and time. ``--ema`` ships the run's weight
average (``last.ema.pt``) instead of the last step's weights. ``--config`` records a config whose
notes (keys starting with ``_``) say more than those the run trained with, e.g. why this step is
shipped; it must otherwise be the run's own. The recorded config is also written beside the weights
as ``NAME.train.json``: the file that retrains the model. ``liif_core.eval --card`` later adds the
evaluation table to the same card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from liif_core import models
from liif_core.training.ema import WeightAverage
from liif_core.training.train import batch_spans, load_config
from liif_core.weights import save_model


def without_notes(value: Any) -> Any:
    """``value`` with every key that starts with ``_`` (a config's notes) removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_notes(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [without_notes(v) for v in value]
    return value


def export(run: str | Path, out: str | Path, half: bool = False, hardware: str | None = None,
           ema: bool = False, summary: str | None = None, inputs: str | None = None,
           config: str | Path | None = None) -> Path:
    """Write the run's last checkpoint (or, with ``ema``, its weight average) as ``out`` with a
    model card beside it. ``summary`` says in a sentence what the model is for (the plug-ins show
    it beside the model's name); ``inputs="jpeg"`` marks a model made for images saved as JPEG,
    which the plug-ins suggest for an image opened from a JPEG file. Without them, the card's earlier
    values stay; so does its ``weights_dtype_check`` (how storing in that dtype was measured to cost
    nothing) while the dtype is the same. ``config`` replaces the run's stored config on the card and
    in ``NAME.train.json`` and may differ from it only in its notes."""
    run = Path(run)
    meta = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    cfg = meta["config"]
    if config is not None:
        given = load_config(config)
        if without_notes(given) != without_notes(cfg):
            raise ValueError(f"{config} is not the config {run} trained with (step {meta['step']}): "
                             "only its notes (keys starting with '_') may differ")
        cfg = given
    net = models.make(cfg["model"])
    net.load_state_dict(meta["model"])
    averaged = None
    if ema:
        saved = torch.load(run / "last.ema.pt", map_location="cpu", weights_only=True)
        if saved["step"] != meta["step"]:
            raise ValueError(f"{run}: last.ema.pt is from step {saved['step']}, last.pt from step {meta['step']}")
        averaged = WeightAverage(net, saved["ema"]["decay"])
        averaged.load_state_dict(saved["ema"])
        averaged.load_into(net)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    key = "val_ema" if ema else "val"
    last_val = next((r[key] for r in reversed(log) if key in r), None)
    spans = batch_spans(cfg["train"], 0, meta["step"])
    out = Path(out)
    old = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {}
    dtype = "float16" if half else "float32"
    card = {
        "name": out.stem,
        "summary": summary if summary is not None else old.get("summary", ""),
        **({"inputs": inputs or old["inputs"]} if inputs or old.get("inputs") else {}),
        "spec": cfg["model"],
        "architecture": "LIIF (Chen, Liu, Wang, CVPR 2021) with EDSR-baseline encoder, 4x256 MLP, 3x3 feature "
                        "unfolding, cell decoding, local ensemble; our variant: the MLP output is added to a "
                        "bicubic interpolation of the input (residual 'bicubic skip'). Not an official checkpoint.",
        "parameters": sum(p.numel() for p in net.parameters()),
        "weights_dtype": dtype,
        **({"weights_dtype_check": old["weights_dtype_check"]}
           if old.get("weights_dtype") == dtype and "weights_dtype_check" in old else {}),
        "training": {
            "config": cfg,
            "steps": meta["step"],
            "batch": cfg["train"]["batch"] if len(spans) == 1 else  # a cycle with a batch of its own: each span's
            [{"steps": [first, end], "batch": size} for first, end, size in spans],
            "samples_seen": sum((end - first) * size for first, end, size in spans),
            "train_seconds": round(meta["elapsed"], 1),
            "hardware": hardware or old.get("training", {}).get("hardware", "unknown"),
            "data": [s["path"] for s in cfg["data"]["sources"]],
            "held_out_validation_psnr_rgb": last_val,
            "weights": (f"exponential moving average of the weights (decay {averaged.decay}, "
                        f"{averaged.updates} updates)" if averaged else "the last step's"),
        },
        "evaluation": old.get("evaluation", {}),
        "licence": "weights trained by the LIIF Upscale project; training images belong to their authors",
    }
    save_model(net, cfg["model"], out, card, half=half)
    out.with_name(f"{out.stem}.train.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Export a training run as shipped weights with a model card.")
    parser.add_argument("run")
    parser.add_argument("out")
    parser.add_argument("--half", action="store_true", help="store float16 weights")
    parser.add_argument("--hardware", help="what the run trained on, for the card")
    parser.add_argument("--ema", action="store_true", help="ship the run's weight average (last.ema.pt)")
    parser.add_argument("--summary", help="what the model is for, in a sentence (default: the card's earlier one)")
    parser.add_argument("--inputs", choices=["jpeg"], help="mark a model made for images saved as JPEG")
    parser.add_argument("--config", help="the config to record, the run's own with other notes "
                                         "(default: the one stored in the checkpoint)")
    args = parser.parse_args()
    print(export(args.run, args.out, args.half, args.hardware, args.ema, args.summary, args.inputs, args.config))


if __name__ == "__main__":
    main()
