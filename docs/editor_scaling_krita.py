"""Runs inside Krita (``kritarunner -s editor_scaling_krita -f main JOB``) for docs/editor_scaling.py.

Reads the job file JOB (JSON: ``methods`` and ``items``, each with an ``lr`` PNG, the ``width`` and
``height`` to scale it to and an ``out`` folder). Every item is opened, scaled with Image > Scale
Image to New Size's code (``Document.scaleImage``) under each of Krita's filters and exported as
PNG to ``<out>/<method>/<name of lr>``, as a user of Krita would enlarge it. A line of
``krita_runs.jsonl`` beside the job says what Krita ran and what failed. kritarunner ignores a script's exit status, so
the script ends the process itself (``os._exit``).
"""

import json
import os
import sys
import time

from krita import InfoObject, Krita


def main(args):
    job_path = args[0]
    job = json.load(open(job_path))
    app = Krita.instance()
    done, failed = 0, []
    started = time.monotonic()
    options = InfoObject()
    options.setProperty("alpha", False)
    options.setProperty("saveSRGBProfile", False)
    for item in job["items"]:
        source = app.openDocument(item["lr"])
        source.setBatchmode(True)
        for method in job["methods"]:
            target = os.path.join(item["out"], method, os.path.basename(item["lr"]))
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                doc = source.clone()
                doc.setBatchmode(True)
                doc.scaleImage(item["width"], item["height"], int(doc.xRes()), int(doc.yRes()), method)
                doc.waitForDone()
                doc.refreshProjection()
                doc.waitForDone()
                if not doc.exportImage(target, options):
                    raise RuntimeError("exportImage returned False")
                doc.close()
                done += 1
            except Exception as exc:  # recorded: the scoring side reports it
                failed.append(f"{target}: {exc}")
        source.close()
    with open(os.path.join(os.path.dirname(job_path), "krita_runs.jsonl"), "a") as f:
        f.write(json.dumps({"editor": f"Krita {app.version()}", "filters": app.filterStrategies(), "done": done,
                            "failed": failed, "seconds": round(time.monotonic() - started, 1)}) + "\n")
    sys.stdout.flush()
    os._exit(0)
