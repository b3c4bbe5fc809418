"""Runs inside a real GIMP 3 (``gimp-console-3.0 --batch-interpreter=python-fu-eval``) for the file
tests of tests/test_gimp.py: do deep and HDR files pass between GIMP and ``liif_core.imageio`` unchanged?

Reads the job file named by ``$LIIF_GIMP_JOB`` (JSON written by the test):

- ``exports``: images built from raw pixel files and exported by one of GIMP's own exporters
  (``file-tiff-export``, ``file-exr-export``, ``file-rgbe-export``) with the options asked for
  (TIFF's ``compression``: ``lzw``, ``adobe_deflate``...), as a user's *File > Export* does;
- ``loads``: files loaded with GIMP's loaders, their pixels dumped raw as GIMP holds them.

Writes ``<out>/results.json``; what a step could not do is recorded there, not raised.
"""

import json
import os
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

JOB = json.load(open(os.environ["LIIF_GIMP_JOB"]))
RGB_TYPES = {False: Gimp.ImageType.RGB_IMAGE, True: Gimp.ImageType.RGBA_IMAGE}


def babl(precision_nick, alpha):
    """The Babl format that holds an image of this precision as stored (no conversion): "u16-non-linear"
    gives "R'G'B'A u16", "float-linear" gives "RGB float"."""
    sample, _, tone = precision_nick.partition("-")
    channels = "RGB" if tone == "linear" else "R'G'B'"
    return f"{channels}{'A' if alpha else ''} {sample}"


def export(spec):
    w, h = spec["width"], spec["height"]
    image = Gimp.Image.new_with_precision(w, h, Gimp.ImageBaseType.RGB, getattr(Gimp.Precision, spec["precision"]))
    layer = Gimp.Layer.new(image, "pixels", w, h, RGB_TYPES[spec["alpha"]], 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    buffer = layer.get_buffer()
    with open(spec["raw"], "rb") as f:
        buffer.set(Gegl.Rectangle.new(0, 0, w, h), babl(image.get_precision().value_nick, spec["alpha"]),
                   f.read())
    buffer.flush()
    proc = Gimp.get_pdb().lookup_procedure(spec["procedure"])
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_property("file", Gio.File.new_for_path(spec["path"]))
    for key, value in spec.get("options", {}).items():
        config.set_property(key, value)
    status = proc.run(config).index(0)
    return {"status": status.value_nick}


def load(spec):
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(spec["path"]))
    layer = image.get_layers()[0]
    w, h = layer.get_width(), layer.get_height()
    precision = image.get_precision().value_nick
    data = layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, babl(precision, layer.has_alpha()),
                                  Gegl.AbyssPolicy.NONE)
    with open(spec["raw"], "wb") as f:
        f.write(bytes(data))
    profile = image.get_color_profile()  # None: GIMP's built-in sRGB (or linear sRGB, by the precision)
    if profile is not None:
        with open(spec["raw"] + ".icc", "wb") as f:
            f.write(bytes(profile.get_icc_profile()))
    return {"width": w, "height": h, "alpha": layer.has_alpha(), "precision": precision,
            "profile": profile is not None}


def main():
    os.makedirs(JOB["out"], exist_ok=True)
    results = {}
    for kind, step in (("exports", export), ("loads", load)):
        results[kind] = []
        for spec in JOB.get(kind, []):
            try:
                results[kind].append(step(spec))
            except Exception:  # recorded for the test to show
                results[kind].append({"error": traceback.format_exc()})
    with open(os.path.join(JOB["out"], "results.json"), "w") as f:
        json.dump(results, f, indent=1)


main()
