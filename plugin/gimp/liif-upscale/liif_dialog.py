"""The LIIF Upscale dialog in GIMP: the procedure's fields, the Result line (the size, and the time
the worker expects), and a preview of part of the result at 100% that can be dragged. The worker
answers in threads, so the dialog stays responsive; GIMP's calls stay in the main thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
import liif_plan  # noqa: E402
from gi.repository import Gimp, GLib, GObject  # noqa: E402
from liif_common.client import WorkerCancelled, WorkerClient  # noqa: E402
from liif_common.model_choice import model_note, other_models  # noqa: E402
from liif_common.preview import dragged_centre, preview_window  # noqa: E402
from liif_common.time_left import format_seconds  # noqa: E402
from liif_job import Job, job_seconds  # noqa: E402
from liif_pixels import checked, display_rgba, pixel_layers  # noqa: E402
from liif_plan import PixelFormat, PlanError, UserError  # noqa: E402

PREVIEW_SIZE = (360, 240)  # the dialog's preview, in result pixels (shown at 100%)
PREVIEW_DELAY_MS = 400  # after the last change, so typing a size does not start a job per key


class WorkerRequest:
    """Something the dialog asks the worker a moment after the last change (so typing a size does not
    send a request per key), in a thread so that the dialog stays responsive: :meth:`start` in the
    subclass. A newer change cancels the running request and drops its answer."""

    def __init__(self) -> None:
        self.generation = 0  # bumped by every change: answers to older requests are dropped
        self.timer: int | None = None

    def stop(self) -> None:
        """No request pending, a running one cancelled."""
        self.generation += 1
        if self.timer is not None:
            GLib.source_remove(self.timer)
            self.timer = None

    def later(self) -> None:
        """Make the request after the delay, unless another change comes first."""
        self.stop()
        self.timer = GLib.timeout_add(PREVIEW_DELAY_MS, self.start)

    def start(self) -> bool:
        raise NotImplementedError


class Preview(WorkerRequest):
    """The dialog's view of part of the result at 100% (the middle at first; a drag moves it): the
    worker computes only that window (the same pixels as in the full result), in a thread, so the
    dialog stays responsive; a newer request cancels the running one."""

    def __init__(self, job: Job, client: WorkerClient, frame: Any, picture: Any, status: Any):
        super().__init__()
        self.job, self.client, self.frame, self.picture, self.status = job, client, frame, picture, status
        self.centre = (0.5, 0.5)  # of the window, in fractions of the result's width and height
        self.window: tuple[int, int, int, int] | None = None  # the last one asked for
        self.result_size = (0, 0)
        self.pressed: tuple[float, float] | None = None
        frame.connect("button-press-event", self.press)
        frame.connect("button-release-event", self.release)

    def press(self, _widget: Any, event: Any) -> bool:
        self.pressed = (event.x_root, event.y_root)
        return True

    def release(self, _widget: Any, event: Any) -> bool:
        """A drag moves the window over the result by as many pixels, then computes it."""
        if self.pressed is None or self.window is None:
            return True
        dx, dy = event.x_root - self.pressed[0], event.y_root - self.pressed[1]
        self.pressed = None
        if dx or dy:
            self.centre = dragged_centre(self.window, *self.result_size, dx, dy)
            self.generation += 1
            self.start()
        return True

    def changed(self) -> None:
        """The fields changed: compute again a moment after the last change (or hide the preview)."""
        shown = bool(self.job.config.get_property("preview"))
        side = self.frame.get_parent()  # the preview's column, beside the fields
        width = side.get_allocated_width() if self.frame.get_visible() and side is not None else 1
        self.frame.set_visible(shown)
        self.status.set_visible(shown)
        if shown:
            self.later()
        else:
            self.stop()
        if not shown and width > 1:  # was on the screen: a window keeps its size when a part goes
            GLib.idle_add(self.narrower, width + side.get_parent().get_spacing())

    def narrower(self, by: int) -> bool:
        """Give back the preview column's width ``by`` (the fields keep theirs; the height follows them)."""
        window = self.frame.get_toplevel()
        width, _height = window.get_size()
        window.resize(max(1, width - by), 1)
        return False

    def start(self) -> bool:
        """Read what the request needs here (GIMP's calls belong to this thread), then ask the worker."""
        self.timer = None
        job, generation = self.job, self.generation
        try:
            (ow, oh), _ = job.target()
            data, fmt, options = job.source(), job.fmt, job.options()
        except (PlanError, UserError) as exc:
            self.status.set_text(f"No preview: {exc}")
            return False
        window = preview_window(ow, oh, PREVIEW_SIZE, self.centre)
        self.window, self.result_size = window, (ow, oh)
        self.status.set_text("Computing the preview...")
        _, _, w, h = job.rect

        def compute() -> None:
            t0 = time.monotonic()
            try:
                result, shape, dtype = self.client.upscale(
                    data, (h, w, fmt.channels), fmt.dtype, size=(ow, oh), region=window,
                    cancel=lambda: generation != self.generation, **options)
                result = checked(result, shape, dtype, fmt, (window[3], window[2]))  # no GIMP calls here
                GLib.idle_add(self.show, generation, result, fmt, window, time.monotonic() - t0)
            except WorkerCancelled:
                pass
            except Exception as exc:  # noqa: BLE001  (shown under the preview)
                GLib.idle_add(self.failed, generation, exc)

        threading.Thread(target=compute, name="liif-upscale-preview", daemon=True).start()
        return False

    def show(self, generation: int, result: bytes, fmt: PixelFormat, window: tuple[int, int, int, int],
             seconds: float) -> bool:
        """Show a computed window (main loop), unless a newer request superseded it."""
        if generation == self.generation:
            gi.require_version("GdkPixbuf", "2.0")
            from gi.repository import GdkPixbuf

            x, y, w, h = window
            rgba = display_rgba(liif_plan.from_little_endian(result, fmt.itemsize), fmt, w, h)
            self.picture.set_from_pixbuf(GdkPixbuf.Pixbuf.new_from_bytes(
                GLib.Bytes.new(rgba), GdkPixbuf.Colorspace.RGB, True, 8, w, h, 4 * w))
            self.status.set_text(f"{w} x {h} pixels of the result at 100%, from x {x}, y {y} ({seconds:.1f} s). "
                                 "Drag it to look elsewhere.")
        return False

    def failed(self, generation: int, exc: Exception) -> bool:
        """Say under the preview why there is none (main loop)."""
        if generation == self.generation:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.status.set_text(f"No preview: {first}")
        return False


class Estimate(WorkerRequest):
    """The time the job as chosen will take, for the dialog's Result line: the worker's estimate from
    the job's pixels, asked in a thread a moment after the last change (a newer change cancels it);
    none before a job measured the speed of the chosen device."""

    def __init__(self, job: Job, client: WorkerClient, show: Callable[[], None]):
        super().__init__()
        self.job, self.client, self.show = job, client, show  # show(): redraw the Result line
        self.seconds: float | None = None  # for the choices as they are

    def changed(self) -> None:
        self.seconds = None
        self.later()

    def start(self) -> bool:
        """Read what the request needs here (GIMP's calls belong to this thread), then ask the worker."""
        self.timer = None
        generation = self.generation
        try:
            pieces, _, _ = self.job.pieces()
            options = self.job.options()
        except (PlanError, UserError):  # the Result line says why
            return False

        def compute() -> None:
            try:
                seconds = job_seconds(self.client, pieces, options, lambda: generation != self.generation)
            except Exception:  # noqa: BLE001  (cancelled, or a worker error that OK reports): no time shown
                return
            if seconds is not None:
                GLib.idle_add(self.arrived, generation, seconds)

        threading.Thread(target=compute, name="liif-upscale-estimate", daemon=True).start()
        return False

    def arrived(self, generation: int, seconds: float) -> bool:
        """Show an answer (main loop), unless a newer change superseded it."""
        if generation == self.generation:
            self.seconds = seconds
            self.show()
        return False


class LinkNote:
    """The note under the Model field: markup whose links choose a model. GTK 3 keeps an accessible object
    for each link of a label, which screen readers hold on to; new markup on that label frees the links
    under them (GIMP 3.0 then logs Atk-CRITICALs about dead objects and, seen once in a test that reads the
    dialog over AT-SPI, the plug-in crashed). So each text gets a label of its own, made once and from
    then on only shown or hidden: a label's links are never replaced. The texts are few (the note goes by
    the model's kind and the image's file, not by each letter typed)."""

    def __init__(self, box: Any, activate: Callable[[Any, str], bool]):
        self.box, self.activate = box, activate  # activate(label, target): the "activate-link" handler
        self.labels: dict[str, Any] = {}
        self.markup: str | None = None  # shown now

    def show(self, markup: str) -> None:
        if markup == self.markup:
            return
        label = self.labels.get(markup)
        if label is None:
            from gi.repository import Gtk

            label = Gtk.Label(xalign=0.0)
            label.set_line_wrap(True)
            label.set_no_show_all(True)  # the dialog's show_all leaves the others hidden
            label.set_track_visited_links(False)  # a link chooses a model: nothing is visited
            label.set_markup(markup)
            label.connect("activate-link", self.activate)
            self.box.pack_start(label, False, False, 0)
            self.labels[markup] = label
        focused = any(other.has_focus() for other in self.labels.values())  # a link followed with the keyboard
        for other in self.labels.values():
            other.set_visible(other is label)
        if focused:  # the keyboard stays in the note (on its first link), not back at the dialog's start
            label.grab_focus()
        self.markup = markup


def run_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, job: Job, client: WorkerClient) -> bool:
    """The procedure dialog (fields from the arguments, the resulting size, the preview); True on OK."""
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk, GimpUi, Gtk

    GimpUi.init(procedure.get_name())
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "LIIF Upscale")
    label = dialog.get_label("result-size", "", False, False)
    picture, status, frame = Gtk.Image(), Gtk.Label(xalign=0.0), Gtk.EventBox()
    frame.add(picture)
    frame.add_events(Gdk.EventMask.BUTTON_PRESS_MASK | Gdk.EventMask.BUTTON_RELEASE_MASK)
    frame.set_size_request(*PREVIEW_SIZE)
    status.set_line_wrap(True)
    preview = Preview(job, client, frame, picture, status)

    def show_size(*_args: Any) -> None:
        try:
            text = f"Result: {job.summary()}"
        except (PlanError, UserError) as exc:
            text = str(exc)
        else:
            if estimate.seconds is not None:
                text += f"; {format_seconds(estimate.seconds)}"
        label.set_text(text)

    estimate = Estimate(job, client, show_size)

    def choose_model(_label: Any, name: str) -> bool:
        """The suggested model's name is a link: activated (a click, or Enter on it), it is chosen."""
        config.set_property("model", name)
        return True  # handled: not an address to open

    # under the Model field, a box for the note's labels (a box is made from widgets: an empty label, hidden
    # once the dialog is shown; the field itself stays outside the box, lined up with the other fields)
    start = dialog.get_label("model-note-start", "", False, False)
    note = LinkNote(dialog.fill_box("model-note", ["model-note-start"]), choose_model)
    about: dict[str, Any] = {}  # the worker's info, once it arrived: what each bundled model is for

    def show_note() -> bool:
        """What the model in the field is for (and why, or a better one), then links to the field's other
        values: the field is typed in, so the links are how the bundled models are found and chosen. Model
        ``auto`` goes by the file the layer is named after, or the image's: for the whole image, each layer's."""
        model = config.get_property("model")
        if job.whole:
            layers = {"layers": [layer.get_name() for layer in pixel_layers(job.image)]}
        else:
            layers = {"layer": job.drawable.get_name()}
        lines = [model_note(model, about, job.image_file, "\n", **layers),
                 other_models(about, (model or "").strip() or None)]
        note.show("\n".join(line for line in lines if line))
        return False

    def fetch_info() -> None:
        try:
            info = client.info()
        except Exception:  # noqa: BLE001  (the worker's trouble is reported by the Result line and OK)
            return
        about.update(info)
        GLib.idle_add(show_note)

    threading.Thread(target=fetch_info, name="liif-upscale-info", daemon=True).start()

    # Scale counts while Width and Height are 0, and GIMP brings back the last run's values: a scale typed
    # after a run with a width would not count. So a scale set in its own field (it has the keyboard focus:
    # its buttons give it that) puts Width and Height back to 0; Reset and Load Saved Settings, which set
    # every field from a button, keep theirs. A typed value is taken as the focus leaves the field, in the
    # window's own "set-focus" handler: the one connected after it here still has the field as focused then.
    scale_field = dialog.get_widget("scale", GObject.TYPE_NONE)
    in_scale = [False]

    def focus_moved(_window: Any, widget: Any) -> None:
        in_scale[0] = widget is not None and (widget is scale_field or widget.is_ancestor(scale_field))

    dialog.connect_after("set-focus", focus_moved)

    def changed(_config: Any, spec: Any) -> None:
        if spec.name == "scale" and in_scale[0] and (config.get_property("width") or config.get_property("height")):
            config.set_property("width", 0)  # each notifies: the Result line and the rest follow from there
            config.set_property("height", 0)
            return
        estimate.changed()
        show_size()
        show_note()
        preview.changed()

    config.connect("notify", changed)
    show_size()
    # the preview beside the fields, not under them: below, it made the dialog about 860 px tall, more than a
    # 768-px laptop screen shows (OK out of reach); beside them the dialog is about 800 px wide
    fields = dialog.fill_box("fields", ["scale", "width", "height", "result-size", "output", "model", "model-note",
                                        "device", "quality", "linear-render", "tile", "preview"])
    side = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
    side.pack_start(frame, False, False, 0)
    side.pack_start(status, False, False, 0)
    status.set_size_request(PREVIEW_SIZE[0], -1)
    status.set_max_width_chars(1)  # wrapped to the preview's width, not widening the dialog
    columns = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
    columns.pack_start(fields, True, True, 0)
    columns.pack_start(side, False, False, 0)
    dialog.get_content_area().pack_start(columns, True, True, 0)
    dialog.show_all()
    start.hide()
    preview.changed()  # hides the preview, or starts it when it was on last time
    estimate.changed()  # the time, once a job measured the speed
    ok = dialog.run()
    preview.stop()  # the job is next, or nothing
    estimate.stop()
    dialog.destroy()
    return ok
