"""The GIMP 3 plug-in, in a real GIMP running headless (3.0 and 3.2: each test that runs GIMP runs in
both), against a real worker.

How GIMP is reached
-------------------
The project's machines run Debian 12, which has no GIMP 3; Debian trixie has GIMP 3.0.4, Debian testing
(forky) GIMP 3.2.6. ``tests/hosts/setup_gimp.sh`` builds a chroot of each (debootstrap + apt, about a
minute each, idempotent) at ``$LIIF_GIMP_CHROOT`` (default ``/tmp/liif-hosts/trixie``) and
``$LIIF_GIMP_FORKY_CHROOT`` (``/tmp/liif-hosts/forky``). The GIMP tests are skipped, saying why, when a
chroot is missing or the tests do not run as root (chroot and bind mounts need root).

Each GIMP run is ``unshare --mount`` + ``chroot`` + ``gimp-console-3.x -i -d -f
--batch-interpreter=python-fu-eval -b "exec(open('tests/hosts/gimp_batch.py').read())" --quit``.
The private mount namespace holds these bind mounts, all at the same path as on the host, and
they vanish with the process (nothing can be left mounted into the chroot):

- read-only: this repository, the virtual environment and the base Python it was made from
  (e.g. ``~/.pyenv/versions/3.11.7``): the worker runs the host's own interpreter and torch,
  which run fine on trixie's newer glibc, so nothing is installed in the chroot;
- read-write: the test's temporary folder (GIMP profile, worker configuration, images, results).

The plug-in is installed into a fresh GIMP profile by ``install.py --no-venv --python
<this venv's python> --gimp-dir ...`` (so its configuration names this venv), exactly as a user
installs it; GIMP then runs the plug-in with the chroot's own Python 3.13 (``#!/usr/bin/env
python3``, GIMP's environment cleared with ``env -i``), and the plug-in starts the worker with
the host's Python. ``gimp_batch.py`` builds images from raw pixel files, calls
``python-fu-liif-upscale`` through the PDB with the tiny test model, and dumps what came back;
these tests compare it with ``liif_core.upscale`` on the same input.

One GIMP process runs all the batch cases (the first start with a fresh profile costs ~10-15 s,
each call ~3-5 s: a new plug-in process and a new worker importing torch). Cancel is GIMP killing
the plug-in process: the test does the same (SIGKILL once the worker is busy) and checks that the
worker exits. The dialog runs in the full ``gimp-3.x`` on Xvfb inside the chroot (``xvfb-run``, in a
D-Bus session: ``dbus-run-session``); the batch code starts ``xdotool`` to wait for the "LIIF Upscale"
window, press the case's keys, read the dialog's text as a screen reader does (AT-SPI:
``hosts/dialog_labels.py``), screenshot it (``xwd``, beside the results; :func:`_read_xwd` reads it)
and press Return (OK), Escape (Cancel) or the OK button's mnemonic Alt+O (after choosing in a combo
box, which takes Return itself). The README's batch command is run exactly as written. Whole
module: about 8 minutes on 2 cores (both GIMPs).
"""

from __future__ import annotations

import ast
import html
import importlib.util
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import pytest
import torch

import liif_core

sys.path.insert(0, str(Path(__file__).resolve().parent / "hosts"))
import gimp_chroot  # noqa: E402  (tests/hosts: how the GIMP chroot is run)

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "plugin" / "gimp" / "liif-upscale"
BATCH = REPO / "tests" / "hosts" / "gimp_batch.py"
XVFB = ["dbus-run-session", "--", "xvfb-run", "-a", "-s", shlex.quote("-screen 0 1280x1024x24")]
GIMP_TIMEOUT_S = 420
# The engine picks its CPU thread count from the machine's load, and float sums may round
# differently with another count: the worker in GIMP and the expected result use one thread each.
THREADS = "1"
SCREENSHOT_ENV = "LIIF_GIMP_SCREENSHOT"  # also save the dialog with its preview there, as PNG (for the README)

_spec = importlib.util.spec_from_file_location("liif_plan", PLUGIN_DIR / "liif_plan.py")
liif_plan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(liif_plan)


# =============================================================================================
# the plug-in's arithmetic, without GIMP


def test_pixel_formats_keep_precision() -> None:
    pf = liif_plan.pixel_format
    assert pf(False, True, "u8-non-linear") == ("R'G'B'A u8", "uint8", 4, 1)
    assert pf(False, False, "u16-linear") == ("R'G'B' u16", "uint16", 3, 2)
    assert pf(True, True, "float-perceptual") == ("Y'A float", "float32", 2, 4)
    assert pf(True, False, "u8-perceptual") == ("Y' u8", "uint8", 1, 1)
    for wider in ("u32-non-linear", "half-linear", "double-non-linear"):
        assert pf(False, True, wider) == ("R'G'B'A float", "float32", 4, 4)
    # a linear render is read as stored; other images ignore the flag
    assert pf(False, True, "u16-linear", linear_render=True) == ("RGBA u16", "uint16", 4, 2)
    assert pf(True, False, "half-linear", linear_render=True) == ("Y float", "float32", 1, 4)
    for other in ("u16-non-linear", "u8-perceptual", "float-non-linear"):
        assert pf(False, True, other, linear_render=True) == pf(False, True, other)


@pytest.mark.parametrize("w,h,scale", [(7, 5, 2.5), (640, 480, 1.0), (33, 17, 3.3333), (5, 4, 1.5), (1, 1, 16)])
def test_sizes_from_a_scale_match_the_engine(w: int, h: int, scale: float) -> None:
    oh, ow = liif_core.output_size((h, w), scale)
    assert liif_plan.target_size(w, h, scale) == (ow, oh)


def test_sizes_from_width_or_height() -> None:
    ts = liif_plan.target_size
    assert ts(8, 6, 0.0, 20, 9) == (20, 9)  # per axis; the scale is ignored
    assert ts(6, 4, 0.0, 15, 0) == (15, 10)  # width alone keeps the aspect
    assert ts(6, 4, 0.0, 0, 7) == (10, 7)  # 10.5 rounds to even, as the engine's rounding does
    assert ts(6, 4, 2.0, 6, 4) == (6, 4)


@pytest.mark.parametrize("kwargs,words", [
    ({"scale": 0.0}, "at least 1"),
    ({"scale": 0.5}, "only enlarges"),
    ({"scale": float("nan")}, "at least 1"),
    ({"scale": 2.0, "width": 5}, "only enlarges"),
    ({"scale": 2.0, "width": 10, "height": 3}, "smaller"),
    ({"scale": 100000.0}, "largest"),
    ({"scale": 2.0, "width": -1}, "width and height"),
])
def test_bad_sizes_say_what_to_change(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(liif_plan.PlanError, match=words):
        liif_plan.target_size(6, 4, **kwargs)


def test_layer_plan_mirrors_gimps_rounding() -> None:
    # the whole image: exactly the requested size at the origin
    assert liif_plan.layer_plan(7, 5, 0, 0, 7, 5, 18, 12) == (18, 12, 0, 0, 18, 12)
    # a region: edges at SIGNED_ROUND(edge * new_size / old_size), like gimp_item_scale_by_factors
    plan = liif_plan.layer_plan(10, 8, 3, 2, 5, 3, 11, 7)
    fx, fy = plan.image_width / 10, plan.image_height / 8
    assert plan.image_width == 22 and plan.image_height == round(8 * 7 / 3)
    assert plan.x == int(3 * fx + 0.5) and plan.x + plan.width == int(8 * fx + 0.5)
    assert plan.y == int(2 * fy + 0.5) and plan.y + plan.height == int(5 * fy + 0.5)
    # layers partly off the canvas have negative offsets: rounded away from zero
    assert liif_plan.signed_round(-2.5) == -3 and liif_plan.signed_round(2.5) == 3
    assert liif_plan.layer_plan(10, 10, -3, 0, 5, 10, 10, 20).x == -6
    with pytest.raises(liif_plan.PlanError, match="new image"):
        liif_plan.layer_plan(300000, 10, 0, 0, 10, 10, 20, 20)


def test_names_and_summary() -> None:
    assert liif_plan.layer_name("Background", 2.5, 0, 0, 18, 12) == "Background x2.5 (LIIF)"
    assert liif_plan.layer_name("Layer", 2.0, 20, 0, 20, 9) == "Layer 20x9 (LIIF)"
    assert liif_plan.size_summary(8, 6, 20, 9) == "8 x 6 \u2192 20 x 9 px (\u00d72.5 x 1.5)"
    assert liif_plan.size_summary(4, 4, 10, 10) == "4 x 4 \u2192 10 x 10 px (\u00d72.5)"


def test_little_endian_is_identity_here() -> None:
    data = bytes(range(8))
    expected = data if sys.byteorder == "little" else bytes([1, 0, 3, 2, 5, 4, 7, 6])
    assert liif_plan.to_little_endian(data, 2) == expected
    assert liif_plan.from_little_endian(liif_plan.to_little_endian(data, 4), 4) == data


@pytest.mark.parametrize("name", sorted(p.name for p in PLUGIN_DIR.glob("*.py")))
def test_plugin_imports_only_what_gimp_has(name: str) -> None:
    """GIMP's Python has neither torch nor numpy; the plug-in must never import them."""
    tree = ast.parse((PLUGIN_DIR / name).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"torch", "numpy", "liif_core", "PIL"}, imported
    if name == "liif-upscale.py":
        assert (PLUGIN_DIR / name).read_text().startswith("#!/usr/bin/env python3\n")
        assert {"gi", "liif_common", "liif_plan"} <= imported


# =============================================================================================
# a real GIMP


def _why_no_gimp() -> str | None:
    return gimp_chroot.why_not_usable() or gimp_chroot.why_not_this_python()


requires_gimp = pytest.mark.skipif(_why_no_gimp() is not None, reason=str(_why_no_gimp()))


def _mount_points(work: Path) -> tuple[list[Path], list[Path]]:
    """Host folders the chroot needs (read-only: code and Pythons; read-write: ``work``), outermost only."""
    return gimp_chroot.with_this_python(REPO), [work]


class Gimp:
    """A fresh GIMP profile with the plug-in installed by install.py, and a way to run batch jobs in GIMP."""

    def __init__(self, work: Path, model: Path, chroot: Path):
        self.work = work
        self.model = model
        self.chroot = chroot  # which GIMP: see gimp_chroot.CHROOTS
        self.console, self.gui = gimp_chroot.programs(chroot)
        self.profile = work / "gimpdir"
        self.config_home = work / "config"
        self.home = work / "home"
        self.plugin = self.profile / "plug-ins" / "liif-upscale"

    def install(self) -> None:
        env = dict(os.environ, HOME=str(self.home), XDG_CONFIG_HOME=str(self.config_home))
        subprocess.run([sys.executable, str(REPO / "install.py"), "--no-venv", "--python", sys.executable,
                        "--gimp-dir", str(self.profile), "--no-krita", "--no-example", "-q"],
                       env=env, check=True, timeout=120)

    def run(self, name: str, cases: list[dict[str, Any]], during: Any = None,
            gui: bool = False, fonts: bool = False, files: tuple[Path, ...] = ()) -> tuple[int, str, dict[str, Any]]:
        """Run ``gimp_batch.py`` on ``cases`` in a fresh GIMP process; ``(exit code, log, results)``.

        ``gui``: the full GIMP (``gimp-3.x``) on a virtual X display (``xvfb-run``), for dialogs.
        ``fonts``: load the fonts, which text layers need (else ``--no-fonts``: a faster start).
        ``files``: images GIMP opens from its command line, as a user's double click does (a case's
        ``{"opened": path}`` takes one).
        ``during(out)`` runs in a thread meanwhile (``out`` is the folder the batch writes to).
        """
        out = self.work / name
        job = self.work / f"{name}.json"
        job.write_text(json.dumps({"cases": cases, "out": str(out), "plugin_dir": str(self.plugin),
                                   "labels_script": str(BATCH.parent / "dialog_labels.py")}))
        command = self.batch_command(f"exec(open({str(BATCH)!r}).read())", gui, fonts, files)
        code, log = self.shell(name, command, {"LIIF_GIMP_JOB": str(job)}, lambda: during(out) if during else None)
        results_path = out / "results.json"
        results = json.loads(results_path.read_text()) if results_path.is_file() else {}
        return code, log, results

    def batch_command(self, code: str, gui: bool = False, fonts: bool = False, files: tuple[Path, ...] = ()) -> str:
        """The shell command that runs the Python ``code`` in this GIMP (see :meth:`run`) and quits."""
        return " ".join(["exec"] + (XVFB + [self.gui] if gui else [self.console, "-i"]) + ["-d"]
                        + ([] if fonts else ["-f"]) + ["--batch-interpreter=python-fu-eval", "-b", shlex.quote(code),
                                                       "--quit"] + [shlex.quote(str(path)) for path in files])

    def shell(self, name: str, command: str, env: dict[str, str] | None = None,
              during: Any = None) -> tuple[int, str]:
        """Run the shell ``command`` in the chroot, with the profile's environment; ``(exit code, output)``."""
        env = {"HOME": str(self.home), "GIMP3_DIRECTORY": str(self.profile),
               "XDG_CONFIG_HOME": str(self.config_home),
               "XDG_CACHE_HOME": str(self.work / "cache"), "XDG_DATA_HOME": str(self.work / "data"),
               "LIIF_UPSCALE_THREADS": THREADS, "LIIF_UPSCALE_PRECISION": os.environ["LIIF_UPSCALE_PRECISION"],
               **(env or {})}  # one thread and the precision of the expected results made here
        ro, rw = _mount_points(self.work)
        log_path = self.work / f"{name}.log"
        code = gimp_chroot.run(command, env, ro, rw, log_path, GIMP_TIMEOUT_S, during, self.chroot)
        return code, log_path.read_text(errors="replace")


# --------------------------------------------------------------------------------------------- cases

DTYPES = {"U8_NON_LINEAR": np.uint8, "U16_NON_LINEAR": np.uint16, "FLOAT_NON_LINEAR": np.float32,
          "U16_LINEAR": np.uint16, "FLOAT_LINEAR": np.float32}


def _smooth_dark() -> np.ndarray:
    """A 24 x 32 RGB picture of gentle gradients in the shadows (sRGB levels 4 to 60)."""
    y, x = np.mgrid[0:24, 0:32]
    return np.stack([4 + x * 1.5, 8 + y * 2, 60 - x - y * 0.6], axis=-1).round().astype(np.uint8)


def _pixels(shape: tuple[int, ...], dtype: Any, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)


def _layer(work: Path, name: str, array: np.ndarray, x: int = 0, y: int = 0) -> dict[str, Any]:
    path = work / "inputs" / f"{name}.raw"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("=")).tobytes())
    channels = array.shape[2]
    return {"name": name, "file": str(path), "width": array.shape[1], "height": array.shape[0], "x": x, "y": y,
            "alpha": channels in (2, 4)}


def make_cases(work: Path, model: Path) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The cases of the main GIMP run and each case's source-layer pixels (for the expected result)."""
    cases, sources = [], {}

    def add(name: str, base: str, precision: str, size: tuple[int, int], layers: list[tuple[str, np.ndarray, int, int]],
            args: dict[str, Any], select: dict[str, Any] | None = None, **extra: Any) -> None:
        args = {"model": str(model), "device": "cpu", "output": "layer", "tile": 0, "scale": 2.0, "width": 0,
                "height": 0, "quality": "one-pass", **args}
        specs = [_layer(work, f"{name}-{lname}", arr, x, y) for lname, arr, x, y in layers]
        for spec, (lname, *_) in zip(specs, layers):
            spec["name"] = lname
        cases.append({"name": name, "image": {"base": base, "precision": precision, "width": size[0],
                                              "height": size[1]},
                      "layers": specs, "source": 0, "select": select, "args": args, **extra})
        sources[name] = layers[0][1]

    rgba8 = _pixels((5, 7, 4), np.uint8, 1)
    add("rgba8_scale", "rgb", "U8_NON_LINEAR", (7, 5), [("src", rgba8, 0, 0)], {"scale": 2.5})
    add("rgba16_axes", "rgb", "U16_NON_LINEAR", (8, 6), [("src16", _pixels((6, 8, 4), np.uint16, 2), 0, 0)],
        {"width": 20, "height": 9})
    add("gray8_width_new_image", "gray", "U8_NON_LINEAR", (6, 4), [("grey", _pixels((4, 6, 1), np.uint8, 3), 0, 0)],
        {"width": 15, "output": "image"})
    add("float_new_image", "rgb", "FLOAT_NON_LINEAR", (5, 4), [("flt", _pixels((4, 5, 3), np.float32, 4), 0, 0)],
        {"scale": 3.0, "output": "image", "tile": 16})
    hdr = _pixels((5, 6, 4), np.float32, 23)
    hdr[1:4, 1:4, :3] *= 8  # HDR highlights up to 8 and colour below 0: kept, not clipped
    hdr[-2:, :3, :3] -= 0.5
    add("float_hdr", "rgb", "FLOAT_NON_LINEAR", (6, 5), [("hdr", hdr, 0, 0)], {"scale": 2.0})
    # GIMP's usual HDR image: linear light, read and written in perceptual form by Babl, range and all
    add("float_linear_hdr", "rgb", "FLOAT_LINEAR", (6, 5), [("hdr", hdr, 0, 0)], {"scale": 2.0})
    edged = _pixels((5, 6, 4), np.uint8, 5)
    edged[0, :, 3] = edged[-1, :, 3] = edged[:, 0, 3] = edged[:, -1, 3] = 0  # transparent edges
    edged[2, 2, 3] = 128
    add("transparent_offset_layer", "rgb", "U8_NON_LINEAR", (10, 8),
        [("edged", edged, 3, 2), ("bg", _pixels((8, 10, 3), np.uint8, 6), 0, 0)], {"scale": 2.0})
    add("selection_ellipse", "rgb", "U8_NON_LINEAR", (9, 7), [("rgb", _pixels((7, 9, 3), np.uint8, 7), 0, 0)],
        {"scale": 2.0}, select={"shape": "ellipse", "x": 2, "y": 1, "w": 6, "h": 5})
    add("selection_gray16_new_image", "gray", "U16_NON_LINEAR", (8, 6),
        [("ga16", _pixels((5, 6, 2), np.uint16, 8), 2, 1)], {"scale": 1.5, "output": "image"},
        select={"shape": "rect", "x": 0, "y": 0, "w": 5, "h": 4})
    add("selection_self_ensemble", "rgb", "U8_NON_LINEAR", (9, 7), [("rgb", _pixels((7, 9, 3), np.uint8, 7), 0, 0)],
        {"scale": 2.0, "quality": "four-passes"}, select={"shape": "ellipse", "x": 2, "y": 1, "w": 6, "h": 5})
    add("linear16_new_image", "rgb", "U16_LINEAR", (5, 4), [("lin", _pixels((4, 5, 4), np.uint16, 10), 0, 0)],
        {"scale": 2.0, "output": "image"})
    # a layer mask GIMP applies: the result is the layer as it shows, the mask its transparency (also with the
    # mask itself selected, as while editing it, and together with a selection); a mask switched off plays no part
    mask = _pixels((7, 9, 1), np.uint8, 24)[..., 0]
    mask[:, :3], mask[:2, 5:] = 0, 255
    for name, extra, select in (("layer_mask", {"scale": 2.0}, None),
                                ("layer_mask_edited", {"scale": 2.0, "output": "image"}, None),
                                ("layer_mask_selection", {"scale": 2.0},
                                 {"shape": "ellipse", "x": 1, "y": 0, "w": 8, "h": 6}),
                                ("layer_mask_off", {"scale": 2.0}, None)):
        add(name, "rgb", "U8_NON_LINEAR", (9, 7), [("masked", _pixels((7, 9, 3), np.uint8, 25), 0, 0)], extra,
            select=select, source_mask=name == "layer_mask_edited")
        cases[-1]["layers"][0].update(mask=str(_layer(work, f"{name}-mask", mask[..., None])["file"]),
                                      apply_mask=name != "layer_mask_off")
    # a layer at 60% in Multiply: the new layer above it gets that look
    add("layer_look", "rgb", "U8_NON_LINEAR", (7, 5), [("src", rgba8, 0, 0)], {"scale": 2.0})
    cases[-1]["layers"][0].update(opacity=60.0, mode="MULTIPLY")
    # a render made in linear light: its stored values are what the model gets (written and read as stored)
    add("linear16_render", "rgb", "U16_LINEAR", (5, 4), [("lin", _pixels((4, 5, 4), np.uint16, 10), 0, 0)],
        {"scale": 2.0, "linear-render": True})
    # output "layers": the whole image, every pixel layer redrawn (top first; "inner" in a group; "top" hidden,
    # half transparent and partly off the canvas)
    layers = [("top", _pixels((5, 4, 4), np.uint8, 11), 7, 5), ("inner", _pixels((4, 5, 4), np.uint8, 12), 1, 1),
              ("bg", _pixels((8, 10, 3), np.uint8, 13), 0, 0)]
    specs = [_layer(work, f"every_layer-{lname}", arr, x, y) | {"name": lname} for lname, arr, x, y in layers]
    specs[0].update(visible=False, opacity=60.0, mode="MULTIPLY")
    specs[1]["parent"] = "G"
    specs.insert(1, {"name": "G", "kind": "group", "opacity": 80.0})
    specs.insert(0, {"name": "label", "kind": "text", "text": "Hi", "font": "DejaVu Sans", "size": 4.0, "x": 1, "y": 0})
    # output "layers-in-place": the same, done to the image itself
    for name, output in (("every_layer", "layers"), ("every_layer_in_place", "layers-in-place")):
        cases.append({"name": name, "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 10, "height": 8},
                      "layers": specs, "source": 1, "select": {"shape": "rect", "x": 0, "y": 0, "w": 2, "h": 2},
                      "args": {"model": str(model), "device": "cpu", "output": output, "tile": 0, "scale": 2.5,
                               "width": 0, "height": 0, "quality": "one-pass"}})
        sources[name] = {lname: arr for lname, arr, _, _ in layers}
    # a layer group as the active layer: LIIF upscales what GIMP composited from its children
    add("group_new_layer", "rgb", "U8_NON_LINEAR", (10, 8), [("a", _pixels((4, 5, 4), np.uint8, 21), 1, 1),
                                                             ("b", _pixels((8, 10, 3), np.uint8, 22), 0, 0)],
        {"scale": 2.0})
    cases[-1]["layers"] = [{"name": "G", "kind": "group", "opacity": 100.0, "mode": "PASS_THROUGH"}] + [
        dict(spec, parent="G") for spec in cases[-1]["layers"]]
    # a text layer upscaled on its own: its pixels as GIMP rendered them
    add("text_new_layer", "rgb", "U8_NON_LINEAR", (12, 8), [("bg", _pixels((8, 12, 3), np.uint8, 14), 0, 0)],
        {"scale": 2.0})
    cases[-1]["layers"].insert(0, {"name": "text", "kind": "text", "text": "Ab", "font": "DejaVu Sans", "size": 6.0,
                                   "x": 1, "y": 1})
    # errors: nothing may change
    add("error_scale_zero", "rgb", "U8_NON_LINEAR", (7, 5), [("src", rgba8, 0, 0)], {"scale": 0.0},
        expect_error="at least 1")
    add("error_bad_model", "rgb", "U8_NON_LINEAR", (7, 5), [("src", rgba8, 0, 0)],
        {"model": str(work / "no-such-model.safetensors")}, expect_error="model file not found")
    add("error_no_worker", "rgb", "U8_NON_LINEAR", (7, 5), [("src", rgba8, 0, 0)], {},
        expect_error="does not exist", config={"python": "/nonexistent/bin/python3"})
    add("error_locked_in_place", "rgb", "U8_NON_LINEAR", (7, 5),
        [("src", rgba8, 0, 0), ("bg", _pixels((5, 7, 3), np.uint8, 15), 0, 0)], {"output": "layers-in-place"},
        expect_error="are locked")
    cases[-1]["layers"][1]["lock_content"] = True
    return cases, sources


def _masked(region: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """What the plug-in sends for a selection: alpha (added if missing) times the mask (0..255)."""
    dtype = region.dtype
    top = 1.0 if dtype == np.float32 else float(np.iinfo(dtype).max)
    if region.shape[2] in (1, 3):
        alpha = mask.astype(np.float64) / 255 * top
        region = np.concatenate([region, np.zeros_like(region[..., :1])], axis=2)
    else:
        alpha = region[..., -1].astype(np.float64) * mask / 255
    region = region.copy()
    region[..., -1] = alpha if dtype == np.float32 else np.round(alpha).astype(dtype)
    return region


def expected_result(case: dict[str, Any], res: dict[str, Any], source: np.ndarray, model: Path) -> np.ndarray:
    x, y, w, h = res["region"]
    region = source[y:y + h, x:x + w]
    spec, layer = case["image"], case["layers"][0]
    masks = []  # 0..255 over the region: the selection, and the layer mask GIMP applies
    if case["select"]:
        mask = np.fromfile(res["selection_file"], np.uint8).reshape(spec["height"], spec["width"])
        masks.append(mask[layer["y"] + y:layer["y"] + y + h, layer["x"] + x:layer["x"] + x + w])
    if layer.get("mask") and layer.get("apply_mask", True):
        masks.append(np.fromfile(layer["mask"], np.uint8).reshape(layer["height"], layer["width"])[y:y + h, x:x + w])
    if masks:  # multiplied together before GIMP rounds them to the layer's alpha
        region = _masked(region, np.prod([m.astype(np.float64) / 255 for m in masks], axis=0) * 255)
    out = res["result"]
    return liif_core.upscale(region, size=(out["width"], out["height"]), model=str(model), device="cpu",
                             tile=case["args"]["tile"] or None,
                             self_ensemble=liif_plan.PASSES[case["args"]["quality"]])


def unchanged(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> bool:
    """Whether two of ``gimp_batch.tree``'s dumps of an image hold the same layers and pixels."""
    def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
        if {k: v for k, v in a.items() if k not in ("file", "children")} != \
                {k: v for k, v in b.items() if k not in ("file", "children")}:
            return False
        if "file" in a and Path(a["file"]).read_bytes() != Path(b["file"]).read_bytes():
            return False
        return unchanged(a.get("children", []), b.get("children", []))

    return len(before) == len(after) and all(same(a, b) for a, b in zip(before, after))


class BrokenCase(dict):
    """A case the batch could not finish (an exception in the harness, such as the plug-in's process
    dying under its dialog): reading any of its results fails that case's test, saying why; the other
    cases of the same GIMP run keep their tests."""

    def __getitem__(self, key: str) -> Any:
        if key == "name":
            return super().__getitem__(key)
        raise AssertionError(f"case {self['name']} broke in GIMP:\n{self.get('harness_error')}\n"
                             + "\n".join(self.get("log_lines", [])))


def log_trouble(log: str) -> list[str]:
    """A GIMP log's fatal errors (a plug-in's process dying) and Python tracebacks, in order."""
    lines, trouble = log.splitlines(), []
    for i, line in enumerate(lines):
        if "fatal error" in line:
            trouble.append(line)
        elif line.startswith("Traceback"):
            trouble += list(itertools.takewhile(str.strip, lines[i:i + 60]))
    return trouble


def gimp_failed(program: str, code: int, log: str) -> str:
    """Why a GIMP run ended badly: the log's trouble first (a failure report may show only a message's
    start, and GIMP's exit fills the log's end with noise), then the log's end."""
    return f"{program} exited with {code}; " + "\n".join(["its log's trouble:", *log_trouble(log),
                                                          "its log's end:", log[-4000:]])


def cases_by_name(results: dict[str, Any], log: str) -> dict[str, dict[str, Any]]:
    """The batch's results by case name; a broken case as a :class:`BrokenCase`, with the log's trouble."""
    trouble = log_trouble(log)
    return {c["name"]: BrokenCase(c, log_lines=trouble) if "harness_error" in c else c for c in results["cases"]}


def others(model: str) -> str:
    """The dialog's line of links to the Model field's other values, as a screen reader reads it."""
    from liif_core.weights import list_models
    from plugin.common.model_choice import other_models

    return html.unescape(re.sub(r"<[^>]+>", "", other_models({"models": list_models()}, model)))


def read_result(res: dict[str, Any], dtype: Any) -> np.ndarray:
    out = res["result"]
    data = np.fromfile(out["file"], dtype=dtype)
    return data.reshape(out["height"], out["width"], -1)


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=list(gimp_chroot.CHROOTS), ids=["gimp3.0", "gimp3.2"])
def gimp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Gimp:
    """GIMP 3.0 (Debian trixie) and GIMP 3.2 (forky), each in its chroot: every test that runs GIMP runs in both."""
    chroot = gimp_chroot.CHROOTS[request.param]
    reason = _why_no_gimp() or gimp_chroot.why_not_usable(chroot)
    if reason:
        pytest.skip(reason)
    if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"]).returncode != 0:
        pytest.skip("unshare --mount is not permitted here (needs CAP_SYS_ADMIN)")
    work = tmp_path_factory.mktemp(f"gimp_{request.param}")
    model = work / "tiny.safetensors"
    shutil.copy(tiny_model_path, model)
    host = Gimp(work, model, chroot)
    host.install()
    return host


@pytest.fixture(scope="module")
def main_run(gimp: Gimp) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, np.ndarray], dict[str, Any]]:
    cases, sources = make_cases(gimp.work, gimp.model)
    cases.append(cancel_case(gimp))
    killed: dict[str, Any] = {}
    code, log, results = gimp.run("main", cases, during=lambda out: kill_plugin_mid_job(out, killed, gimp.home),
                                  fonts=True)  # a text layer in case every_layer
    (gimp.work / "cancel.json").write_text(json.dumps(killed))  # for a look after a failure
    assert code == 0 and results.get("cases"), gimp_failed("gimp-console", code, log)
    by_name = cases_by_name(results, log)
    return results, by_name, sources, {"cases": {c["name"]: c for c in cases}, "killed": killed, "log": log}


def _run_installed(gimp: Gimp, tmp_path: Path, profile: Path) -> tuple[dict[str, Any], str]:
    """The plug-in as installed into ``profile`` (the user's home: ``tmp_path/home``) run by this GIMP on a small
    image: the case's result, and GIMP's messages."""
    model = Path(shutil.copy(gimp.model, tmp_path))  # inside what the chroot sees
    user = Gimp(tmp_path, model, gimp.chroot)  # HOME is tmp_path / "home": the user's
    user.profile, user.config_home = profile, tmp_path / "home" / ".config"
    user.plugin = profile / "plug-ins" / "liif-upscale"
    spec = _layer(tmp_path, "src", _pixels((4, 5, 4), np.uint8, 7))
    case = {"name": "installed", "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 5, "height": 4},
            "layers": [spec], "source": 0, "select": None,
            "args": {"model": str(model), "device": "cpu", "output": "layer", "tile": 0, "scale": 2.0,
                     "width": 0, "height": 0, "quality": "one-pass"}}
    code, log_text, results = user.run("installed", [case])
    assert code == 0 and results.get("cases"), gimp_failed("gimp-console", code, log_text)
    return cases_by_name(results, log_text)["installed"], log_text


def test_install_py_has_this_gimp_make_its_profile_then_installs_there(gimp: Gimp, tmp_path: Path) -> None:
    """A user of GIMP 2.10 (its profile in ~/.config/GIMP/2.10) runs install.py, no folder given, before GIMP 3's
    first start: it finds this GIMP by its programs on the PATH and starts it once without its window, so that
    GIMP makes its profile and brings 2.10's over (a plug-in folder made first would keep it from that); the
    plug-in goes into that profile and GIMP runs it from there."""
    home = tmp_path / "home"
    old = home / ".config" / "GIMP" / "2.10"
    (old / "brushes").mkdir(parents=True)
    (old / "brushes" / "mine.gbr").write_bytes(b"a brush of the user's")
    (old / "gimprc").write_text("(default-image (width 1234) (height 777))\n")
    install = shlex.join([sys.executable, str(REPO / "install.py"), "--no-venv", "--python", sys.executable,
                          "--no-krita", "--no-example"])
    ro, rw = _mount_points(tmp_path)
    log = tmp_path / "install.log"
    code = gimp_chroot.run(f"exec {install}", {"HOME": str(home)}, ro, rw, log, GIMP_TIMEOUT_S, chroot=gimp.chroot)
    output = log.read_text(errors="replace")
    version = Path(gimp.console).name.removeprefix("gimp-console-")
    profile = home / ".config" / "GIMP" / version
    assert code == 0, output
    assert f"start GIMP {version} once without its window" in output and "settings of GIMP 2.10" in output, output
    assert (profile / "brushes" / "mine.gbr").read_bytes() == b"a brush of the user's"
    assert "(width 1234)" in (profile / "gimprc").read_text()
    assert "config-version" not in (profile / "gimprc").read_text()  # the user's first start is still to come

    res, log_text = _run_installed(gimp, tmp_path, profile)
    assert res["status"] == "success", res["message"]
    # GIMP greeted this start as the version's first (its welcome dialog; the console version says it)
    assert f"Welcome to GIMP {version}." in log_text, log_text[-3000:]


def test_install_py_installs_where_gimp3_directory_points(gimp: Gimp, tmp_path: Path) -> None:
    """A user who has GIMP keep its profile elsewhere (GIMP3_DIRECTORY, here relative to the home folder) runs
    install.py before GIMP's first start: this GIMP makes that folder, the plug-in goes into it, and GIMP runs
    it from there; ~/.config/GIMP, which this GIMP never reads then, stays empty."""
    home = tmp_path / "home"
    home.mkdir()
    install = shlex.join([sys.executable, str(REPO / "install.py"), "--no-venv", "--python", sys.executable,
                          "--no-krita", "--no-example"])
    ro, rw = _mount_points(tmp_path)
    log = tmp_path / "install.log"
    env = {"HOME": str(home), "GIMP3_DIRECTORY": "portable/gimp"}
    code = gimp_chroot.run(f"exec {install}", env, ro, rw, log, GIMP_TIMEOUT_S, chroot=gimp.chroot)
    output = log.read_text(errors="replace")
    profile = home / "portable" / "gimp"
    assert code == 0, output
    assert f"start GIMP 3 once without its window, so that it makes its profile {profile}" in output, output
    assert (profile / "gimprc").is_file() and (profile / "plug-ins" / "liif-upscale" / "liif-upscale.py").is_file()
    assert not (home / ".config" / "GIMP").exists()

    res, _ = _run_installed(gimp, tmp_path, profile)
    assert res["status"] == "success", res["message"]


# --------------------------------------------------------------------------------------------- cancel


def cancel_case(gimp: Gimp) -> dict[str, Any]:
    """A job long enough to be killed mid-way, as GIMP's cancel does (it kills the plug-in process)."""
    big = _pixels((96, 96, 4), np.uint8, 9)
    spec = _layer(gimp.work, "cancel-src", big)
    spec["name"] = "src"
    return {"name": "cancel_kills_worker", "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 96,
                                                     "height": 96},
            "layers": [spec], "source": 0, "select": None, "marker": True,
            "args": {"model": str(gimp.model), "device": "cpu", "output": "layer", "tile": 8, "scale": 30.0,
                     "width": 0, "height": 0}}


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        found[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd)
    return found


def _at_home(procs: dict[int, tuple[int, str]], home: Path) -> dict[int, tuple[int, str]]:
    """Those of ``procs`` whose ``HOME`` is ``home``: this test's editor, its plug-ins and the workers they start
    (Flatpak's session helper, started by the run's own D-Bus, passes that on to a host worker), where another
    test's, run beside, have another."""
    ours = {}
    for pid, proc in procs.items():
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"HOME={home}".encode() in env:
            ours[pid] = proc
    return ours


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def kill_plugin_mid_job(out: Path, record: dict[str, Any], home: Path) -> None:
    """Wait for the cancel case's worker to be busy, SIGKILL its plug-in (of the GIMP whose ``HOME`` is ``home``),
    and time the worker's exit."""
    marker = out / "cancel_kills_worker.started"
    deadline = time.monotonic() + GIMP_TIMEOUT_S
    while not marker.exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.1)
    worker = plugin = None
    while time.monotonic() < deadline and worker is None:
        procs = _at_home(_processes(), home)
        for pid, (ppid, cmd) in procs.items():
            if "liif_core.worker" in cmd and "liif-upscale.py" in procs.get(ppid, (0, ""))[1]:
                worker, plugin = pid, ppid
        time.sleep(0.1)
    if worker is None:
        return
    # kill once the job runs: the worker has used more CPU than importing torch takes (~2 s)
    while time.monotonic() < deadline and not _gone(worker) and _cpu_seconds(worker) < 4.0:
        time.sleep(0.1)
    record["worker_cpu_s_at_kill"] = _cpu_seconds(worker)
    record["worker_alive_at_kill"] = not _gone(worker)
    try:
        os.kill(plugin, signal.SIGKILL)
    except ProcessLookupError:
        record["plugin_already_gone"] = True
        return
    t0 = time.monotonic()
    while not _gone(worker) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    record["worker_exit_s"] = time.monotonic() - t0
    record["worker_gone"] = _gone(worker)


# --------------------------------------------------------------------------------------------- tests

SUCCESS_CASES = ["rgba8_scale", "rgba16_axes", "gray8_width_new_image", "float_new_image", "float_hdr",
                 "transparent_offset_layer", "selection_ellipse", "selection_gray16_new_image",
                 "selection_self_ensemble", "linear16_render", "layer_mask", "layer_mask_edited",
                 "layer_mask_selection", "layer_mask_off", "layer_look"]


@requires_gimp
def test_procedure_is_registered_in_filters_enhance(main_run) -> None:
    results = main_run[0]
    assert results["registered"], "python-fu-liif-upscale is not registered (plug-in not found or not executable)"
    assert results["menu_paths"] == ["<Image>/Filters/Enhance"]
    assert results["menu_label"].replace("_", "") == "LIIF Upscale..."
    assert {"RGB*", "GRAY*"} <= {t.strip() for t in results["image_types"].split(",")}
    assert results["arguments"][-9:] == ["scale", "width", "height", "output", "model", "device", "tile",
                                         "quality", "linear-render"]
    assert results["return_values"] == ["layer"]


@requires_gimp
@pytest.mark.parametrize("name", SUCCESS_CASES)
def test_pixels_match_the_engine(main_run, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    results, by_name, sources, extra = main_run
    case, res = extra["cases"][name], by_name[name]
    assert res["status"] == "success", res["message"]
    dtype = DTYPES[case["image"]["precision"]]
    got = read_result(res, dtype)
    expected = expected_result(case, res, sources[name], Path(case["args"]["model"]))
    expected = expected.reshape(got.shape[0], got.shape[1], -1)
    assert got.shape == expected.shape
    if dtype == np.float32:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
        if name == "float_hdr":  # the range beyond 0..1 is kept (else both would be clipped alike)
            assert got[..., :3].max() > 4 and got[..., :3].min() < -0.1
    else:
        diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
        assert diff.max() == 0, f"{(diff > 0).sum()} of {diff.size} samples differ, by up to {diff.max()}"


@requires_gimp
def test_a_text_layer_is_upscaled_as_rendered(main_run) -> None:
    """The active layer a text layer: LIIF upscales its pixels as GIMP drew them, into a new layer above."""
    res = main_run[1]["text_new_layer"]
    assert res["status"] == "success", res["message"]
    before = res["tree_before"][0]
    assert before["text"] == "Ab"
    rendered = np.fromfile(before["file"], np.uint8).reshape(before["height"], before["width"], 4)
    x, y, w, h = res["region"]
    out = res["result"]
    assert rendered[y:y + h, x:x + w, 3].any(), "GIMP drew no text"
    expected = liif_core.upscale(rendered[y:y + h, x:x + w], size=(out["width"], out["height"]),
                                 model=main_run[3]["cases"]["text_new_layer"]["args"]["model"], device="cpu")
    assert np.array_equal(read_result(res, np.uint8), expected)
    assert [layer["name"] for layer in out["geometry"]["layers"]][:2] == ["Ab x2 (LIIF)", "Ab"]


@requires_gimp
def test_a_layer_group_is_upscaled_as_composited(main_run) -> None:
    """The active layer a group: LIIF upscales its composite (as GIMP shows it), into a new layer above it."""
    res = main_run[1]["group_new_layer"]
    assert res["status"] == "success", res["message"]
    group = res["tree_before"][0]
    assert group["name"] == "G" and [c["name"] for c in group["children"]] == ["a", "b"]
    composite = np.fromfile(group["file"], np.uint8).reshape(group["height"], group["width"], 4)
    out = res["result"]
    assert (out["width"], out["height"]) == (20, 16)
    model = main_run[3]["cases"]["group_new_layer"]["args"]["model"]
    expected = liif_core.upscale(composite, size=(20, 16), model=model, device="cpu")
    assert np.array_equal(read_result(res, np.uint8), expected)
    assert [layer["name"] for layer in out["geometry"]["layers"]] == ["G x2 (LIIF)", "G"]


@requires_gimp
def test_new_layer_output_scales_the_image_and_keeps_the_source(main_run) -> None:
    by_name = main_run[1]
    res = by_name["rgba8_scale"]
    out = res["result"]
    assert not out["new_image"] and res["new_images"] == 0
    geo = out["geometry"]
    assert (geo["width"], geo["height"]) == (18, 12)  # 7 x 5 at 2.5: 17.5 -> 18, 12.5 -> 12 (engine's rounding)
    assert [layer["name"] for layer in geo["layers"]] == ["src x2.5 (LIIF)", "src"]
    assert (out["x"], out["y"], out["width"], out["height"]) == (0, 0, 18, 12)
    assert geo["layers"][1] | {"name": ""} == geo["layers"][0] | {"name": ""}  # the source, scaled by GIMP, under it
    assert out["selected"] == ["src x2.5 (LIIF)"]
    axes = by_name["rgba16_axes"]["result"]
    assert (axes["width"], axes["height"]) == (20, 9) and axes["name"] == "src16 20x9 (LIIF)"
    assert axes["geometry"]["precision"] == "u16-non-linear"


@requires_gimp
def test_the_new_layer_takes_its_sources_look(main_run) -> None:
    """Opacity and layer mode of the source go to the LIIF layer above it (with the source hidden, the image
    looks as it did, enlarged); a plain source gives a plain layer, a pass-through group a Normal one."""
    for name, look in (("layer_look", (60.0, "multiply")), ("rgba8_scale", (100.0, "normal")),
                       ("group_new_layer", (100.0, "normal"))):
        res = main_run[1][name]
        assert res["status"] == "success", (name, res["message"])
        new, source = res["tree_after"][:2]
        assert new["name"].endswith("(LIIF)") and (new["opacity"], new["mode"]) == look, (name, new, source)
    group = main_run[1]["group_new_layer"]["tree_after"][1]
    assert group["mode"] == "pass-through", group  # (else the last case would test nothing)


@requires_gimp
def test_layer_with_offset_lines_up_with_gimps_scaling(main_run) -> None:
    res = main_run[1]["transparent_offset_layer"]
    geo = res["result"]["geometry"]
    assert (geo["width"], geo["height"]) == (20, 16)
    names = [layer["name"] for layer in geo["layers"]]
    assert names == ["edged x2 (LIIF)", "edged", "bg"]
    new, source, background = geo["layers"]
    assert (new["x"], new["y"], new["width"], new["height"]) == (6, 4, 12, 10)
    assert (source["x"], source["y"], source["width"], source["height"]) == (6, 4, 12, 10)
    assert (background["width"], background["height"]) == (20, 16)
    assert new["alpha"]


@requires_gimp
def test_selection_region_aligned_in_the_enlarged_image(main_run) -> None:
    res = main_run[1]["selection_ellipse"]
    x, y, w, h = res["region"]
    assert (x, y, w, h) == (2, 1, 6, 5)
    out = res["result"]
    plan = liif_plan.layer_plan(9, 7, x, y, w, h, 12, 10)
    assert (out["x"], out["y"], out["width"], out["height"]) == (plan.x, plan.y, plan.width, plan.height)
    assert (out["geometry"]["width"], out["geometry"]["height"]) == (18, 14)
    assert out["alpha"], "the selection mask becomes the layer's alpha, so the layer needs one"


@requires_gimp
@pytest.mark.parametrize("name", ["gray8_width_new_image", "float_new_image", "selection_gray16_new_image"])
def test_new_image_output_leaves_the_source_alone(main_run, name: str) -> None:
    res = main_run[1][name]
    assert res["status"] == "success", res["message"]
    assert res["before"] == res["after"], "the source image changed"
    out = res["result"]
    assert out["new_image"] and len(out["geometry"]["layers"]) == 1
    assert out["geometry"]["precision"] == res["before"]["geometry"]["precision"]
    assert (out["geometry"]["width"], out["geometry"]["height"]) == (out["width"], out["height"])
    if name == "gray8_width_new_image":
        assert (out["width"], out["height"]) == (15, 10) and out["gray"] and not out["alpha"]
    if name == "selection_gray16_new_image":
        assert res["region"] == [0, 0, 3, 3] and out["gray"] and out["alpha"]


def check_every_layer(case: dict[str, Any], got: list[dict[str, Any]], before: list[dict[str, Any]],
                      sources: dict[str, np.ndarray]) -> None:
    """The image of ``case`` (10 x 8, with a text layer, a group and a hidden layer) scaled x2.5, its layers
    dumped as ``got``: each pixel layer (in a group, hidden, partly off the canvas) exactly its own LIIF result
    where GIMP put its scaled copy; the stack as it was (``before``)."""
    def without_place(entries: list[dict[str, Any]]) -> list[Any]:
        return [(e["name"], e["visible"], e["opacity"], e["mode"], without_place(e.get("children", [])))
                for e in entries]

    assert without_place(got) == without_place(before)
    # the text layer (GIMP names it by its text): GIMP's scaling leaves it as scaled pixels (a modified text
    # layer, as after Image > Scale Image: GIMP 3.0 no longer calls it a text layer, 3.2 still does), and LIIF
    # redraws them from its own rendering
    text, before = got[0], before[0]
    assert before["text"] == "Hi" and text["name"] == "Hi"
    plan = liif_plan.scaled_item(10, 8, 25, 20, before["x"], before["y"], before["width"], before["height"])
    assert (text["x"], text["y"], text["width"], text["height"]) == tuple(plan)[2:]
    rendered = np.fromfile(before["file"], np.uint8).reshape(before["height"], before["width"], 4)
    assert rendered[..., 3].any(), "GIMP drew no text"
    expected = liif_core.upscale(rendered, size=(plan.width, plan.height), model=case["args"]["model"], device="cpu")
    assert np.array_equal(np.fromfile(text["file"], np.uint8).reshape(plan.height, plan.width, 4), expected)
    got = got[1:]
    assert got[0]["mode"] == "multiply" and not got[0]["visible"] and got[1]["children"][0]["name"] == "inner"
    flat = {e["name"]: e for e in [got[0], got[1]["children"][0], got[2]]}
    for name, source in sources.items():
        layer = flat[name]
        spec = next(s for s in case["layers"] if s["name"] == name)
        plan = liif_plan.scaled_item(10, 8, 25, 20, spec["x"], spec["y"], spec["width"], spec["height"])
        assert (layer["x"], layer["y"], layer["width"], layer["height"]) == tuple(plan)[2:], name
        expected = liif_core.upscale(source, size=(plan.width, plan.height), model=case["args"]["model"],
                                     device="cpu")
        pixels = np.fromfile(layer["file"], np.uint8).reshape(plan.height, plan.width, -1)
        diff = np.abs(pixels.astype(np.int64) - expected.astype(np.int64))
        assert diff.max() == 0, f"{name}: {(diff > 0).sum()} of {diff.size} samples differ, by up to {diff.max()}"
    assert (flat["top"]["x"] + flat["top"]["width"], flat["top"]["y"] + flat["top"]["height"]) == (28, 25)  # off canvas


@requires_gimp
def test_every_layer_output_redraws_each_pixel_layer_in_a_copy(main_run) -> None:
    """Output "layers": a new image, GIMP's copy scaled x2.5, every pixel layer redrawn (check_every_layer);
    the selection plays no part; the source image untouched."""
    case, res = main_run[3]["cases"]["every_layer"], main_run[1]["every_layer"]
    assert res["status"] == "success", res["message"]
    assert res["before"] == res["after"], "the source image changed"
    assert unchanged(res["tree_before"], res["tree_after"]), "the source image's layers changed"
    out = res["result"]
    assert out["new_image"] and out["file_name"] is None and out["dirty"]
    assert (out["geometry"]["width"], out["geometry"]["height"]) == (25, 20)
    assert out["name"] == "top"  # the copy of the selected layer is what the procedure returns
    check_every_layer(case, out["tree"], res["tree_before"], main_run[2]["every_layer"])


@requires_gimp
def test_every_layer_in_place_redraws_the_image_itself(main_run) -> None:
    """Output "layers-in-place": the image itself scaled x2.5 and every pixel layer redrawn
    (check_every_layer), no new image; the selection is scaled with the image and masks nothing."""
    case, res = main_run[3]["cases"]["every_layer_in_place"], main_run[1]["every_layer_in_place"]
    assert res["status"] == "success", res["message"]
    out = res["result"]
    assert not out["new_image"] and res["new_images"] == 0 and out["dirty"]
    assert (out["geometry"]["width"], out["geometry"]["height"]) == (25, 20)
    assert out["name"] == "top"  # the selected layer, redrawn
    check_every_layer(case, out["tree"], res["tree_before"], main_run[2]["every_layer_in_place"])
    # the 2 x 2 selection, scaled with the image by GIMP (its interpolation softens it beyond 5 x 5): the
    # same as in GIMP's scaled copy (output "layers"), where the plug-in does not touch the selection
    assert out["selection_bounds"] is not None and out["selection_bounds"][:2] == [0, 0]
    assert out["selection"] == main_run[1]["every_layer"]["result"]["selection"]


@requires_gimp
def test_vector_layers_are_left_to_gimp_and_link_layers_keep_liif_pixels(gimp: Gimp) -> None:
    """GIMP 3.2's vector layers (drawn from a path) and link layers (drawn from a file), with the whole image
    upscaled x2, in a copy and in place: a vector layer is left to GIMP, which draws it anew at the new size
    (exact; pixels written into it would be gone once the image is opened again); a link layer to a PNG is
    rasterized and redrawn by LIIF, which the saved image keeps; the pixel layer is redrawn by LIIF as ever.
    A vector layer chosen as the source of output "layer": LIIF's new layer from what GIMP drew of it."""
    if not gimp.console.endswith("3.2"):
        pytest.skip("GIMP 3.0 has no vector or link layers")
    from PIL import Image

    linked = _pixels((4, 5, 4), np.uint8, 31)
    Image.fromarray(linked, "RGBA").save(gimp.work / "linked.png")
    paint = _pixels((10, 12, 4), np.uint8, 32)
    cases = []
    for name, output in (("vector_link_copy", "layers"), ("vector_link_in_place", "layers-in-place")):
        layers = [{"name": "shape", "kind": "vector", "box": [2, 2, 8, 7]},
                  {"name": "linked", "kind": "link", "link": str(gimp.work / "linked.png"), "x": 6, "y": 5},
                  _layer(gimp.work, f"{name}-paint", paint) | {"name": "paint"}]
        cases.append({"name": name, "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 12, "height": 10},
                      "layers": layers, "source": 2, "select": None, "reload": output == "layers-in-place",
                      "args": {"model": str(gimp.model), "device": "cpu", "output": output, "tile": 0, "scale": 2.0,
                               "width": 0, "height": 0, "quality": "one-pass"}})
    # a vector layer as the source of output "layer": LIIF redraws what GIMP drew of it into a new pixel layer
    cases.append(dict(cases[0], name="vector_source", source=0, reload=False,
                      args=dict(cases[0]["args"], output="layer")))
    code, log, results = gimp.run("vector_link", cases)
    assert code == 0 and results.get("cases"), gimp_failed("gimp-console", code, log)
    by_name = cases_by_name(results, log)
    res = by_name["vector_source"]
    assert res["status"] == "success", res["message"]
    shape = next(entry for entry in res["tree_before"] if entry["name"] == "shape")
    expected = liif_core.upscale(np.fromfile(shape["file"], np.uint8).reshape(shape["height"], shape["width"], 4),
                                 size=(res["result"]["width"], res["result"]["height"]), model=str(gimp.model),
                                 device="cpu")
    assert (res["result"]["width"], res["result"]["height"]) == (2 * shape["width"], 2 * shape["height"])
    assert np.array_equal(read_result(res, np.uint8).reshape(expected.shape), expected)

    def pixels(entry: dict[str, Any]) -> np.ndarray:
        return np.fromfile(entry["file"], np.uint8).reshape(entry["height"], entry["width"], 4)

    for name in ("vector_link_copy", "vector_link_in_place"):
        res = by_name[name]
        assert res["status"] == "success", res["message"]
        before = {entry["name"]: entry for entry in res["tree_before"]}
        after = {entry["name"]: entry for entry in res["result"]["tree"]}
        assert before["shape"]["kind"] == "vector" and before["linked"]["kind"] == "link"
        assert not before["linked"]["rasterized"] and np.array_equal(pixels(before["linked"]), linked)
        shape = after["shape"]  # GIMP's own drawing at the new size, still a vector layer
        assert shape["kind"] == "vector" and not shape["rasterized"] and pixels(shape)[..., 3].any()
        for layer, source in (("linked", linked), ("paint", paint)):
            entry = before[layer]
            plan = liif_plan.scaled_item(12, 10, 24, 20, entry["x"], entry["y"], entry["width"], entry["height"])
            assert (after[layer]["x"], after[layer]["y"], after[layer]["width"], after[layer]["height"]) == \
                tuple(plan)[2:], layer
            expected = liif_core.upscale(source, size=(plan.width, plan.height), model=str(gimp.model), device="cpu")
            assert np.array_equal(pixels(after[layer]), expected), layer
        assert after["linked"]["rasterized"]  # a pixel layer now: LIIF's pixels are what it holds
        if name == "vector_link_copy":
            assert unchanged(res["tree_before"], res["tree_after"]), "the source image changed"
        else:  # the saved image keeps LIIF's pixels and GIMP's vector layer as they were
            # (by place: GIMP 3.2.6 opens the link layer named after its file, "linked.png")
            reloaded = dict(zip(("shape", "linked", "paint"), res["result"]["tree_reloaded"], strict=True))
            for layer in ("shape", "linked", "paint"):
                assert np.array_equal(pixels(reloaded[layer]), pixels(after[layer])), layer
            assert reloaded["shape"]["kind"] == "vector" and not reloaded["shape"]["rasterized"]
            assert reloaded["linked"]["kind"] == "link" and reloaded["linked"]["rasterized"]


@requires_gimp
def test_linear_hdr_image_keeps_colour_beyond_0_1(main_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """A float linear-light image with highlights up to 8 and colour below 0: Babl's conversions to
    the perceptual form the plug-in reads and back keep that range, and so does the upscale."""
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    results, by_name, sources, extra = main_run
    case, res = extra["cases"]["float_linear_hdr"], by_name["float_linear_hdr"]
    assert res["status"] == "success", res["message"]
    assert res["result"]["geometry"]["precision"] == "float-linear"
    got = read_result(res, np.float32)
    expected = expected_result(case, res, sources["float_linear_hdr"], Path(case["args"]["model"]))
    # Babl's float conversions between linear light and the perceptual form differ by up to 0.3% here
    np.testing.assert_allclose(got, expected.reshape(got.shape), rtol=0.01, atol=0.03)
    assert got[..., :3].max() > 4 and got[..., :3].min() < -0.1


@requires_gimp
def test_linear_light_image_keeps_its_precision(main_run) -> None:
    """Linear images travel in the perceptual form the model knows; Babl converts both ways (pixels not compared)."""
    res = main_run[1]["linear16_new_image"]
    assert res["status"] == "success", res["message"]
    out = res["result"]
    assert out["geometry"]["precision"] == "u16-linear" and (out["width"], out["height"]) == (10, 8)
    assert res["before"] == res["after"]


@requires_gimp
@pytest.mark.parametrize("name", ["error_scale_zero", "error_bad_model", "error_no_worker", "error_locked_in_place"])
def test_errors_return_an_error_status_and_change_nothing(main_run, name: str) -> None:
    case, res = main_run[3]["cases"][name], main_run[1][name]
    assert res["status"] in ("calling-error", "execution-error"), res
    assert case["expect_error"] in res["message"], res["message"]
    assert res["before"] == res["after"], "the image changed although the procedure failed"
    assert res["new_images"] == 0


@requires_gimp
def test_cancel_kills_the_worker_and_leaves_the_image(main_run) -> None:
    killed, res = main_run[3]["killed"], main_run[1]["cancel_kills_worker"]
    assert killed.get("worker_alive_at_kill"), f"the cancel case's worker was not found busy: {killed}"
    assert killed["worker_cpu_s_at_kill"] >= 4.0, f"killed before the job ran: {killed}"
    assert killed["worker_gone"], "the worker outlived its killed plug-in"
    assert killed["worker_exit_s"] < 3.0, killed
    assert res["status"] != "success"
    assert res["before"] == res["after"] and res["new_images"] == 0


# --------------------------------------------------------------------------------------------- the dialog

XCF_FROM_JPEG = ("from gi.repository import Gimp, Gio; "
                 "image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path({0!r})); "
                 "Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path({1!r}), None)")
GUI_TOOLS = ("usr/bin/xvfb-run", "usr/bin/xdotool", "usr/bin/xwd", "usr/bin/dbus-run-session",
             "usr/libexec/at-spi-bus-launcher")


@pytest.fixture(scope="module")
def gui_run(gimp: Gimp) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    missing = [tool for tool in (*GUI_TOOLS, gimp.gui.lstrip("/")) if not (gimp.chroot / tool).exists()]
    if missing:
        pytest.skip(f"the chroot lacks {', '.join(missing)}: run tests/hosts/setup_gimp.sh again to add them")
    image = _pixels((4, 6, 3), np.uint8, 11)
    from PIL import Image

    # the bundled example, a piece of a dialog: x2, 440 x 320, of which the preview shows 360 x 240
    wide = np.asarray(Image.open(REPO / "examples" / "dialog.png").convert("RGB"))
    noisy = _pixels((240, 400, 4), np.uint8, 20)  # a varying alpha: the estimate counts its second pass
    cases = []
    # first: the Result line before any job measured the worker's speed (the speed memory is emptied first);
    # the preview, switched on with its mnemonic (Alt+P), stays on for later runs; then the Result line's time
    # for a job large enough that the rounded time tells the worker's estimate apart (cancelled: not run)
    shutil.rmtree(gimp.work / "cache" / "liif-upscale", ignore_errors=True)
    first = {"respond": "ok", "labels": {"until": "; (about|under) ", "timeout": 8}}
    timed = {"respond": "cancel", "labels": {"until": "; (about|under) ", "timeout": 90}}
    for name, picture, interactive in (("ok", image, first), ("cancel", image, {"respond": "cancel"}),
                                       ("preview", wide, {"respond": "ok", "keys": ["alt+p"], "wait": 30}),
                                       ("estimate", noisy, timed)):
        spec = _layer(gimp.work, f"dialog-{name}", picture)
        spec["name"] = "photo"
        h, w = picture.shape[:2]
        cases.append({"name": f"dialog_{name}", "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": w,
                                                            "height": h},
                      "layers": [spec], "source": 0, "select": None, "interactive": interactive, "args": {}})
    # a photograph opened from a JPEG file (on GIMP's command line, as from a file manager): with the Model field
    # as it comes (auto), the note under it says the model made for those was chosen (when one is bundled);
    # "default" typed in instead, the note names that model as a link, which the keyboard follows; cancelled
    from liif_core.weights import jpeg_models, list_models, model_summaries
    from plugin.common.model_choice import AUTO_JPEG, LAYER_AUTO_JPEG, shown_name

    photo = gimp.work / "inputs" / "holiday.jpg"
    Image.fromarray(_pixels((24, 32, 3), np.uint8, 21)).save(photo, quality=80)
    summaries, suggested = model_summaries(), jpeg_models()
    until = re.escape(AUTO_JPEG.format(shown_name(suggested[0]), kind='JPEG') if suggested
                      else summaries[list_models()[0]][:30])
    interactive = {"respond": "cancel", "labels": {"until": until, "timeout": 60}}
    if suggested:  # Alt+M (the Model field), "default" typed over it; then Tab (the note's link), Return; then
        # Return again: the keyboard is still in the note, on its first link (auto), not on the dialog's OK
        interactive["then"] = [{"keys": ["alt+m", "ctrl+a"], "type": "default",
                                "labels": {"until": "made for lossy compression", "timeout": 20}},
                               {"keys": ["Tab", "Return"],
                                "labels": {"until": re.escape(summaries[suggested[0]][:30]), "timeout": 20}},
                               {"keys": ["Return"], "labels": {"until": "Automatic: ", "timeout": 20}}]
    cases.append({"name": "dialog_jpeg", "image": {"opened": str(photo), "width": 32, "height": 24}, "layers": [],
                  "source": 0, "select": None, "args": {}, "interactive": interactive})
    # the JPEG model typed into the Model field for a picture opened from a PNG file: the note links back to the
    # default model; followed (Tab to the link, Return), the field says "default"
    mockup = gimp.work / "inputs" / "mockup.png"
    Image.fromarray(_pixels((24, 32, 3), np.uint8, 22)).save(mockup)
    if suggested:
        back = {"keys": ["alt+m", "ctrl+a"], "type": suggested[0], "respond": "cancel",
                "labels": {"until": "is sharper on it", "timeout": 60},
                "then": [{"keys": ["Tab", "Return"],
                          "labels": {"until": re.escape(summaries[list_models()[0]][:30]), "timeout": 20}},
                         # then the first of the other models' links (Alt+M, the field; Tab, the note): auto
                         {"keys": ["alt+m", "Tab", "Return"], "labels": {"until": "Automatic: ", "timeout": 20}}]}
        cases.append({"name": "dialog_png", "image": {"opened": str(mockup), "width": 32, "height": 24},
                      "layers": [], "source": 0, "select": None, "args": {}, "interactive": back})
    # no dialog, the Model argument as it comes (auto): the JPEG photograph gets the model made for those, the
    # PNG the default (output "image": the opened images stay as they were for the dialog cases)
    # the photograph saved as XCF by GIMP after it was opened from its JPEG file, opened again: the JPEG file's name
    # is gone, GIMP's JPEG settings are kept (the "jpeg-settings" parasite), and auto still takes the JPEG model
    saved = gimp.work / "inputs" / "holiday.xcf"
    code, log = gimp.shell("xcf_from_jpeg", gimp.batch_command(XCF_FROM_JPEG.format(str(photo), str(saved))))
    assert code == 0 and saved.is_file(), gimp_failed("gimp-console (saving the XCF)", code, log)
    # and WebP files, whose name does not say lossy or lossless: GIMP gives the plug-in the file's path, which
    # is read (a lossy one gets the JPEG model)
    webp, lossless = gimp.work / "inputs" / "web.webp", gimp.work / "inputs" / "shot.webp"
    Image.open(photo).save(webp, quality=80)
    Image.open(mockup).save(lossless, lossless=True)
    # and JPEG XL files: lossy (coded in XYB, as GIMP's exporter and cjxl write them by default) or not
    jxl, jxl_lossless = gimp.work / "inputs" / "web.jxl", gimp.work / "inputs" / "shot.jxl"
    jxl.write_bytes(imagecodecs.jpegxl_encode(np.asarray(Image.open(photo).convert("RGB")), distance=1.0))
    jxl_lossless.write_bytes(imagecodecs.jpegxl_encode(np.asarray(Image.open(mockup).convert("RGB")), lossless=True))
    for name, opened in (("auto_jpeg", photo), ("auto_png", mockup), ("auto_xcf_from_jpeg", saved),
                         ("auto_webp", webp), ("auto_webp_lossless", lossless), ("auto_jxl", jxl),
                         ("auto_jxl_lossless", jxl_lossless)):
        cases.append({"name": name, "image": {"opened": str(opened), "width": 32, "height": 24}, "layers": [],
                      "source": 0, "select": None, "args": {"device": "cpu", "output": "image", "scale": 2.0}})
    # the JPEG photograph brought into a PNG's image with File > Open as Layers (named after its file, on top):
    # auto takes the JPEG model for that layer; for the whole image (a new image, every layer), each layer the
    # model of its own file. In the dialog, the note says why, and names the layer once Output is every layer
    collage = gimp.work / "inputs" / "collage.png"
    Image.fromarray(_pixels((24, 32, 3), np.uint8, 23)).save(collage)
    with_photo = {"opened": str(collage), "layers_from": [str(photo)], "width": 32, "height": 24}
    for name, output in (("auto_layer_from_jpeg", "image"), ("auto_layers_with_one_from_jpeg", "layers")):
        cases.append({"name": name, "image": with_photo, "layers": [], "source": 0, "select": None,
                      "args": {"device": "cpu", "output": output, "scale": 2.0}})
    if suggested:
        layer_note = re.escape(LAYER_AUTO_JPEG.format(shown_name(suggested[0]), kind='JPEG'))
        cases.append({"name": "dialog_layer_from_jpeg", "image": with_photo, "layers": [], "source": 0,
                      "select": None, "args": {"model": "auto", "output": "layer"},
                      "interactive": {"respond": "cancel", "labels": {"until": layer_note, "timeout": 60},
                                      "then": [{"keys": ["alt+u", "End", "Up"],
                                                "labels": {"until": "Layers named after", "timeout": 20}}]}})
    # the output "This image, every layer" chosen in the dialog (Alt+U: the Output field, End: its last choice);
    # OK with its mnemonic (Alt+O), since Return on a focused combo box opens its list; before, the Result line
    # with the worker's estimate, which an earlier job's speed allows
    in_place = [_layer(gimp.work, "dialog-top", _pixels((4, 5, 4), np.uint8, 18), 3, 2) | {"name": "top"},
                _layer(gimp.work, "dialog-bg", _pixels((6, 8, 3), np.uint8, 19), 0, 0) | {"name": "bg"}]
    cases.append({"name": "dialog_in_place", "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 8,
                                                       "height": 6},
                  "layers": in_place, "source": 1, "select": None, "args": {},
                  "interactive": {"respond": "ok", "keys": ["alt+u", "End"], "answer": "alt+o",
                                  "labels": {"until": "redrawn in place; (about|under) ", "timeout": 90}}})
    if gimp.console.endswith("3.2"):  # GIMP 3.2's vector and link layers: the Result line says what becomes of them
        from PIL import Image

        Image.fromarray(_pixels((3, 4, 4), np.uint8, 33), "RGBA").save(gimp.work / "dialog-linked.png")
        layers = [{"name": "shape", "kind": "vector", "box": [1, 1, 6, 5]},
                  {"name": "linked", "kind": "link", "link": str(gimp.work / "dialog-linked.png"), "x": 2, "y": 1},
                  _layer(gimp.work, "dialog-paint", _pixels((6, 8, 3), np.uint8, 34), 0, 0) | {"name": "paint"}]
        cases.append({"name": "dialog_vector_link", "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 8,
                                                              "height": 6},
                      "layers": layers, "source": 2, "select": None, "args": {},
                      "interactive": {"respond": "cancel", "keys": ["alt+u", "End"],
                                      "labels": {"until": "redrawn in place", "timeout": 60}}})
    # undo and redo in GIMP's window (Ctrl+Z, Ctrl+Y) after output "layer" and "layers-in-place" (no dialog)
    args = {"model": str(gimp.model), "device": "cpu", "tile": 0, "scale": 2.0, "width": 0, "height": 0}
    layers = [_layer(gimp.work, "undo-top", _pixels((4, 5, 4), np.uint8, 16), 3, 2) | {"name": "top", "parent": "G"},
              _layer(gimp.work, "undo-bg", _pixels((6, 8, 3), np.uint8, 17), 0, 0) | {"name": "bg"}]
    for output in ("layer", "layers-in-place"):
        cases.append({"name": f"undo_{output}", "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 8,
                                                          "height": 6},
                      "layers": [{"name": "G", "kind": "group", "opacity": 70.0}] + layers, "source": 1,
                      "select": {"shape": "ellipse", "x": 1, "y": 1, "w": 5, "h": 4}, "undo": True,
                      "args": dict(args, output=output)})
    # the output "New image" chosen in the dialog (Alt+U, Home, Down: its second choice), OK; then the procedure run
    # as Filters > Repeat runs it (the last values, no dialog): each result opens in a window of its own
    for name, extra in (("dialog_new_image", {"interactive": {"respond": "ok", "keys": ["alt+u", "Home", "Down"],
                                                              "answer": "alt+o"}}),
                        ("repeat_new_image", {"run_mode": "last"})):
        spec = _layer(gimp.work, name, image) | {"name": "photo"}
        cases.append({"name": name, "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 6, "height": 4},
                      "layers": [spec], "source": 0, "select": None, "args": {}, **extra})
    # a width typed (Alt+W), then a scale (Alt+A): the scale counts, Width goes back to 0; each value counts
    # once the focus leaves its field (Tab); cancelled, so GIMP remembers none of it
    size_steps = [{"keys": ["Tab"], "labels": {"until": "→ 24 x 16 px", "timeout": 20}},
                  {"keys": ["alt+a", "ctrl+a"], "type": "3", "labels": {"until": "Result: ", "timeout": 20}},
                  {"keys": ["Tab"], "labels": {"until": re.escape("→ 18 x 12 px (×3)"), "timeout": 20}}]
    cases.append({"name": "dialog_scale_after_width", "image": {"base": "rgb", "precision": "U8_NON_LINEAR",
                                                                 "width": 6, "height": 4},
                  "layers": [_layer(gimp.work, "dialog-sizes", image) | {"name": "photo"}], "source": 0,
                  "select": None, "args": {},
                  "interactive": {"respond": "cancel", "keys": ["alt+w", "ctrl+a"], "type": "24",
                                  "labels": {"until": "Result: ", "timeout": 20}, "then": size_steps}})
    # last (the preview is on, remembered from dialog_preview): switched off with its mnemonic, then cancelled
    cases.append({"name": "dialog_preview_off", "image": {"base": "rgb", "precision": "U8_NON_LINEAR",
                                                           "width": 220, "height": 160},
                  "layers": [_layer(gimp.work, "dialog-preview-off", wide) | {"name": "photo"}], "source": 0,
                  "select": None, "args": {}, "interactive": {"respond": "cancel", "keys": ["alt+p"], "wait": 3}})
    # GIMP 3.2.6 itself crashed (SIGSEGV in GIMP, not the plug-in) in 4 of about 10 GUI runs as the dialog of
    # dialog_scale_after_width was cancelled: the harness's AT-SPI client left GIMP's accessibility bridge while
    # GTK walked its key listeners (gdb; dialog_labels.py --hold says more), fixed in the harness by holding one
    # client for the whole run (none in 10 runs since). Should GIMP crash all the same, the run is made once more
    # from the same start (the profile, settings and caches as they were) with a warning; a second crash fails.
    state = ["home", "gimpdir", "config", "cache", "data"]
    for name in state:
        if (gimp.work / name).is_dir():
            shutil.copytree(gimp.work / name, gimp.work / "before-gui" / name, symlinks=True)
    files = (photo, mockup, saved, collage, webp, lossless, jxl, jxl_lossless)
    code, log, results = gimp.run("gui", cases, gui=True, files=files)
    if code != 0 and "fatal error: Segmentation fault" in log:
        warnings.warn(f"GIMP ({gimp.gui}) crashed in the GUI run; it runs once more:\n{log[-1500:]}", stacklevel=1)
        for name in state:
            shutil.rmtree(gimp.work / name, ignore_errors=True)
            if (gimp.work / "before-gui" / name).is_dir():
                shutil.copytree(gimp.work / "before-gui" / name, gimp.work / name, symlinks=True)
        shutil.rmtree(gimp.work / "gui", ignore_errors=True)
        code, log, results = gimp.run("gui", cases, gui=True, files=files)
    assert code == 0 and results.get("cases"), gimp_failed("gimp-3.0", code, log)
    return cases_by_name(results, log), {"image": image, "wide": wide, "noisy": noisy, "log": log,
                                                      "in_place": {spec["name"]: spec for spec in in_place}}


@requires_gimp
def test_dialog_ok_runs_with_the_dialogs_values(gui_run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    res = gui_run[0]["dialog_ok"]
    assert res["responder"] == 0, "the dialog did not appear"
    assert res["status"] == "success", res["message"]
    out = res["result"]
    assert (out["width"], out["height"]) == (12, 8) and not out["new_image"]  # defaults: x2, new layer
    got = read_result(res, np.uint8)
    expected = liif_core.upscale(gui_run[1]["image"], scale=2, model="default", device="cpu")
    assert np.array_equal(got, expected)


@requires_gimp
@pytest.mark.parametrize("output", ["layer", "layers-in-place"])
def test_one_undo_restores_the_image_and_redo_brings_back_liif(gui_run, output: str) -> None:
    """In GIMP's window, one Ctrl+Z after the upscale gives back the image as it was (size, layers, pixels,
    selection scaled back by GIMP); Ctrl+Y then redoes all of it, LIIF's pixels included (not GIMP's)."""
    res = gui_run[0][f"undo_{output}"]
    assert res["status"] == "success", res["message"]
    undo = res["undo"]
    assert undo["undone"]["window"] == 0, "the image window was not found"
    assert undo["undone"]["size"] == [8, 6], f"Ctrl+Z did not undo the scaling: {undo['undone']['size']}"
    assert unchanged(res["tree_before"], undo["undone"]["tree"]), "one undo did not restore the layers"
    assert undo["redone"]["size"] == [16, 12], f"Ctrl+Y did not redo the scaling: {undo['redone']['size']}"
    assert unchanged(res["tree_after"], undo["redone"]["tree"]), "redo did not bring back the result"
    assert not unchanged(res["tree_before"], res["tree_after"])


def in_place_layers(gui_run) -> dict[str, tuple[Any, np.ndarray]]:
    """The dialog_in_place case's layers by name: each one's place in the image scaled from 8 x 6 to
    16 x 12 (:func:`liif_plan.scaled_item`) and its source pixels."""
    found = {}
    for name, spec in gui_run[1]["in_place"].items():
        plan = liif_plan.scaled_item(8, 6, 16, 12, spec["x"], spec["y"], spec["width"], spec["height"])
        found[name] = plan, np.fromfile(spec["file"], np.uint8).reshape(spec["height"], spec["width"], -1)
    return found


@requires_gimp
def test_a_new_image_opens_in_a_window_also_when_repeated(gui_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Output "New image" chosen in the dialog, then Filters > Repeat (run with the last values, no dialog):
    both results are new images shown in a window of their own, each the upscale of its layer; the source images
    stay as they were. (A repeat once made an image no window showed.)"""
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    expected = liif_core.upscale(gui_run[1]["image"], scale=2, model="default", device="cpu")
    for name in ("dialog_new_image", "repeat_new_image"):
        res = gui_run[0][name]
        assert res["status"] == "success", (name, res["message"])
        out = res["result"]
        assert out["new_image"] and out["displays"] == 1, (name, out)
        assert (out["width"], out["height"]) == (12, 8) and res["before"] == res["after"], (name, out)
        np.testing.assert_array_equal(read_result(res, np.uint8), expected, err_msg=name)
    assert gui_run[0]["dialog_new_image"]["responder"] == 0, "the dialog did not appear"


@requires_gimp
def test_dialog_output_this_image_every_layer(gui_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chosen in the dialog, "This image, every layer" scales the image itself x2 and redraws both of its
    layers where GIMP put them; no new image."""
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    res = gui_run[0]["dialog_in_place"]
    assert res["responder"] == 0, "the dialog did not appear"
    assert res["status"] == "success", res["message"]
    out = res["result"]
    assert not out["new_image"] and res["new_images"] == 0 and out["name"] == "bg"
    assert (out["geometry"]["width"], out["geometry"]["height"]) == (16, 12)
    layers = in_place_layers(gui_run)
    for layer in res["tree_after"]:
        plan, source = layers[layer["name"]]
        assert (layer["x"], layer["y"], layer["width"], layer["height"]) == tuple(plan)[2:], layer
        expected = liif_core.upscale(source, size=(plan.width, plan.height), model="default", device="cpu")
        got = np.fromfile(layer["file"], np.uint8).reshape(plan.height, plan.width, -1)
        diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
        assert diff.max() == 0, f"{layer['name']}: {(diff > 0).sum()} of {diff.size} differ, by up to {diff.max()}"


@requires_gimp
def test_dialog_result_line_tells_the_time_the_worker_expects(gui_run) -> None:
    """The dialog's Result line, as a screen reader reads it: no time before any job measured the worker's
    speed; later, the time the worker expects from the pixels (of every layer, for the whole image) at the
    speed the last job measured."""
    from liif_core import speed_memory
    from liif_core.query import work_per_pixel
    from plugin.common.time_left import format_seconds

    first = gui_run[0]["dialog_ok"]
    assert first["speed"] is None and "Result: 6 x 4 → 12 x 8 px (×2)" in first["labels"], first["labels"]
    assert not any(re.search("; (about|under) ", text) for text in first["labels"]), first["labels"]
    model = liif_core.load_model("default", device="cpu")
    per_output = work_per_pixel(model.net)[1]

    def result_line(case: dict[str, Any]) -> tuple[str, str, float]:
        """The Result line's size part, its time, and the speed the worker knew meanwhile."""
        line = next((text for text in case["labels"] or [] if text.startswith("Result:")), "")
        size, _, seconds = line.rpartition("; ")
        assert seconds.startswith(("about ", "under ")), case["labels"]
        return size, seconds, case["speed"]["speed"][speed_memory.device_identity(torch.device("cpu"))]

    size, seconds, speed = result_line(gui_run[0]["dialog_estimate"])
    assert size == "Result: 400 x 240 → 800 x 480 px (×2)"
    work = liif_core.work(gui_run[1]["noisy"], size=(800, 480), model=model)
    expected = work * per_output / speed
    # the varying alpha's pass is half the work: the rounded text must tell an estimate that skipped it
    # (a job of 7.5 s or more at the measured speed; this one is 11 s on a 2-core Xeon with AMX)
    assert format_seconds(expected) != format_seconds(expected / 2), \
        "too small a job to tell estimates apart by their rounded text"
    assert seconds == format_seconds(expected), (seconds, work, speed)
    size, seconds, speed = result_line(gui_run[0]["dialog_in_place"])
    assert size == "Result: 8 x 6 → 16 x 12 px (×2), 2 layers redrawn in place"
    work = sum(liif_core.work(source, size=(plan.width, plan.height), model=model)
               for plan, source in in_place_layers(gui_run).values())
    assert seconds == format_seconds(work * per_output / speed), (seconds, work, speed)


@requires_gimp
def test_dialog_a_scale_typed_after_a_width_counts(gui_run) -> None:
    """GIMP brings back the last run's Width and Height, which win over Scale: a scale typed into its
    field afterwards puts them back to 0, so the Result line follows the scale."""
    res = gui_run[0]["dialog_scale_after_width"]
    assert res["responder"] == 0, "the dialog did not appear"
    width_typed, _, scale_typed = res["then"]

    def size(labels: list[str] | None) -> str | None:  # the Result line without the time (once it is known)
        return next((text.split(";")[0] for text in labels or [] if text.startswith("Result: ")), None)

    assert size(width_typed) == "Result: 6 x 4 → 24 x 16 px (×4)", width_typed
    assert size(scale_typed) == "Result: 6 x 4 → 18 x 12 px (×3)", scale_typed
    assert res["status"] == "cancel" and res["before"] == res["after"]


@requires_gimp
def test_dialog_result_line_counts_vector_and_link_layers(gimp, gui_run) -> None:
    """GIMP 3.2: with the whole image chosen, the Result line says that the link layer is rasterized (and redrawn)
    and that GIMP draws the vector layer anew; cancelled, nothing changes."""
    if not gimp.console.endswith("3.2"):
        pytest.skip("GIMP 3.0 has no vector or link layers")
    res = gui_run[0]["dialog_vector_link"]
    assert res["responder"] == 0, "the dialog did not appear"
    line = next((text.split(";")[0] for text in res["labels"] or [] if text.startswith("Result: ")), None)
    assert line == ("Result: 8 x 6 → 16 x 12 px (×2), 2 layers redrawn in place (1 link layer rasterized), "
                    "1 vector layer drawn anew by GIMP"), res["labels"]
    assert res["status"] == "cancel" and res["before"] == res["after"]


@requires_gimp
def test_dialog_cancel_changes_nothing(gui_run) -> None:
    res = gui_run[0]["dialog_cancel"]
    assert res["responder"] == 0, "the dialog did not appear"
    assert res["status"] == "cancel"
    assert res["before"] == res["after"] and res["new_images"] == 0


@requires_gimp
def test_the_dialog_makes_gtk_and_atk_log_no_criticals(gui_run) -> None:
    """GTK's critical warnings in the plug-in's process (its dialogs, read by a screen reader over
    AT-SPI, typed in, their links followed) mean widgets used wrongly: new markup on a label whose
    links a screen reader had seen left it asking about freed link objects (Atk-CRITICAL), and once
    the plug-in crashed under the dialog (GIMP logs "liif-upscale.py: fatal error")."""
    criticals = [line for line in gui_run[1]["log"].splitlines()
                 if re.match(r"\(python-fu-liif-upscale:\d+\): \S+-CRITICAL", line)
                 or "liif-upscale.py: fatal error" in line]
    assert not criticals, "\n".join(criticals[:10])


@requires_gimp
def test_dialog_says_what_the_model_is_for_and_which_suits_a_jpeg(gui_run) -> None:
    """Under the model field, as a screen reader reads it, for a photograph GIMP opened from a JPEG
    file: with the field as it comes (``auto``), what the model made for those is for (from its
    card, through the worker's info) and that it was chosen for that reason; with ``default`` typed
    in, what the default is for and which bundled model is made for JPEG files: its name is a link,
    which the keyboard reaches and follows: that model is then chosen, and the note says what it
    is for; under it each time, links to the field's other values, and the keyboard stays on the note's
    links (Return again chooses ``auto``). The dialog was cancelled: the image is unchanged."""
    from liif_core.weights import jpeg_models, list_models, model_summaries
    from plugin.common.model_choice import AUTO_JPEG, shown_name

    res = gui_run[0]["dialog_jpeg"]
    assert res["responder"] == 0, "the dialog did not appear"
    assert res["status"] == "cancel" and res["before"] == res["after"]
    assert res["files"]["imported"].endswith("holiday.jpg"), res["files"]  # what the dialog reads
    summaries, suggested = model_summaries(), jpeg_models()
    default = summaries[list_models()[0]]
    if not suggested:
        assert f"{default}\n{others('auto')}" in (res["labels"] or []), str((res["labels"], res["files"]))
        return
    auto = f"{summaries[suggested[0]]}\n{AUTO_JPEG.format(shown_name(suggested[0]), kind='JPEG')}\n{others('auto')}"
    assert auto in (res["labels"] or []), str((res["labels"], res["files"]))
    typed, followed, again = res["then"]
    hint = (f"This image was opened from a JPEG file: the model {shown_name(suggested[0])} is made for lossy "
            "compression.")
    assert f"{default}\n{hint}\n{others('default')}" in (typed or []), typed
    # followed: the suggested model chosen in the Model field, and what it is for under it
    assert f"{summaries[suggested[0]]}\n{others(suggested[0])}" in (followed or []), followed
    assert not any("opened from a JPEG file" in text for text in followed), followed
    # Return again followed the first link under it, auto (the note's new text kept the keyboard's place)
    assert auto in (again or []), again


@requires_gimp
def test_dialog_points_back_to_the_default_when_the_jpeg_model_is_chosen_for_a_png(gui_run) -> None:
    """For a picture GIMP opened from a PNG file, the model made for JPEG files typed into the Model
    field: the note under it says what that model is for and that the default model, a link, is
    sharper on this image; followed with the keyboard, the default is chosen again (the field says
    ``default``) and the hint is gone; the first link of the line of other models then chooses ``auto``.
    Cancelled: the image is unchanged."""
    from liif_core.weights import jpeg_models, list_models, model_summaries
    from plugin.common.model_choice import AUTO_CLEAN, shown_name

    summaries, suggested = model_summaries(), jpeg_models()
    if not suggested:
        pytest.skip("no bundled model is made for JPEG files")
    res = gui_run[0]["dialog_png"]
    assert res["responder"] == 0, "the dialog did not appear"
    assert res["status"] == "cancel" and res["before"] == res["after"]
    assert res["files"]["imported"].endswith("mockup.png"), res["files"]
    default = list_models()[0]
    note = (f"{summaries[suggested[0]]}\nThis image was not opened from a JPEG, HEIC, AVIF, lossy WebP or lossy "
            f"JPEG XL file: the default model, {shown_name(default)}, is sharper on it.\n{others(suggested[0])}")
    assert note in (res["labels"] or []), str((res["labels"], res["files"]))
    followed, auto = res["then"]
    assert f"{summaries[default]}\n{others('default')}" in (followed or []), followed
    assert not any("is sharper on it" in text for text in followed), followed
    # the first link of the line under it, "auto", puts that in the field: the note says what it stands for
    why = AUTO_CLEAN.format(shown_name(default), shown_name(suggested[0]))
    assert f"{summaries[default]}\n{why}\n{others('auto')}" in (auto or []), auto


@requires_gimp
def test_model_auto_takes_the_jpeg_model_for_an_image_opened_from_a_jpeg_file(
        gui_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Model argument's default, ``auto``, run without the dialog: a photograph GIMP opened from a
    JPEG file is upscaled by the bundled model made for those, a picture opened from a PNG file by the
    default model (each the same pixels as ``liif_core.upscale`` with that model on what GIMP loaded); so is
    the photograph saved as XCF after it was opened from its JPEG file (GIMP keeps its JPEG loader's settings).
    A lossy WebP file gets the JPEG model too, a lossless one the default (told by the file, not its name), and so
    do lossy and lossless JPEG XL files."""
    from liif_core.weights import jpeg_models

    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)  # as the worker in GIMP: the same pixels
    jpeg = (jpeg_models() or ["default"])[0]
    for name, model in (("auto_jpeg", jpeg), ("auto_png", "default"), ("auto_xcf_from_jpeg", jpeg), ("auto_webp", jpeg),
                        ("auto_webp_lossless", "default"), ("auto_jxl", jpeg), ("auto_jxl_lossless", "default")):
        res = gui_run[0][name]
        assert res["status"] == "success", (name, res["message"])
        assert res["result"]["new_image"] and res["before"] == res["after"], name
        # GIMP 3.0 loads a lossy JPEG XL file, even an 8-bit one, as 32-bit float (sRGB-encoded)
        dtype = np.float32 if res["before"]["geometry"]["precision"] == "float-non-linear" else np.uint8
        assert (dtype == np.float32) == (name == "auto_jxl"), (name, res["before"]["geometry"])
        source = np.fromfile(res["tree_before"][0]["file"], dtype).reshape(24, 32, -1)
        got = read_result(res, dtype)
        assert got.shape == (48, 64, source.shape[2]), (name, got.shape)
        expected = liif_core.upscale(source, scale=2, model=model, device="cpu")
        assert np.array_equal(got, expected), name
        if model != "default":  # the choice mattered: the default model gives other pixels
            assert not np.array_equal(got, liif_core.upscale(source, scale=2, model="default", device="cpu")), name


@requires_gimp
def test_model_auto_goes_by_the_file_a_layer_was_opened_as_layers_from(
        gui_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JPEG photograph brought into an image opened from a PNG file with File > Open as Layers (GIMP names the
    layer after the file): ``auto`` upscales that layer with the bundled JPEG model; the whole image (output
    "New image, every layer") gets each layer upscaled by its own file's model, the PNG's layer by the default.
    In the dialog, the note says the layer's name decided, and once Output is every layer, names that layer."""
    from liif_core.weights import jpeg_models, list_models, model_summaries
    from plugin.common.model_choice import AUTO_CLEAN, LAYER_AUTO_JPEG, LAYERS_JPEG, shown_name

    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)  # as the worker in GIMP: the same pixels
    jpeg = (jpeg_models() or ["default"])[0]
    res = gui_run[0]["auto_layer_from_jpeg"]
    assert res["status"] == "success", res["message"]
    names = [layer["name"] for layer in res["tree_before"]]
    assert names[0] == "holiday.jpg" and len(names) == 2, names  # Open as Layers: on top, named after its file
    source = np.fromfile(res["tree_before"][0]["file"], np.uint8).reshape(24, 32, -1)
    expected = liif_core.upscale(source, scale=2, model=jpeg, device="cpu")
    assert np.array_equal(read_result(res, np.uint8), expected)
    if jpeg != "default":  # the choice mattered
        assert not np.array_equal(expected, liif_core.upscale(source, scale=2, model="default", device="cpu"))
    whole = gui_run[0]["auto_layers_with_one_from_jpeg"]
    assert whole["status"] == "success", whole["message"]
    assert [layer["name"] for layer in whole["result"]["tree"]] == names, whole["result"]["tree"]
    for before, after, model in zip(whole["tree_before"], whole["result"]["tree"], (jpeg, "default")):
        pixels = np.fromfile(before["file"], np.uint8).reshape(24, 32, -1)
        got = np.fromfile(after["file"], np.uint8).reshape(48, 64, -1)
        assert np.array_equal(got, liif_core.upscale(pixels, scale=2, model=model, device="cpu")), before["name"]
    if jpeg == "default":
        return
    dialog = gui_run[0]["dialog_layer_from_jpeg"]
    summaries, default = model_summaries(), list_models()[0]
    note = f"{summaries[jpeg]}\n{LAYER_AUTO_JPEG.format(shown_name(jpeg), kind='JPEG')}"
    assert any(text.startswith(note) for text in dialog["labels"] or []), dialog["labels"]
    (every_layer,) = dialog["then"]
    why = AUTO_CLEAN.format(shown_name(default), shown_name(jpeg))
    note = f"{summaries[default]}\n{why}\n{LAYERS_JPEG.format(shown_name(jpeg), 'holiday.jpg')}"
    assert any(text.startswith(note) for text in every_layer or []), every_layer


def _read_xwd(path: str) -> np.ndarray:
    """An X window dump as ``H x W x 3`` RGB. Xvfb's dumps say 24 bits per pixel and pack them in 3
    bytes, but pad each line to 4 bytes a pixel; GIMP's XWD loader reads 4 bytes a pixel and
    squeezes the picture, so the test reads the dump itself."""
    import struct

    fields = struct.unpack(">25I", open(path, "rb").read(100))
    header_size, width, height, byte_order = fields[0], fields[4], fields[5], fields[7]
    bits, line, colours = fields[11], fields[12], fields[19]
    data = open(path, "rb").read()[header_size + 12 * colours:]
    step = bits // 8
    pixels = np.frombuffer(data[:line * height], np.uint8).reshape(height, line)[:, :width * step]
    pixels = pixels.reshape(height, width, step)
    return np.ascontiguousarray(pixels[..., [2, 1, 0]] if byte_order == 0 else pixels[..., step - 3:])


def _find(screen: np.ndarray, patch: np.ndarray) -> tuple[int, int] | None:
    """Where ``patch`` appears in ``screen`` pixel for pixel (top-left ``(x, y)``), or None. A value
    may differ by one level: a window computed on its own multiplies matrices of another shape, which
    a CPU may sum in another order (on a 2-core Xeon with AMX, one value of a 360 x 240 window in
    259200 rounded the other way, also from ``liif_core.upscale(..., region=...)`` in float32)."""
    ph, pw = patch.shape[:2]
    screen, patch = screen.astype(np.int16), patch.astype(np.int16)
    # anchored on the one of a few of its pixels that the screen has least often (a flat background's
    # first pixel would match thousands of places, each then compared whole)
    spots = [(ph * i // 7, pw * j // 7) for i in range(7) for j in range(7)]
    matches = {spot: np.argwhere((np.abs(screen - patch[spot]) <= 1).all(axis=-1)) for spot in spots}
    (ay, ax), found = min(matches.items(), key=lambda item: len(item[1]))
    for y, x in found - (ay, ax):
        if 0 <= y <= screen.shape[0] - ph and 0 <= x <= screen.shape[1] - pw and np.abs(
                screen[y:y + ph, x:x + pw] - patch).max() <= 1:
            return int(x), int(y)
    return None


def _wide_result(gui_run) -> np.ndarray:
    """The 440 x 320 upscale of the preview cases' layer (computed once)."""
    if "wide_result" not in gui_run[1]:
        gui_run[1]["wide_result"] = liif_core.upscale(gui_run[1]["wide"], scale=2, model="default", device="cpu")
    return gui_run[1]["wide_result"]


@requires_gimp
def test_dialog_preview_shows_the_result_at_100_percent(gui_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Switched on, the preview shows the middle 360 x 240 of the 440 x 320 result at 100%: the very
    pixels of the upscale, found on the screen; the job then runs as usual."""
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    res = gui_run[0]["dialog_preview"]
    assert res["responder"] == 0, "the dialog did not appear"
    assert res["status"] == "success", res["message"]
    expected = _wide_result(gui_run)
    assert np.array_equal(read_result(res, np.uint8), expected)
    assert res["screenshot"], "no screenshot"
    screen = _read_xwd(res["screenshot"])
    assert _find(screen, expected[40:280, 40:400]) is not None, "the preview is not on the screen"
    assert _find(screen, expected[40:280, 40:400][:, ::-1]) is None  # a mirrored one would not be found
    # the preview sits beside the fields: with it, the dialog still fits a 1366 x 768 laptop screen (under them
    # it made the dialog 857 px tall)
    height, width = _read_xwd(res["dialog_screenshot"]).shape[:2]
    assert height <= 700 and width <= 1300, (width, height)
    shot = os.environ.get(SCREENSHOT_ENV)
    if shot:  # the dialog's window alone
        from PIL import Image

        Image.fromarray(_read_xwd(res["dialog_screenshot"])).save(shot, optimize=True)


@requires_gimp
def test_dialog_fits_the_fields_again_once_the_preview_is_off(gui_run) -> None:
    """Switched off, the preview's room goes too (a GTK window keeps its size when a part is hidden: the dialog
    stayed about 800 px wide): as narrow as the dialog that never showed it, within a wider Result line."""
    on = _read_xwd(gui_run[0]["dialog_preview"]["dialog_screenshot"]).shape[1]
    never = _read_xwd(gui_run[0]["dialog_ok"]["dialog_screenshot"]).shape[1]
    off = _read_xwd(gui_run[0]["dialog_preview_off"]["dialog_screenshot"]).shape[1]
    assert off <= never + 40 and off < on - 200, (on, never, off)


@requires_gimp
def test_dialog_preview_follows_a_drag(gimp: Gimp, gui_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dragging the picture 30 px left and 20 px down moves the window 30 px right and 20 px up
    over the result (a picture pushed under a frame), as in Krita's dialog."""
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    first = gui_run[0]["dialog_preview"]
    expected = _wide_result(gui_run)
    found = first["screenshot"] and _find(_read_xwd(first["screenshot"]), expected[40:280, 40:400])
    if not found:
        pytest.fail("the first preview was not on the screen (see the test before)")
    x, y = found[0] + 180, found[1] + 120  # the picture's middle
    spec = _layer(gimp.work, "dialog-drag", gui_run[1]["wide"])
    spec["name"] = "photo"
    case = {"name": "dialog_drag", "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": 220,
                                              "height": 160},
            "layers": [spec], "source": 0, "select": None, "args": {},  # the preview is on: GIMP remembers it
            "interactive": {"respond": "ok", "before_drag": 20, "drag": [x, y, x - 30, y + 20], "wait": 30}}
    code, log, results = gimp.run("gui-drag", [case], gui=True)
    assert code == 0 and results.get("cases"), gimp_failed("gimp-3.0", code, log)
    res = cases_by_name(results, log)["dialog_drag"]
    assert res["responder"] == 0 and res["status"] == "success", res
    screen = _read_xwd(res["screenshot"])
    assert _find(screen, expected[20:260, 70:430]) is not None, "the dragged preview is not on the screen"


# --------------------------------------------------------------------------------------------- files


@requires_gimp
def test_deep_and_hdr_files_pass_between_gimp_and_the_engine(gimp: Gimp) -> None:
    """What GIMP's *Export* writes for print and HDR work (16-bit and float TIFF with LZW or Deflate,
    half and full float OpenEXR, Radiance HDR) reads as GIMP held it, HDR values included, and what
    ``write_image`` writes (the CLI's outputs, an AVIF and JPEG XL too) loads in GIMP with the same values
    (JPEG XL: in the precision its header names, sRGB's curve or linear light).
    Pillow alone reads a 16-bit colour TIFF as 8 bits and none of the other deep files at all."""
    import imagecodecs
    from test_jpeg_xl import linear_profile, same_colours, space_profile

    from liif_core.imageio import Metadata, read_image, read_image_and_metadata, write_image

    folder = gimp.work / "files"
    folder.mkdir()
    deep = _pixels((6, 7, 4), np.uint16, 31)
    hdr = _pixels((5, 8, 4), np.float32, 32) * 6 - 1  # highlights up to 5, colour below 0
    hdr[..., 3] = _pixels((5, 8), np.float32, 33)
    light = np.abs(hdr[..., :3])  # Radiance holds no colour below 0
    half = hdr.astype(np.float16).astype(np.float32)
    tiff, exr, rgbe, jxl = "file-tiff-export", "file-exr-export", "file-rgbe-export", "file-jpegxl-export"
    made = {"g_u16_lzw.tif": (deep, "U16_NON_LINEAR", tiff, {"compression": "lzw"}),
            "g_u16_deflate.tif": (deep[..., :3], "U16_NON_LINEAR", tiff, {"compression": "adobe_deflate"}),
            "g_float_lzw.tif": (hdr[..., :3], "FLOAT_NON_LINEAR", tiff, {"compression": "lzw"}),
            "g_half.exr": (half, "HALF_LINEAR", exr, {}),
            "g_float.exr": (hdr[..., :3], "FLOAT_LINEAR", exr, {}),
            "g_rgbe.hdr": (light, "FLOAT_LINEAR", rgbe, {}),
            # JPEG XL without loss, as GIMP's exporter writes it (libjxl 0.11): 16 bits, and 8 with alpha
            "g_u16.jxl": (deep[..., :3], "U16_NON_LINEAR", jxl, {"lossless": True, "save-bit-depth": 16}),
            "g_u8_alpha.jxl": (_pixels((6, 7, 4), np.uint8, 35), "U8_NON_LINEAR", jxl, {"lossless": True}),
            # and lossy, GIMP's default (distance 1.0), of a smooth picture (dark, where 8 bits of linear light fail)
            "g_u8_lossy.jxl": (_smooth_dark(), "U8_NON_LINEAR", jxl, {"lossless": False})}
    exports = []
    for name, (array, precision, procedure, options) in made.items():
        raw = folder / f"{name}.raw"
        raw.write_bytes(array.astype(np.float16 if precision.startswith("HALF") else array.dtype).tobytes())
        exports.append({"raw": str(raw), "width": array.shape[1], "height": array.shape[0], "precision": precision,
                        "alpha": array.shape[2] == 4, "procedure": procedure, "options": options,
                        "path": str(folder / name)})
    ours = {"o_u16.tif": (deep, Metadata(), "u16"), "o_u16_rgb.tif": (deep[..., :3], Metadata(), "u16"),
            "o_float.tif": (hdr[..., :3], Metadata(), "float"), "o_half.exr": (half, Metadata(half=True), "half"),
            "o_float.exr": (hdr[..., :3], Metadata(), "float"), "o_rgbe.hdr": (light, Metadata(), "float"),
            "o_rgba.avif": (np.kron(_pixels((4, 4, 4), np.uint8, 34), np.ones((4, 4, 1), np.uint8)), Metadata(), "u8"),
            # JPEG XL without loss: libjxl alone would name these linear light, GIMP would then load them so
            "o_u16.jxl": (deep, Metadata(), "u16-non-linear"), "o_float.jxl": (hdr, Metadata(), "float-non-linear"),
            "o_u16_linear.jxl": (deep[..., :3], Metadata(icc_profile=linear_profile(False)), "u16-linear"),
            # and in the wide colour spaces of photographs: GIMP takes the header's for the image's profile (not
            # Display P3's, below)
            "o_p3.jxl": (deep, Metadata(icc_profile=space_profile("display-p3", False)), "u16-non-linear"),
            "o_adobe_rgb.jxl": (_pixels((6, 7, 3), np.uint8, 36),
                                Metadata(icc_profile=space_profile("adobe-rgb", False)), "u8-non-linear")}
    wide = ("o_adobe_rgb.jxl",)
    for name, (array, metadata, _) in ours.items():
        write_image(folder / name, array, metadata)
    shutil.copy(REPO / "tests" / "data" / "jxl" / "p3.jxl", folder / "cjxl_p3.jxl")  # libjxl's own encoder's P3
    loads = [{"path": str(folder / name), "raw": str(folder / f"{name}.out")} for name in [*ours, "cjxl_p3.jxl"]]
    job = folder / "job.json"
    job.write_text(json.dumps({"out": str(folder), "exports": exports, "loads": loads}))
    batch = f"exec(open({str(BATCH.parent / 'gimp_files.py')!r}).read())"
    code, log = gimp.shell("files", gimp.batch_command(batch), {"LIIF_GIMP_JOB": str(job)})
    results = json.loads((folder / "results.json").read_text()) if (folder / "results.json").is_file() else {}
    assert code == 0 and results, gimp_failed("gimp-console", code, log)
    assert [res.get("status") for res in results["exports"]] == ["success"] * len(exports), results["exports"]

    def same(got: np.ndarray, want: np.ndarray, name: str) -> None:
        """Equal; within the rounding of OpenEXR's premultiplied colour (half or full float), of
        Radiance's 8-bit mantissas beside a shared exponent (1/256 of a pixel's brightest channel), or
        of two AVIF decoders' conversions from YUV."""
        assert got.shape == want.shape, (name, got.shape, want.shape)
        if name.endswith(".hdr"):
            assert np.all(np.abs(got - want) <= want.max(axis=-1, keepdims=True) / 128 + 1e-6), name
        elif name.endswith(".avif"):  # two decoders' YUV to RGB rounding
            assert np.abs(got.astype(int) - want).max() <= 2, name
        elif name.endswith("lossy.jxl"):  # coded lossy (distance 1): close, the shadows' levels kept
            assert got.dtype == want.dtype and np.abs(got.astype(int) - want).mean() < 1.5, name
            assert len(np.unique(got[..., 1])) >= len(np.unique(want[..., 1])) - 2, name
        elif name.endswith(".exr"):
            np.testing.assert_allclose(got, want, rtol=2e-3 if "half" in name else 1e-6, atol=1e-6, err_msg=name)
        else:
            assert got.dtype == want.dtype and np.array_equal(got, want), name

    for name, (array, precision, _, _) in made.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing left out: GIMP's JPEG XL files say sRGB in their header
            got, metadata = read_image_and_metadata(folder / name)
        same(got, array, name)
        assert metadata.half == precision.startswith("HALF"), name
    for (name, (array, metadata, sample)), res in zip(ours.items(), results["loads"]):
        assert "error" not in res, res["error"]
        assert (res["height"], res["width"]) == array.shape[:2] and res["alpha"] >= (array.shape[2] == 4), res
        assert sample in (res["precision"], res["precision"].split("-")[0]), (name, res)  # the whole, or the type
        if name.endswith(".jxl"):  # in the colour space the header names: sRGB and linear sRGB are GIMP's own (by
            # the precision), the others the image's profile
            assert res["profile"] == (name in wide), (name, res)
            if name in wide:
                assert same_colours((folder / f"{name}.out.icc").read_bytes(), metadata.icc_profile, False), name
        dtype = {"u8": np.uint8, "u16": np.uint16, "half": np.float16, "float": np.float32}[sample.split("-")[0]]
        got = np.fromfile(folder / f"{name}.out", dtype=dtype).reshape(*array.shape[:2], 3 + res["alpha"])
        got = got.astype(array.dtype)
        if got.shape[2] > array.shape[2]:  # GIMP's OpenEXR loader gives every image an alpha channel
            assert np.all(got[..., 3] == 1), name
            got = got[..., :3]
        if name.endswith((".hdr", ".avif")):  # what the file holds (rounded to shared exponents; lossy)
            array = read_image(folder / name)
        if name.endswith(".exr") and array.shape[2] == 4:
            # GIMP 3.0's OpenEXR loader keeps the colour premultiplied as the file stores it (its exporter,
            # above, premultiplies; Krita's loader divides, as the OpenEXR format means it)
            array = np.concatenate([array[..., :3] * array[..., 3:], array[..., 3:]], axis=2)
        if name in wide:  # read as sRGB (gimp_files.py asks for sRGB's format): the colours GIMP shows
            shown = imagecodecs.cms_transform(array, metadata.icc_profile, imagecodecs.cms_profile("srgb"),
                                              colorspace="rgb", outcolorspace="rgb")
            assert np.abs(got.astype(int) - shown).max() <= 2, name
            continue
        same(got, array, name)
    # GIMP (3.0.4 and 3.2.6) gives a Display P3 file no profile, one of libjxl's own encoder as ours
    assert results["loads"][-1]["profile"] == results["loads"][list(ours).index("o_p3.jxl")]["profile"]


# --------------------------------------------------------------------------------------------- the README


@requires_gimp
def test_readme_batch_command_works_as_written(gimp: Gimp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch command in plugin/gimp/README.md, copied as it is, upscales photo.png with the default model."""
    from PIL import Image

    readme = (REPO / "plugin" / "gimp" / "README.md").read_text()
    block = readme.split("<!-- batch-example", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    folder = gimp.work / "readme"
    folder.mkdir()
    photo = _pixels((6, 8, 3), np.uint8, 12)
    Image.fromarray(photo).save(folder / "photo.png")
    code, log = gimp.shell("readme", f"cd {shlex.quote(str(folder))}\n{block}")
    assert code == 0, gimp_failed("the README's batch command", code, log)
    with Image.open(folder / "photo_x2.5.png") as result:
        assert result.size == (20, 15)  # 8 x 6 at 2.5
        got = np.asarray(result.convert("RGB"))
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    expected = liif_core.upscale(photo, scale=2.5, model="default", device="cpu")
    assert np.array_equal(got, expected)
