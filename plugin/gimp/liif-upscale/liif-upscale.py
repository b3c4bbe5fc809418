#!/usr/bin/env python3
"""LIIF Upscale for GIMP 3: Filters > Enhance > LIIF Upscale..., procedure ``python-fu-liif-upscale``.

GIMP's Python cannot import torch, so the pixels go to the project's worker process
(``python -m liif_core.worker``, started by ``liif_common.client.WorkerClient`` with the Python
that ``install.py`` recorded). This file registers the procedure (its arguments are also the
dialog's fields) and runs it; beside it:

- ``liif_job.py``: one run: what goes to the worker, progress, and the results into the image;
- ``liif_dialog.py``: the dialog, its Result line and its preview;
- ``liif_pixels.py``: pixels in and out through Gegl buffers, in the drawable's own precision;
- ``liif_plan.py``: the arithmetic (formats, sizes, GIMP's rounding), with no GIMP dependency,
  unit-tested on its own.

Order of work, so that nothing is half done: read the pixels, run the worker, and only when its
result is here touch an image. An error before that point leaves the image as it was; GIMP's
cancel kills this process, and the worker then exits by itself (it watches its parent and stdin).

Installed layout (``install.py``): ``<profile>/plug-ins/liif-upscale/liif-upscale.py`` with the
other modules and the shared client in ``liif_common/`` in the same folder.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
import liif_plan  # noqa: E402
from gi.repository import Gimp, GLib, GObject  # noqa: E402
from liif_common.client import LiifClientError, WorkerCancelled, WorkerClient  # noqa: E402
from liif_dialog import PREVIEW_SIZE, run_dialog  # noqa: E402
from liif_job import Job  # noqa: E402
from liif_plan import PlanError, UserError  # noqa: E402

PROC_NAME = "python-fu-liif-upscale"
MENU_PATH = "<Image>/Filters/Enhance"


# ----------------------------------------------------------------------------- registration


def _choice(*entries: tuple[str, str, str]) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for i, (nick, label, blurb) in enumerate(entries):
        choice.add(nick, i, label, blurb)
    return choice


def define_arguments(procedure: Gimp.Procedure) -> None:
    """The PDB arguments (also the dialog's fields, in this order) and the return value."""
    rw = GObject.ParamFlags.READWRITE
    procedure.add_double_argument(
        "scale", "Sc_ale", "Enlargement factor (at least 1); used when width and height are both 0",
        0.0, 64.0, 2.0, rw)
    procedure.add_int_argument(
        "width", "_Width", "Result width in pixels; 0 = from the scale (or from the height, keeping the aspect)",
        0, liif_plan.MAX_SIDE, 0, rw)
    procedure.add_int_argument(
        "height", "_Height", "Result height in pixels; 0 = from the scale (or from the width, keeping the aspect)",
        0, liif_plan.MAX_SIDE, 0, rw)
    procedure.add_choice_argument(
        "output", "O_utput", "Where the result goes",
        _choice(("layer", "New layer (enlarges the image)",
                 "Scale the image with GIMP's interpolation and add the result above the source layer"),
                ("image", "New image", "Open the result as a new image; the source image is not changed"),
                ("layers", "New image, every layer",
                 "A copy of the whole image, scaled with GIMP's interpolation, in which LIIF redraws every pixel "
                 "layer from its own pixels; the layer stack stays as it was and the source image is not "
                 "changed. Scale, width and height refer to the image; the selection plays no part"),
                ("layers-in-place", "This image, every layer",
                 "This image scaled with GIMP's interpolation, every pixel layer redrawn by LIIF from its own "
                 "pixels, in one undo step (Edit > Undo restores the image as it was). Scale, width and height "
                 "refer to the image; the selection is scaled with it and plays no other part")),
        "layer", rw)
    procedure.add_string_argument(
        "model", "_Model", "'auto': the model made for the file the image came from, or the layer (a layer named "
        "after a file, as Open as Layers names it, goes by that file): for a file saved with lossy compression "
        "(JPEG, HEIC, AVIF, lossy WebP, lossy JPEG XL) the bundled JPEG model, else the default; 'default', "
        "another bundled model's name, or the path of a .safetensors or .pth file", "auto", rw)
    procedure.add_choice_argument(
        "device", "_Device", "Where the model runs",
        _choice(("auto", "Automatic", "A GPU when there is one, else the CPU"),
                ("cpu", "CPU", "The processor"),
                ("cuda", "NVIDIA GPU (CUDA)", "The first CUDA device"),
                ("mps", "Apple GPU (MPS)", "Metal on Apple silicon")),
        "auto", rw)
    procedure.add_int_argument(
        "tile", "_Tile size", "Tile side in input pixels; 0 = automatic from the free memory (lower it if "
        "the GPU runs out of memory)", 0, 8192, 0, rw)
    procedure.add_choice_argument(
        "quality", "_Quality", "Passes of the model over turned and mirrored copies of the image, averaged "
        "(self-ensemble): cleaner edges and text, each pass taking as long as the first",
        _choice(("one-pass", "One pass", "The model once: the fastest"),
                ("two-passes", "2 passes: upright and upside down (2x slower)", "About half of the 8 passes' gain"),
                ("four-passes", "4 passes: every quarter turn (4x slower)", "85-91% of the 8 passes' gain"),
                ("eight-passes", "8 passes: also mirrored, the best (8x slower)",
                 "Measured +0.1-0.2 dB on photographs, +0.6-1.2 dB on UI images")),
        "one-pass", rw)
    procedure.add_boolean_argument(
        "linear-render", "L_inear render: upscale the values as stored", "For an image with linear-light "
        "precision that is a render made in linear light: upscale the stored values, not their perceptual "
        "(sRGB) form, which suits photographs, screenshots and drawings; no effect on other images", False, rw)
    procedure.add_boolean_aux_argument(
        "preview", "_Preview: part of the result at 100%", "Compute only part of the result (up to "
        f"{PREVIEW_SIZE[0]} x {PREVIEW_SIZE[1]} pixels, the middle at first; drag it to look elsewhere) and show "
        "it beside the fields, so it takes seconds; it follows each change", False, rw)
    procedure.add_layer_return_value(
        "layer", "Layer", "The new layer (in the enlarged image, or in the new image)", False, rw)


class LiifUpscale(Gimp.PlugIn):
    """Registers ``python-fu-liif-upscale``."""

    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_query_procedures(self) -> list[str]:
        return [PROC_NAME]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("LIIF _Upscale...")
        procedure.add_menu_path(MENU_PATH)
        procedure.set_documentation(
            "Enlarge a layer to any size with LIIF (AI upscaling)",
            "Upscales the selected layer (or the selection's bounding box, whose mask becomes the result's "
            "alpha) to any size with a Local Implicit Image Function model, keeping the layer's precision and "
            "transparency. Output 'layer' scales the image with GIMP's interpolation and puts the result above "
            "the source layer; output 'image' opens a new image; output 'layers' opens a copy of the whole "
            "image in which every pixel layer is redrawn; output 'layers-in-place' does that to the image itself, "
            "in one undo step. Needs the LIIF Upscale worker set up by install.py.",
            name)
        procedure.set_attribution("LIIF Upscale contributors", "LIIF Upscale contributors", "2026")
        define_arguments(procedure)
        return procedure


# ----------------------------------------------------------------------------- entry point


def failure(procedure: Gimp.Procedure, status: Gimp.PDBStatusType, message: str) -> Gimp.ValueArray:
    return procedure.new_return_values(status, GLib.Error(message))


def run(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, image: Gimp.Image, drawables: list[Gimp.Drawable],
        config: Gimp.ProcedureConfig, data: Any) -> Gimp.ValueArray:
    """The procedure: validate, ask (interactive only), upscale, place; errors become a PDB error status."""
    try:
        job = Job(image, list(drawables), config)
        with WorkerClient() as client:  # started by the first request: the preview's, or the job's
            if run_mode == Gimp.RunMode.INTERACTIVE:
                if not run_dialog(procedure, config, job, client):
                    return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
                job.reread()
            try:
                job.size()
            except PlanError as exc:
                return failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, f"LIIF Upscale: {exc}")
            layer = job.run(client)
        if run_mode != Gimp.RunMode.NONINTERACTIVE and layer.get_image().get_id() != image.get_id():
            Gimp.Display.new(layer.get_image())  # also for Filters > Repeat (the last values, no dialog)
        Gimp.displays_flush()
    except WorkerCancelled:
        return failure(procedure, Gimp.PDBStatusType.CANCEL, "LIIF Upscale was cancelled.")
    except (UserError, PlanError, LiifClientError) as exc:
        return failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, f"LIIF Upscale: {exc}")
    except Exception:  # noqa: BLE001  (a bug: report it rather than crash the plug-in)
        return failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR,
                       "LIIF Upscale failed unexpectedly; please report this:\n" + traceback.format_exc())
    values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    values.remove(1)
    values.insert(1, GObject.Value(Gimp.Layer, layer))
    return values


if __name__ == "__main__":
    Gimp.main(LiifUpscale.__gtype__, sys.argv)
