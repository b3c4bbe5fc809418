"""Runs inside a real Krita (``kritarunner -s krita_flatpak_job -f main SPEC``) for tests/test_flatpak.py.

Standard library only (Krita's Python has nothing else). SPEC (JSON) names raw RGBA 8-bit pixels, their
size, the scale and the model; this builds a document from them, calls ``liif_upscale.upscale_node``
(the installed plug-in, ``output="document"``) as a user's script would, and writes the new document's
pixels and size beside SPEC as ``result.raw`` and ``result.json`` (or the error it raised). kritarunner
always exits 0, so the status is set with ``os._exit``.
"""

import json
import os
import sys
import traceback
from pathlib import Path


def main(args):
    code = 1
    try:
        spec_path = Path(args[0])
        spec = json.loads(spec_path.read_text())
        result = {}
        import liif_upscale
        from krita import Krita
        from liif_upscale.api import explain

        width, height = spec["width"], spec["height"]
        doc = Krita.instance().createDocument(width, height, "flatpak", "RGBA", "U8", "", 72.0)
        doc.setBatchmode(True)
        node = doc.createNode("Icon", "paintlayer")
        doc.rootNode().addChildNode(node, None)
        node.setPixelData(Path(spec["pixels"]).read_bytes(), 0, 0, width, height)
        doc.waitForDone()
        try:
            new = liif_upscale.upscale_node(doc, node, scale=spec["scale"], output="document", model=spec["model"],
                                            device="cpu")
            layer = new.topLevelNodes()[-1]
            (spec_path.parent / "result.raw").write_bytes(bytes(layer.pixelData(0, 0, new.width(), new.height())))
            result.update(width=new.width(), height=new.height(), layer=layer.name())
            new.close()
        except Exception as exc:  # noqa: BLE001  (the test reads what the user would be told)
            result.update(error=type(exc).__name__, message=explain(exc))
        doc.close()
        (spec_path.parent / "result.json").write_text(json.dumps(result))
        code = 0
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
