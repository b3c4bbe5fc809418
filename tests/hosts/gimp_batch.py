"""Runs inside a real GIMP 3 (``gimp-console-3.0 --batch-interpreter=python-fu-eval``) for tests/test_gimp.py.

It is executed with ``exec(open(PATH).read())`` by GIMP's ``python-fu-eval``; it reads the job
file named by ``$LIIF_GIMP_JOB`` (JSON written by the test), and for each case builds an image
from raw pixel files, optionally selects, calls ``python-fu-liif-upscale`` through the PDB
exactly as a user's script would, and records what came back (status, message, image and layer
geometry, the result's pixels as a raw file, checksums of the source before and after) in
``<out>/results.json``. The test on the host compares the pixels with ``liif_core.upscale``.

No assertions here: a case that fails is recorded and the next one runs, so one GIMP start
serves every case; so is an exception in a case (``harness_error``). Only a broken harness
outside the cases raises (GIMP then exits with status 64).
"""

import contextlib
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

PROC = "python-fu-liif-upscale"
JOB = json.load(open(os.environ["LIIF_GIMP_JOB"]))
sys.path.insert(0, os.path.join(JOB["plugin_dir"]))
import liif_plan  # noqa: E402  (the plug-in's own format table: the dump uses the plug-in's formats)


def fmt_of(drawable, linear_render=False):
    precision = drawable.get_image().get_precision().value_nick
    return liif_plan.pixel_format(drawable.is_gray(), drawable.has_alpha(), precision, linear_render)


def read_all(drawable, fmt=None):
    fmt = fmt or fmt_of(drawable).babl
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return bytes(drawable.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.NONE))


def tree(image, out_dir=None, stem=""):
    """Every layer, depth first, with its properties; with ``out_dir``, each layer's pixels in a file (a
    group's: what GIMP composited from its children)."""
    def walk(layers):
        found = []
        for layer in layers:
            _, x, y = layer.get_offsets()
            entry = {"name": layer.get_name(), "x": x, "y": y, "width": layer.get_width(),
                     "height": layer.get_height(), "visible": layer.get_visible(),
                     "opacity": round(layer.get_opacity(), 3), "mode": layer.get_mode().value_nick}
            if layer.is_text_layer():
                size, _unit = layer.get_font_size()
                entry.update(text=layer.get_text(), font_size=round(size, 3))
            if hasattr(layer, "is_rasterized"):  # GIMP 3.2: a text, vector or link layer, and whether rasterized
                entry.update(kind="vector" if layer.is_vector_layer() else "link" if layer.is_link_layer()
                             else "text", rasterized=layer.is_rasterized())
            if layer.is_group_layer():
                entry["children"] = walk(layer.get_children())
            if out_dir:
                entry["file"] = os.path.join(out_dir, f"{stem}.{layer.get_name()}.out")
                with open(entry["file"], "wb") as f:
                    f.write(read_all(layer))
            found.append(entry)
        return found
    return walk(image.get_layers())


def geometry(image):
    layers = []
    for layer in image.get_layers():
        _, x, y = layer.get_offsets()
        layers.append({"name": layer.get_name(), "x": x, "y": y, "width": layer.get_width(),
                       "height": layer.get_height(), "alpha": layer.has_alpha()})
    return {"width": image.get_width(), "height": image.get_height(), "layers": layers,
            "precision": image.get_precision().value_nick}


def linear_render(case):
    """Whether the case's pixels are the stored values of a linear image (written and read as such)."""
    return case["args"].get("linear-render", False)


def opened_as_layers(image, paths):
    """``image`` with each file of ``paths`` on top, as GIMP's File > Open as Layers brings it in (its
    procedure, which names the layer after the file), once: a later case finds the layer there."""
    for path in paths:
        if os.path.basename(path) not in [layer.get_name() for layer in image.get_layers()]:
            layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(path))
            image.insert_layer(layer, None, 0)
    return image


def build(case):
    spec = case["image"]
    if spec.get("opened"):  # an image GIMP opened from its command line (a script's file_load records no file)
        deadline = time.time() + 60
        while time.time() < deadline:
            found = [i for i in Gimp.get_images() if spec["opened"] in
                     (f.get_path() for f in (i.get_imported_file(), i.get_file()) if f is not None)]
            if found:
                return opened_as_layers(found[0], spec.get("layers_from", []))
            time.sleep(0.2)
        raise RuntimeError(f"GIMP has not opened {spec['opened']}")
    base = Gimp.ImageBaseType.GRAY if spec["base"] == "gray" else Gimp.ImageBaseType.RGB
    precision = getattr(Gimp.Precision, spec["precision"])
    image = Gimp.Image.new_with_precision(spec["width"], spec["height"], base, precision)
    groups = {}
    for layer_spec in reversed(case["layers"]):  # listed top first; a group right above its layers
        if layer_spec.get("kind") == "group":
            group = groups.get(layer_spec["name"])
            if group is None:
                group = groups[layer_spec["name"]] = Gimp.GroupLayer.new(image, layer_spec["name"])
                image.insert_layer(group, None, 0)
            group.set_opacity(layer_spec.get("opacity", 100.0))
            group.set_mode(getattr(Gimp.LayerMode, layer_spec.get("mode", "NORMAL")))
            continue
        if layer_spec.get("kind") == "vector":  # GIMP 3.2: a rectangle path filled (the vector layer's default)
            path = Gimp.Path.new(image, layer_spec["name"])
            image.insert_path(path, None, 0)
            x0, y0, x1, y1 = layer_spec["box"]
            corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
            path.stroke_new_from_points(Gimp.PathStrokeType.BEZIER, [v for c in corners for v in c * 3], True)
            vector = Gimp.VectorLayer.new(image, path)
            vector.set_name(layer_spec["name"])
            image.insert_layer(vector, None, 0)
            vector.refresh()
            continue
        if layer_spec.get("kind") == "link":  # GIMP 3.2: a layer showing an image file, drawn from it
            link = Gimp.LinkLayer.new(image, Gio.File.new_for_path(layer_spec["link"]))
            link.set_name(layer_spec["name"])
            image.insert_layer(link, None, 0)
            link.set_offsets(layer_spec["x"], layer_spec["y"])
            continue
        if layer_spec.get("kind") == "text":  # an editable text layer: the plug-in leaves it to GIMP
            font = Gimp.Font.get_by_name(layer_spec["font"]) or Gimp.context_get_font()
            text = Gimp.TextLayer.new(image, layer_spec["text"], font, layer_spec["size"], Gimp.Unit.pixel())
            image.insert_layer(text, None, 0)
            text.set_offsets(layer_spec["x"], layer_spec["y"])
            continue
        parent = None
        if layer_spec.get("parent"):
            parent = groups.get(layer_spec["parent"])
            if parent is None:
                parent = groups[layer_spec["parent"]] = Gimp.GroupLayer.new(image, layer_spec["parent"])
                image.insert_layer(parent, None, 0)
        gray, alpha = spec["base"] == "gray", layer_spec["alpha"]
        kind = {(False, False): Gimp.ImageType.RGB_IMAGE, (False, True): Gimp.ImageType.RGBA_IMAGE,
                (True, False): Gimp.ImageType.GRAY_IMAGE, (True, True): Gimp.ImageType.GRAYA_IMAGE}[(gray, alpha)]
        w, h = layer_spec["width"], layer_spec["height"]
        layer = Gimp.Layer.new(image, layer_spec["name"], w, h, kind, layer_spec.get("opacity", 100.0),
                               getattr(Gimp.LayerMode, layer_spec.get("mode", "NORMAL")))
        image.insert_layer(layer, parent, 0)
        layer.set_offsets(layer_spec["x"], layer_spec["y"])
        layer.set_visible(layer_spec.get("visible", True))
        buffer = layer.get_buffer()
        with open(layer_spec["file"], "rb") as f:
            buffer.set(Gegl.Rectangle.new(0, 0, w, h), fmt_of(layer, linear_render(case)).babl, f.read())
        buffer.flush()
        if layer_spec.get("mask"):  # a layer mask: its values (one byte a pixel) from a file
            mask = layer.create_mask(Gimp.AddMaskType.WHITE)
            layer.add_mask(mask)
            with open(layer_spec["mask"], "rb") as f:
                mask.get_buffer().set(Gegl.Rectangle.new(0, 0, w, h), "Y u8", f.read())
            layer.set_apply_mask(layer_spec.get("apply_mask", True))
        layer.set_lock_content(layer_spec.get("lock_content", False))  # after its pixels: a lock refuses writes
    select = case.get("select")
    if select:
        Gimp.context_set_antialias(True)
        op = Gimp.ChannelOps.REPLACE
        if select["shape"] == "ellipse":
            image.select_ellipse(op, select["x"], select["y"], select["w"], select["h"])
        else:
            image.select_rectangle(op, select["x"], select["y"], select["w"], select["h"])
    image.clean_all()
    return image


def digest(image, source):
    return {"geometry": geometry(image), "pixels": hashlib.sha256(read_all(source)).hexdigest(),
            "selection": hashlib.sha256(read_all(image.get_selection(), "Y u8")).hexdigest(),
            "dirty": image.is_dirty()}


@contextlib.contextmanager
def worker_config(replacement):
    """With ``replacement``, the worker configuration written by install.py is swapped for it during the call."""
    if not replacement:
        yield
        return
    path = os.path.join(os.environ["XDG_CONFIG_HOME"], "liif-upscale", "config.json")
    with open(path) as f:
        saved = f.read()
    with open(path, "w") as f:
        json.dump(replacement, f)
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(saved)


def find_window(name, tries):
    """Shell lines that set W to the first visible window whose name matches ``name`` (a regular
    expression), trying every half second, or exit with status 3. One search at a time, retried: a
    window that closes during a search (GIMP's splash) makes xdotool stop with an X error
    (BadWindow), which --sync would not survive."""
    return f"""
        W=""
        for i in $(seq {tries}); do
            W=$(xdotool search --onlyvisible --name '{name}' 2>/dev/null | head -1)
            [ -n "$W" ] && break
            sleep 0.5
        done
        [ -n "$W" ] || exit 3
    """


def answer_dialog(interactive, stem):
    """In the GUI (Xvfb): wait for the plug-in's dialog, press the case's keys, type its text and
    make its mouse drag (if any), wait, read the dialog's labels (``labels``: tests/hosts/dialog_labels.py);
    for each step of ``then``, press its keys, type its text and read the labels again; take a screenshot
    (of the screen, and of the dialog's window alone),
    press a key (Return: OK; Escape: Cancel; or the case's ``answer``, such as Alt+O for OK when the focus
    is on a field that takes Return itself)."""
    key = interactive.get("answer") or {"ok": "Return", "cancel": "Escape"}[interactive["respond"]]
    keys = " ".join(interactive.get("keys", []))
    press = f'xdotool key --clearmodifiers {keys}' if keys else "true"
    if interactive.get("type"):  # then text typed into the focused field
        press += f"; xdotool type --clearmodifiers -- {shlex.quote(interactive['type'])}"
    drag = "true"
    if interactive.get("drag"):  # [x0, y0, x1, y1] on the screen: press, move, release
        x0, y0, x1, y1 = interactive["drag"]
        drag = (f"xdotool mousemove --sync {x0} {y0} mousedown 1 mousemove --sync {(x0 + x1) // 2} {(y0 + y1) // 2} "
                f"mousemove --sync {x1} {y1} mouseup 1")

    def read_labels(until, suffix):
        """Shell line: the dialog's labels into ``stem + suffix``, once one matches ``until["until"]``."""
        return (f"python3 {shlex.quote(JOB['labels_script'])} --until {shlex.quote(until['until'])} "
                f"--timeout {until['timeout']} > '{stem}{suffix}'")

    labels = "true"
    if "labels" in interactive:  # the dialog's text, and the speed the worker knew meanwhile (its estimates')
        labels = (read_labels(interactive["labels"], ".labels.json")
                  + f"; cp \"$XDG_CACHE_HOME/liif-upscale/speed.json\" '{stem}.speed.json' || true")
    then = "true"
    for i, step in enumerate(interactive.get("then", [])):  # once the labels were read: more keys, and the labels
        then += f"; xdotool key --clearmodifiers {' '.join(step['keys'])}"  # again (``.then<i>.json``)
        if step.get("type"):
            then += f"; xdotool type --clearmodifiers -- {shlex.quote(step['type'])}"
        then += "; " + read_labels(step["labels"], f".then{i}.json")
    script = find_window("^LIIF Upscale$", 240) + f"""
        sleep 2
        xdotool windowfocus --sync "$W" || true
        {press}
        sleep {interactive.get("before_drag", 0)}
        {drag}
        sleep {interactive.get("wait", 0)}
        {labels}
        {then}
        xwd -root -silent -out '{stem}.xwd'
        xwd -id "$W" -silent -out '{stem}.dialog.xwd' || true
        xdotool windowfocus --sync "$W" || true
        xdotool key --clearmodifiers {key}
    """
    return subprocess.Popen(["/bin/sh", "-c", script])


def undo_and_redo(image, out_dir, stem, sizes):
    """In the GUI (Xvfb): show ``image``, press Ctrl+Z in its window, then Ctrl+Y; after each, wait until
    the image has the expected size (``sizes``: after the undo, after the redo) and dump its layers."""
    display = Gimp.Display.new(image)
    Gimp.displays_flush()
    dumps = {}
    for step, key, size in (("undone", "ctrl+z", sizes[0]), ("redone", "ctrl+y", sizes[1])):
        script = find_window("Untitled", 60) + f"""
            xdotool windowfocus --sync "$W" || true
            sleep 0.5
            xdotool key --clearmodifiers {key}
        """
        found = subprocess.run(["/bin/sh", "-c", script], timeout=60).returncode
        deadline = time.time() + 30
        while [image.get_width(), image.get_height()] != list(size) and time.time() < deadline:
            time.sleep(0.2)
        dumps[step] = {"window": found, "size": [image.get_width(), image.get_height()],
                       "tree": tree(image, out_dir, f"{stem}.{step}")}
    display.delete()
    return dumps


def displays():
    """The ids of GIMP's open image windows (libgimp lists images, not displays: ids are probed)."""
    return {i for i in range(1, 200) if Gimp.Display.id_is_valid(i)}


def run_case(case, proc, out_dir):
    res = {"name": case["name"]}
    image = build(case)
    source = image.get_layers()[case.get("source", 0)]
    # what the procedure is given: the layer, or its mask (as when the user edits the mask)
    drawable = source.get_mask() if case.get("source_mask") else source
    _, x, y, w, h = source.mask_intersect()
    res["region"] = [x, y, w, h]
    res["files"] = {kind: (f.get_path() if f is not None else None)
                    for kind, f in (("imported", image.get_imported_file()), ("file", image.get_file()))}
    if case.get("select"):
        res["selection_file"] = os.path.join(out_dir, case["name"] + ".mask")
        with open(res["selection_file"], "wb") as f:
            f.write(read_all(image.get_selection(), "Y u8"))
    res["before"] = digest(image, source)
    res["tree_before"] = tree(image, out_dir, case["name"] + ".before")
    images_before, displays_before = {i.get_id() for i in Gimp.get_images()}, displays()
    cfg = proc.create_config()
    interactive = case.get("interactive")
    # "last": as Filters > Repeat runs it, with the values of the last interactive run and no dialog
    mode = (Gimp.RunMode.INTERACTIVE if interactive else
            Gimp.RunMode.WITH_LAST_VALS if case.get("run_mode") == "last" else Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("run-mode", mode)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [drawable])
    for key, value in case["args"].items():
        cfg.set_property(key, value)
    if case.get("marker"):  # tells the test on the host that this case's call starts now
        open(os.path.join(out_dir, case["name"] + ".started"), "w").close()
    responder = answer_dialog(interactive, os.path.join(out_dir, case["name"])) if interactive else None
    t0 = time.time()
    with worker_config(case.get("config")):
        rv = proc.run(cfg)
    res["seconds"] = round(time.time() - t0, 2)
    if responder is not None:
        try:  # the dialog's keys are pressed by now, unless it closed early (such as the plug-in crashing)
            res["responder"] = responder.wait(30)
        except subprocess.TimeoutExpired:  # then its waits for the dialog run out: recorded, not raised
            responder.kill()
            res["responder"] = "still waiting for the dialog 30 s after the run ended"
        xwd = os.path.join(out_dir, case["name"] + ".xwd")  # read on the host: GIMP's loader squeezes Xvfb's
        res["screenshot"] = xwd if os.path.exists(xwd) else None
        xwd = os.path.join(out_dir, case["name"] + ".dialog.xwd")  # the dialog's window alone
        res["dialog_screenshot"] = xwd if os.path.exists(xwd) else None

        def read(suffix):
            path = os.path.join(out_dir, case["name"] + suffix)
            return json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else None

        res["labels"], res["speed"] = read(".labels.json"), read(".speed.json")
        res["then"] = [read(f".then{i}.json") for i in range(len(case["interactive"].get("then", [])))]
    status = rv.index(0)
    res["status"] = status.value_nick
    res["message"] = ""
    if status != Gimp.PDBStatusType.SUCCESS:
        error = rv.index(1) if rv.length() > 1 else None
        res["message"] = getattr(error, "message", None) or str(error)
    else:
        layer = rv.index(1)
        target = layer.get_image()
        _, lx, ly = layer.get_offsets()
        res["result"] = {"name": layer.get_name(), "x": lx, "y": ly, "width": layer.get_width(),
                         "height": layer.get_height(), "alpha": layer.has_alpha(), "gray": layer.is_gray(),
                         "new_image": target.get_id() != image.get_id(), "geometry": geometry(target),
                         "selected": [i.get_name() for i in target.get_selected_layers()],
                         "file": os.path.join(out_dir, case["name"] + ".out"), "dirty": target.is_dirty(),
                         "file_name": target.get_file().get_path() if target.get_file() else None}
        if case["args"].get("output") in ("layers", "layers-in-place"):
            res["result"]["tree"] = tree(target, out_dir, case["name"])
        if case.get("reload"):  # saved as XCF and opened again: what of the result GIMP keeps
            saved = Gio.File.new_for_path(os.path.join(out_dir, case["name"] + ".xcf"))
            Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, target, saved, None)
            again = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, saved)
            res["result"]["tree_reloaded"] = tree(again, out_dir, case["name"] + ".reloaded")
            again.delete()
        *_, found, x0, y0, x1, y1 = Gimp.Selection.bounds(target)  # (success,) non-empty, box
        res["result"]["selection_bounds"] = [x0, y0, x1, y1] if found else None
        res["result"]["selection"] = hashlib.sha256(read_all(target.get_selection(), "Y u8")).hexdigest()
        with open(res["result"]["file"], "wb") as f:
            f.write(read_all(layer, fmt_of(layer, linear_render(case)).babl))
        opened = displays() - displays_before  # the windows the run opened, closed here with their images
        res["result"]["displays"] = len(opened)
        for display in opened:
            Gimp.Display.get_by_id(display).delete()
        if target.get_id() != image.get_id() and target.is_valid():
            target.delete()
    res["after"] = digest(image, source)
    res["tree_after"] = tree(image, out_dir, case["name"] + ".after")
    if case.get("undo") and status == Gimp.PDBStatusType.SUCCESS:
        sizes = ([case["image"]["width"], case["image"]["height"]], res["after"]["geometry"]["width"],
                 res["after"]["geometry"]["height"])
        res["undo"] = undo_and_redo(image, out_dir, case["name"], (sizes[0], sizes[1:]))
    res["new_images"] = len({i.get_id() for i in Gimp.get_images()} - images_before - {image.get_id()})
    image.delete()
    return res


def main():
    out_dir = JOB["out"]
    os.makedirs(out_dir, exist_ok=True)
    proc = Gimp.get_pdb().lookup_procedure(PROC)
    results = {"registered": proc is not None, "cases": []}
    if proc is not None:
        results["menu_paths"] = list(proc.get_menu_paths())
        results["menu_label"] = proc.get_menu_label()
        results["image_types"] = proc.get_image_types()
        results["arguments"] = [spec.name for spec in proc.get_arguments()]
        results["return_values"] = [spec.name for spec in proc.get_return_values()]
        # where dialogs' labels are read: a screen reader's client held for the whole run, from before the
        # first dialog until after the last (dialog_labels.py --hold says why)
        reads = any("labels" in (case.get("interactive") or {}) for case in JOB["cases"])
        holder = subprocess.Popen(["python3", JOB["labels_script"], "--hold"]) if reads else None
        for case in JOB["cases"]:
            try:
                results["cases"].append(run_case(case, proc, out_dir))
            except Exception:  # a broken case: recorded (the test shows it), and the next case runs
                results["cases"].append({"name": case["name"], "harness_error": traceback.format_exc()})
        if holder is not None:
            time.sleep(1)  # the last key's events handled first
            holder.terminate()
            holder.wait()
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


main()
