"""Loading and saving models: our ``.safetensors`` with a JSON card, and the paper's ``.pth`` files.

A ``.safetensors`` file carries its architecture (the model spec) in its metadata, so it loads on
its own; the card beside it (``NAME.json``) tells people what the model is, how it was trained
and how it scores. Official LIIF checkpoints are pickles: they are opened with
``weights_only=True``, which refuses anything but tensors and plain containers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from liif_core import models
from liif_core.devices import resolve_device, resolve_precision
from liif_core.errors import ModelError

WEIGHTS_DIR = Path(os.environ.get("LIIF_UPSCALE_WEIGHTS", Path(__file__).resolve().parents[1] / "weights"))
DEFAULT_MODEL = "liif-edsr"


@dataclass
class Model:
    """A network ready for inference, with where it came from and its card."""

    net: torch.nn.Module
    name: str
    device: torch.device
    card: dict[str, Any] = field(default_factory=dict)
    decoder_dtype: torch.dtype = torch.float32  # the decoder's hidden layers (devices.resolve_precision)


def list_models() -> list[str]:
    """Names of the bundled models (``weights/NAME.safetensors``), the default first."""
    names = sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))
    return sorted(names, key=lambda n: n != DEFAULT_MODEL)


def bundled_card(name: str) -> dict[str, Any]:
    """A bundled model's card without loading the model (empty if it has none or it cannot be read:
    a broken card is reported when the model loads, not where models are listed)."""
    try:
        card = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def model_summaries() -> dict[str, str]:
    """What each bundled model is for, in a sentence from its card (``summary``; empty if none), so
    that a plug-in can say which to pick without loading any of them. The default comes first."""
    return {name: str(bundled_card(name).get("summary", "")) for name in list_models()}


def jpeg_models() -> list[str]:
    """The bundled models made for images saved as JPEG (``"inputs": "jpeg"`` in their card): what a
    plug-in suggests for an image opened from a JPEG file."""
    return [name for name in list_models() if bundled_card(name).get("inputs") == "jpeg"]


def save_model(net: torch.nn.Module, spec: dict[str, Any], path: str | Path, card: dict[str, Any] | None = None,
               half: bool = False) -> Path:
    """Write ``net``'s weights (fp16 if ``half``) with ``spec`` in the metadata, and the card beside it.

    The same weights give the same bytes (:func:`canonical_safetensors`), so a file's hash names its
    weights: the evaluation keeps each model's records apart by that hash."""
    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
             for k, v in net.state_dict().items()}
    path.write_bytes(canonical_safetensors(save(state, metadata={"spec": json.dumps(spec),
                                                                 "format": "liif-upscale/1"})))
    path.chmod(0o644)
    if card is not None:
        path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return path


def canonical_safetensors(blob: bytes) -> bytes:
    """The same ``.safetensors`` data with its JSON header in one fixed form (sorted keys, no spaces).

    safetensors writes the metadata in hash-map order, which changes from run to run, so two exports
    of one checkpoint differed byte for byte. The tensors' bytes and offsets are untouched."""
    size = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8:8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the data stays 8-byte aligned, as safetensors itself pads it
    return len(header).to_bytes(8, "little") + header + blob[8 + size:]


def _resolve(source: str | os.PathLike) -> Path:
    text = os.fspath(source)
    if text == "default":
        text = DEFAULT_MODEL
    path = Path(text).expanduser()
    if path.suffix in (".safetensors", ".pth", ".pt") or os.sep in text or "/" in text:
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    bundled = WEIGHTS_DIR / f"{text}.safetensors"
    if not bundled.is_file():
        have = ", ".join(list_models()) or "none (the weights/ folder is empty)"
        raise ModelError(f"unknown model {text!r}; bundled models: {have}; or pass a .safetensors/.pth path")
    return bundled


def _spec_and_card(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The architecture a ``.safetensors`` file holds (its metadata, else its card) and its card."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"cannot read {path}: {e}") from e
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    spec = json.loads(meta["spec"]) if "spec" in meta else card.get("spec")
    if spec is None:
        raise ModelError(f"{path} does not say which architecture it holds (no 'spec' in its metadata or card)")
    return spec, card


def _read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    spec, card = _spec_and_card(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"cannot read {path}: {e}") from e
    return spec, state, card


def architecture(source: str | os.PathLike = "default") -> torch.nn.Module:
    """A bundled model's or ``.safetensors`` file's network without its weights (on the ``meta``
    device: shapes only, no memory, milliseconds), for questions such as its work per pixel."""
    path = _resolve(source)
    if path.suffix != ".safetensors":
        raise ModelError(f"{path}: only .safetensors files name their architecture without loading the weights")
    with torch.device("meta"):
        return models.make(_spec_and_card(path)[0])


def _read_official(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusing unsafe content raises UnpicklingError, bad files others
        raise ModelError(f"cannot load {path} as a LIIF checkpoint (only plain tensors are accepted): {e}") from e
    model = ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(model, dict) or not {"name", "args", "sd"} <= model.keys():
        raise ModelError(f"{path} is not a LIIF checkpoint: expected {{'model': {{'name', 'args', 'sd'}}}}")
    return {"name": model["name"], "args": model["args"]}, model["sd"]


def load_model(source: str | os.PathLike = "default", device: str | torch.device = "auto",
               precision: str | None = None) -> Model:
    """Load a bundled model by name, a ``.safetensors`` file or an official ``.pth`` checkpoint.

    ``precision`` (``auto``, ``float32``, ``bfloat16``, ``float16``; ``None``: the
    ``LIIF_UPSCALE_PRECISION`` setting, else ``auto``) is what the decoder's hidden layers compute
    in: ``auto`` takes bfloat16 where the CPU multiplies it natively, 1.4-2.1 times faster at no
    measurable cost (see :func:`liif_core.devices.resolve_precision`).
    """
    path = _resolve(source)
    if path.suffix == ".safetensors":
        spec, state, card = _read_safetensors(path)
    else:
        (spec, state), card = _read_official(path), {}
    try:
        net = models.make(spec)
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (ValueError, TypeError, RuntimeError, KeyError) as e:
        raise ModelError(f"{path}: weights do not fit the architecture they name: {e}") from e
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    net = net.to(dev).eval().requires_grad_(False)
    if dev.type == "cpu":  # oneDNN's convolutions run about 20% faster on NHWC here
        net = net.to(memory_format=torch.channels_last)
    return Model(net, path.stem, dev, card, dtype)
