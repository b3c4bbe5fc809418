"""Runs inside GIMP 3 (``gimp-console-3.0 --batch-interpreter=python-fu-eval``) for docs/editor_scaling.py.

Executed with ``exec(open(PATH).read())``; reads the job named by ``$LIIF_SCALING_JOB`` (JSON:
``methods`` and ``items``, each with an ``lr`` PNG, the ``width`` and ``height`` to scale it to and
an ``out`` folder). Every item is opened, scaled with Image > Scale Image's code (``Gimp.Image.scale``)
under each interpolation method and exported as PNG to ``<out>/<method>/<name of lr>``, as a user
of GIMP would enlarge it. A line of ``gimp_runs.jsonl`` in the job's folder says what GIMP ran and what
failed.
"""

import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

JOB_PATH = os.environ["LIIF_SCALING_JOB"]
JOB = json.load(open(JOB_PATH))
done, failed = 0, []
started = time.monotonic()
default = Gimp.context_get_interpolation().value_nick
for item in JOB["items"]:
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(item["lr"]))
    for method in JOB["methods"]:
        target = os.path.join(item["out"], method, os.path.basename(item["lr"]))
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            copy = image.duplicate()
            Gimp.context_set_interpolation(getattr(Gimp.InterpolationType, method.upper()))
            copy.scale(item["width"], item["height"])
            if not Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, copy, Gio.File.new_for_path(target), None):
                raise RuntimeError("file_save returned False")
            copy.delete()
            done += 1
        except Exception as exc:  # recorded: the scoring side reports it
            failed.append(f"{target}: {exc}")
    image.delete()
with open(os.path.join(os.path.dirname(JOB_PATH), "gimp_runs.jsonl"), "a") as f:
    f.write(json.dumps({"editor": f"GIMP {Gimp.version()}", "default_interpolation": default, "done": done,
                        "failed": failed, "seconds": round(time.monotonic() - started, 1)}) + "\n")
