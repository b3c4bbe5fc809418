"""The "LIIF Upscale" dialog: scale or size (with aspect lock), model, device, quality, tile, scope, output.

The sizes refer to what is upscaled: the whole canvas for a layer or the whole image, the
selection's bounding box for a selection. The result line under them is computed by the same
:func:`geometry.plan` the upscale uses, so what it shows is what happens. The model list and the
GPU's availability come from the worker (``client.info()``), fetched in a thread so the dialog
opens at once even while the worker is still starting. Last used values are kept in Krita's
settings (kritarc, group ``liif_upscale``).

The preview shows one window of the result at 100%, computed by the worker from only the input
pixels that window depends on (``region``), so it takes seconds where the whole job takes
minutes; dragging it looks elsewhere. It follows every choice, a moment after the last change.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from krita import Krita

from . import api, origin
from .geometry import MAX_SIDE, GeometryError, Plan, Rect, plan, round_half_up
from .liif_common.client import WorkerCancelled, WorkerClient
from .liif_common.model_choice import AUTO, AUTO_TIP, chosen_model, model_note
from .liif_common.preview import dragged_centre, preview_window
from .liif_common.time_left import VIEW_COUNTS, estimate_seconds, format_seconds, measured_speed
from .qt import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QEvent,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QImage,
    QLabel,
    QPixmap,
    QRadioButton,
    QSpinBox,
    Qt,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

SETTINGS_GROUP = "liif_upscale"
DEFAULTS = {"scale": "2.00", "keep_aspect": "true", "model": AUTO, "device": "auto", "tile": "0",
            "self_ensemble": "1", "linear_render": "false", "scope": "selection", "output": "layer",
            "preview": "false"}
MAX_SCALE = 32.0
DEFAULT_TILE = 512
PREVIEW_SIZE = (360, 240)  # the preview window, in result pixels (shown at 100%)
# the self-ensemble's choices: passes over turned (and mirrored) copies of the layer, averaged
QUALITIES = (("One pass", 1), ("2 passes: upright and upside down (2× slower)", 2),
             ("4 passes: every quarter turn (4× slower)", 4), ("8 passes: also mirrored, the best (8× slower)", 8))
PREVIEW_DELAY_MS = 400  # after the last change, so typing a size does not start a job per key


def remembered_views(value: str) -> int:
    """The number of passes a stored ``self_ensemble`` setting means: a count, or ``"true"`` (8) and
    ``"false"`` (1) as earlier versions stored it."""
    views = {"true": 8, "false": 1}.get(value) or (int(value) if value.isdigit() else 1)
    return views if views in VIEW_COUNTS else 1


def load_settings() -> dict[str, str]:
    """The last used values (strings, as Krita stores them), defaults where none were saved."""
    krita = Krita.instance()
    return {key: krita.readSetting(SETTINGS_GROUP, key, default) or default for key, default in DEFAULTS.items()}


def save_settings(values: dict[str, str]) -> None:
    krita = Krita.instance()
    for key, value in values.items():
        krita.writeSetting(SETTINGS_GROUP, key, value)


def _event_point(event: Any) -> tuple[int, int]:
    pos = event.position().toPoint() if hasattr(event, "position") else event.pos()  # Qt 6 / Qt 5
    return pos.x(), pos.y()


class PreviewLabel(QLabel):
    """The preview picture; a drag moves the window over the result by as many pixels."""

    def __init__(self, dragged: Callable[[int, int], None]) -> None:
        super().__init__()
        self._dragged = dragged
        self._start: tuple[int, int] | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802  (Qt's name)
        self._start = _event_point(event)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        if self._start is not None:
            (x0, y0), (x1, y1) = self._start, _event_point(event)
            self._start = None
            if (x1, y1) != (x0, y0):
                self._dragged(x1 - x0, y1 - y0)


class UpscaleDialog(QDialog):
    """Asks how to upscale ``node`` of ``document``; once ``exec()`` is Accepted, :meth:`request` has the answer."""

    def __init__(self, document: Any, node: Any, client: WorkerClient | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("LIIF Upscale")
        self.document, self.node = document, node
        self.canvas = Rect(0, 0, document.width(), document.height())
        b = node.bounds()
        self.content = Rect(b.x(), b.y(), b.width(), b.height())
        sel = document.selection()
        self.selection = self.canvas.intersected(Rect(sel.x(), sel.y(), sel.width(), sel.height())) if sel else None
        self.settings = load_settings()
        self.layers_redrawn = api.redrawn_layers(document)  # what "The whole image" redraws
        self.opened_from = origin.opened_from(document)  # asked once: the dialog is modal
        self.linear = self._is_linear(node)  # the Colour choice is for this layer, or any the whole image has
        self.any_linear = self.linear or any(self._is_linear(layer) for layer in self.layers_redrawn)
        self.info: dict[str, Any] | None = None  # the worker's info() once it arrived
        self.info_error: str | None = None  # or why it could not be had
        self._fx = self._fy = 2.0
        self._updating = False
        self.client = client
        self.preview_size = PREVIEW_SIZE
        self.preview_image: QImage | None = None  # the last preview shown
        self.preview_window: Rect | None = None  # its place in the result
        self._preview_target: Rect | None = None  # the result's place in the canvas, for that window
        self._preview_centre = (0.5, 0.5)  # fractions of the result's width and height
        self._preview_generation = 0  # a newer request cancels the running one
        self._preview_queue: queue.Queue = queue.Queue()
        self._job: tuple[dict[str, Any], api.UpscaleJob] | None = None  # the last job() and its request
        self._pixels: dict[tuple[Any, ...], bytes] = {}  # what job() read, by layer and rectangle: read once
        # the worker's estimate from the job's pixels, and the request it is for (the Result line's time)
        self._exact: tuple[dict[str, Any], float] | None = None
        self._estimate_generation = 0  # a newer request cancels the running one
        self._estimate_queue: queue.Queue = queue.Queue()
        self._estimate_delay = QTimer(self)
        self._estimate_delay.setSingleShot(True)
        self._estimate_delay.timeout.connect(self.start_estimate)
        self._estimate_timer = QTimer(self)
        self._estimate_timer.timeout.connect(self._poll_estimate)
        self._build()
        self._restore()
        self._info_queue: queue.Queue = queue.Queue()
        self._info_timer = QTimer(self)
        self._info_timer.timeout.connect(self._poll_info)
        if client is None:
            self.status_label.setText("")
        else:
            threading.Thread(target=self._fetch_info, args=(client,), name="liif-upscale-info", daemon=True).start()
            self._info_timer.start(100)

    @staticmethod
    def _is_linear(node: Any) -> bool:
        try:  # the plug-in checked the layer before opening this; a failure shows when the job is prepared
            return api.check_node(node).linear
        except api.UpscaleError:
            return False

    # building -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setDecimals(2)
        self.scale_spin.setRange(1.0, MAX_SCALE)
        self.scale_spin.setSingleStep(0.25)
        self.scale_spin.setPrefix("× ")
        self.scale_spin.valueChanged.connect(self._scale_changed)
        form.addRow("Scale:", self.scale_spin)

        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        for spin in (self.width_spin, self.height_spin):
            spin.setRange(1, MAX_SIDE)
            spin.setSuffix(" px")
        self.width_spin.valueChanged.connect(self._width_changed)
        self.height_spin.valueChanged.connect(self._height_changed)
        self.keep_aspect = QCheckBox("Keep aspect ratio")
        self.keep_aspect.toggled.connect(self._aspect_toggled)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin, 1)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin, 1)
        form.addRow("Size:", size_row)
        form.addRow("", self.keep_aspect)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        form.addRow("Result:", self.result_label)

        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(18)
        browse = QToolButton()
        browse.setText("...")
        browse.setToolTip("Use a model file (.safetensors or .pth)")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(browse)
        form.addRow("Model:", model_row)
        self.model_note = QLabel()  # what the chosen model is for, from its card (the worker's info)
        self.model_note.setWordWrap(True)
        # as wide as the preview: a wrapped label's height is figured at its least width, which would
        # otherwise leave lines of empty space around the note in the wider dialog
        self.model_note.setMinimumWidth(PREVIEW_SIZE[0])
        self.model_note.setVisible(False)
        self.model_note.setTextFormat(Qt.TextFormat.RichText)
        self.model_note.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                                | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        # the suggested model's name is a link to it ('default' for the default)
        self.model_note.linkActivated.connect(lambda name: self.add_model(None if name == "default" else name))
        form.addRow("", self.model_note)

        self.device_combo = QComboBox()
        for label, value in (("Automatic", "auto"), ("GPU", "gpu"), ("CPU", "cpu")):
            self.device_combo.addItem(label, value)
        form.addRow("Device:", self.device_combo)

        self.quality = QComboBox()
        for label, views in QUALITIES:
            self.quality.addItem(label, views)
        self.quality.setToolTip(
            "Self-ensemble: the model runs on flipped and rotated copies of the layer and the results are "
            "averaged, for cleaner edges and text; each pass takes as long as the first. All 8 passes: measured "
            "+0.1-0.2 dB on photographs, +0.6-1.2 dB on UI images; the 4 rotations give 85-91% of that, 2 passes "
            "about half")
        form.addRow("Quality:", self.quality)

        self.linear_render = QCheckBox("Linear render: upscale the values as stored")
        self.linear_render.setToolTip(
            "A layer whose profile stores linear light is upscaled in sRGB form, as the model learned: best "
            "for photographs, screenshots and paintings. Tick this for a render made in linear light (measured "
            "+1.4-1.6 dB on photographs and +5 to +7 dB on UI images reduced that way; on images reduced in sRGB "
            "form it loses 1.4 to 11 dB)")
        if self.any_linear:  # offered only where it changes something
            form.addRow("Colour:", self.linear_render)
        self.linear_render.toggled.connect(self._refresh)

        self.tile_auto = QCheckBox("Automatic")
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(32, 8192)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSuffix(" px")
        self.tile_auto.toggled.connect(lambda on: self.tile_spin.setEnabled(not on))
        tile_row = QHBoxLayout()
        tile_row.addWidget(self.tile_auto)
        tile_row.addWidget(self.tile_spin, 1)
        form.addRow("Tile size:", tile_row)

        self.scope_layer = QRadioButton("Whole layer")
        self.scope_selection = QRadioButton("Selection")
        self.scope_selection.setEnabled(self.selection is not None)
        if self.selection is None:
            self.scope_selection.setToolTip("There is no selection in this image")
        count, files = len(self.layers_redrawn), self._file_layers()
        kinds = "paint and file layer" if files else "paint layer"
        self.scope_image = QRadioButton(f"The whole image: every {kinds} ({count}), into a new document")
        self.scope_image.setToolTip("A copy of the image that Krita scales, with each paint layer redrawn by LIIF "
                                    "(and each file layer, made a paint layer); the layer stack, masks, vector and "
                                    "other layers as they were")
        self.scope_image.setEnabled(count > 0)
        self._group(form, "Upscale:", self.scope_layer, self.scope_selection, self.scope_image)
        self.scope_layer.toggled.connect(self._scope_changed)
        self.scope_image.toggled.connect(self._scope_changed)

        self.output_layer = QRadioButton("New layer (the image is enlarged with Krita's scaling)")
        self.output_document = QRadioButton("New document")
        self._group(form, "Output:", self.output_layer, self.output_document)
        self.output_layer.toggled.connect(self._refresh)
        # what the job costs depends on these too (the estimate on the Result line)
        self.model_combo.currentIndexChanged.connect(self._refresh)
        self.model_combo.currentIndexChanged.connect(self._show_model_note)
        self.device_combo.currentIndexChanged.connect(self._refresh)
        self.quality.currentIndexChanged.connect(self._refresh)

        self.preview_check = QCheckBox("Show part of the result at 100%")
        self.preview_check.setToolTip("Computes only that part, so it takes seconds, not minutes; drag the "
                                      "picture to look at another part")
        self.preview_check.toggled.connect(self._preview_toggled)
        form.addRow("Preview:", self.preview_check)
        self.preview_label = PreviewLabel(self._preview_dragged)
        self.preview_label.setMinimumSize(*PREVIEW_SIZE)
        self.preview_label.setVisible(False)
        self.preview_status = QLabel()
        self.preview_status.setWordWrap(True)
        self.preview_status.setVisible(False)
        self._preview_delay = QTimer(self)
        self._preview_delay.setSingleShot(True)
        self._preview_delay.timeout.connect(self.start_preview)
        self._preview_timer = QTimer(self)
        self._preview_timer.timeout.connect(self._poll_preview)

        self.status_label = QLabel("Starting the worker...")
        self.status_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Upscale")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.setMinimumWidth(460)
        # the preview beside the fields, not under them: below, it made the dialog about 860 px tall, more than
        # a 768-px laptop screen shows (its Upscale button out of reach); beside them it is about 890 px wide
        preview_column = QVBoxLayout()
        preview_column.addWidget(self.preview_label)
        preview_column.addWidget(self.preview_status)
        preview_column.addStretch(1)
        self.preview_status.setFixedWidth(PREVIEW_SIZE[0])
        columns = QHBoxLayout()
        columns.addLayout(form, 1)
        columns.addLayout(preview_column)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Layer: <b>{_escape(self.node.name())}</b>"))
        layout.addLayout(columns)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

    def _group(self, form: QFormLayout, label: str, *buttons: QRadioButton) -> None:
        group = QButtonGroup(self)
        row = QVBoxLayout()
        for button in buttons:
            group.addButton(button)
            row.addWidget(button)
        form.addRow(label, row)

    def _restore(self) -> None:
        s = self.settings
        self._updating = True
        self.keep_aspect.setChecked(s["keep_aspect"] == "true")
        self.scope_selection.setChecked(self.selection is not None and s["scope"] == "selection")
        self.scope_image.setChecked(bool(self.layers_redrawn) and s["scope"] == "image")
        self.scope_layer.setChecked(not self.scope_selection.isChecked() and not self.scope_image.isChecked())
        self.output_document.setChecked(s["output"] == "document")
        self.output_layer.setChecked(s["output"] != "document")
        index = self.device_combo.findData(s["device"])
        self.device_combo.setCurrentIndex(max(index, 0))
        tile = int(s["tile"]) if s["tile"].isdigit() else 0
        self.tile_auto.setChecked(tile == 0)
        self.tile_spin.setValue(tile or DEFAULT_TILE)
        self.tile_spin.setEnabled(tile != 0)
        self.quality.setCurrentIndex(max(self.quality.findData(remembered_views(s["self_ensemble"])), 0))
        self.linear_render.setChecked(s["linear_render"] == "true")
        self.preview_check.setChecked(s["preview"] == "true")
        self.add_model(AUTO, select=False)  # always item 0
        self.add_model(None, select=False)  # always item 1
        self.add_model(None if s["model"] == "default" else s["model"])  # (an earlier version's "": automatic)
        self._updating = False
        try:
            scale = min(max(float(s["scale"]), 1.0), MAX_SCALE)
        except ValueError:
            scale = 2.0
        self.scale_spin.setValue(scale)
        self._scale_changed(scale)

    # models and worker info ---------------------------------------------------------------
    def add_model(self, value: str | None, select: bool = True) -> None:
        """Add a model (``auto``, a bundled name, a file path, or None for the default) to the list, and
        select it."""
        found = [i for i in range(self.model_combo.count()) if self.model_combo.itemData(i) == value]
        index = found[0] if found else -1
        if index < 0:
            if value is None:
                label = "Default"
            elif value == AUTO:
                label = "Automatic"
            else:
                label = os.path.basename(value) if os.sep in value or "/" in value else value
            self.model_combo.addItem(label, value)
            index = self.model_combo.count() - 1
            tip = {None: "The default model", AUTO: AUTO_TIP.format("the model made for those")}.get(value, value)
            self.model_combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        if select:
            self.model_combo.setCurrentIndex(index)

    def job_model(self, layer: Any = None) -> str | None:
        """The model the job on ``layer`` (default: the active one) runs with: the one chosen, or the one
        "Automatic" stands for with that layer (the worker's info tells the model made for JPEG files;
        before it arrives, ``auto``)."""
        model = self.model_combo.currentData()
        if not self.info:
            return model
        return chosen_model(model, self.info, origin.of_node(self.document, self.opened_from, layer or self.node))

    def _show_model_note(self) -> None:
        """Say under the model list what the bundled model the job runs with is for: for Automatic,
        why it was chosen; for a model chosen by hand, which bundled model suits the file the layer
        or the image came from, if not that one (model_note). With "The whole image", the layers that
        Automatic gives another model are named."""
        whole = self.scope_image.isChecked()
        layers = ({"layers": [layer.name() for layer in self.layers_redrawn]} if whole
                  else {"layer": self.node.name(), "shows": origin.shows(self.node, self.document)})
        note = model_note(self.model_combo.currentData(), self.info or {}, self.opened_from, "<br>", **layers)
        self.model_note.setText(f"<small>{note}</small>")
        self.model_note.setVisible(bool(note))
        # Tab stops at the note only when it has a link to follow
        self.model_note.setFocusPolicy(Qt.FocusPolicy.StrongFocus if "<a " in note else Qt.FocusPolicy.NoFocus)

    def event(self, event: Any) -> bool:
        """Qt's handling, and after each new layout, :meth:`_fit_height`."""
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest and self.isVisible():
            self._fit_height()
        return handled

    def _fit_height(self) -> None:
        """Grow the dialog to the height its contents ask for: Qt does not for a shown dialog whose wrapped
        label got a line longer (the note, when it names layers), and squeezes that label until its last
        line is cut off. Checked after each new layout, when the size asked for is known (the note and the
        Automatic entry change together, and a wider entry wraps the note into more lines)."""
        wanted = self.sizeHint().height()
        if self.height() < wanted:
            self.resize(self.width(), wanted)

    def _show_automatic(self) -> None:
        """Name in the Automatic entry the model it stands for: the active layer's, or with "The whole image"
        those of its paint layers."""
        models = list((self.info or {}).get("models", []))
        if not models:
            return
        layers = self.layers_redrawn if self.scope_image.isChecked() else [self.node]
        automatic: list[str] = []
        for layer in layers:
            source = origin.of_node(self.document, self.opened_from, layer)
            model = chosen_model(AUTO, self.info or {}, source) or models[0]
            if model not in automatic:
                automatic.append(model)
        self.model_combo.setItemText(0, f"Automatic ({', '.join(automatic)})")

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "LIIF model", "", "LIIF models (*.safetensors *.pth)")
        if path:
            self.add_model(path)

    def _fetch_info(self, client: WorkerClient) -> None:
        try:
            self._info_queue.put(("info", client.info()))
        except Exception as exc:  # noqa: BLE001  (shown in the dialog; the upscale reports it properly)
            self._info_queue.put(("error", exc))

    def _poll_info(self) -> None:
        try:
            kind, value = self._info_queue.get_nowait()
        except queue.Empty:
            return
        self._info_timer.stop()
        if kind == "error":
            first_line = str(value).splitlines()[0] if str(value) else type(value).__name__
            self.info_error = first_line
            self.status_label.setText(f"<span style='color:#c33'>The worker is not available: "
                                      f"{_escape(first_line)}</span>")
            return
        self.set_info(value)

    def set_info(self, info: dict[str, Any]) -> None:
        """Fill the model list and the GPU choice from the worker's ``info()``."""
        self.info = info
        current = self.model_combo.currentData()
        models = list(info.get("models", []))
        if models:  # the first is the default: say which it is instead of listing it twice
            self.model_combo.setItemText(1, f"Default ({models[0]})")
        for name in models[1:] + ([current] if current not in (None, AUTO) else []):
            self.add_model(name, select=False)
        self.add_model(current)
        summaries, jpeg = info.get("summaries") or {}, info.get("jpeg_models") or []
        for i in range(self.model_combo.count()):
            name = self.model_combo.itemData(i)
            summary = summaries.get(name if name is not None else (models[0] if models else ""), "")
            if name == AUTO and jpeg:
                self.model_combo.setItemData(i, AUTO_TIP.format(jpeg[0]), Qt.ItemDataRole.ToolTipRole)
            elif summary and name != AUTO:
                self.model_combo.setItemData(i, summary if name else f"The default model: {summary}",
                                             Qt.ItemDataRole.ToolTipRole)
        self._show_model_note()
        self._show_automatic()
        gpus = [d for d in info.get("devices", []) if d != "cpu"]
        gpu_item = self.device_combo.model().item(self.device_combo.findData("gpu"))
        gpu_item.setEnabled(bool(gpus))
        if not gpus and self.device_combo.currentData() == "gpu":
            self.device_combo.setCurrentIndex(self.device_combo.findData("auto"))
        self.status_label.setText(f"Worker ready: torch {info.get('torch', '?')}, automatic device: "
                                  f"{info.get('device', '?')}" + ("" if gpus else " (no GPU found)"))
        self._refresh()

    # scale and size -----------------------------------------------------------------------
    @property
    def reference(self) -> Rect:
        """What the scale refers to: the selection's bounding box or the canvas."""
        return self.selection if self.scope_selection.isChecked() and self.selection else self.canvas

    def _set_sizes(self, width: int | None = None, height: int | None = None) -> None:
        ref = self.reference
        self._updating = True
        if width is None:
            self.width_spin.setValue(round_half_up(ref.width * self._fx))
        if height is None:
            self.height_spin.setValue(round_half_up(ref.height * self._fy))
        self.scale_spin.setValue(self._fx)
        self._updating = False
        self._refresh()

    def _scale_changed(self, value: float) -> None:
        if self._updating:
            return
        self._fx = self._fy = value
        self._set_sizes()

    def _width_changed(self, width: int) -> None:
        if self._updating:
            return
        self._fx = width / self.reference.width
        if self.keep_aspect.isChecked():
            self._fy = self._fx
        self._set_sizes(width=width, height=None if self.keep_aspect.isChecked() else self.height_spin.value())

    def _height_changed(self, height: int) -> None:
        if self._updating:
            return
        self._fy = height / self.reference.height
        if self.keep_aspect.isChecked():
            self._fx = self._fy
        self._set_sizes(width=None if self.keep_aspect.isChecked() else self.width_spin.value(), height=height)

    def _aspect_toggled(self, on: bool) -> None:
        if self._updating or not on:
            return
        self._fy = self._fx
        self._set_sizes()

    def _scope_changed(self) -> None:
        whole_image = self.scope_image.isChecked()
        self.output_layer.setEnabled(not whole_image)  # the whole image always goes into a new document
        self.output_document.setEnabled(not whole_image)
        self._show_model_note()  # Automatic goes by each layer's file
        self._show_automatic()
        if not self._updating:
            self._set_sizes()

    def _refresh(self) -> None:
        if self._updating:
            return
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            where = self._plan()
        except GeometryError as exc:
            self.result_label.setText(f"<span style='color:#c33'>{_escape(str(exc))}</span>")
            ok.setEnabled(False)
            return
        ok.setEnabled(True)
        self._show_result(where)
        if self.preview_check.isChecked():
            self._preview_delay.start(PREVIEW_DELAY_MS)
        if self.exact_estimate() is None and self.info and measured_speed(self.info, self.request()["device"]):
            self._estimate_delay.start(PREVIEW_DELAY_MS)  # the worker can tell the time, for any model

    def _file_layers(self) -> int:
        """How many of the layers "The whole image" redraws are file layers (each becomes a paint layer)."""
        return sum(layer.type() == "filelayer" for layer in self.layers_redrawn)

    def _show_result(self, where: Plan) -> None:
        """The Result line: what the job makes, and how long it takes once the worker's speed is known."""
        output = "document" if self.output_document.isChecked() else "layer"
        t, (cw, ch) = where.target, where.canvas_size
        fx, fy = where.factors
        factor = f"×{fx:.2f}" if f"{fx:.2f}" == f"{fy:.2f}" else f"×{fx:.2f} × {fy:.2f}"
        if self.scope_image.isChecked():
            count, files = len(self.layers_redrawn), self._file_layers()
            layers = f"{count} {'' if files else 'paint '}layer{'s' * (count != 1)}"
            text = f"a new {_px(cw, ch)} document ({factor}), {layers} redrawn"
            if files:
                made = "1 file layer made a paint layer" if files == 1 else f"{files} file layers made paint layers"
                text += f" ({made})"
        elif output == "document":
            text = f"a new {_px(cw, ch)} document ({factor})"
        elif (cw, ch) == (self.canvas.width, self.canvas.height):
            text = f"a {_px(t.width, t.height)} layer ({factor})"
        else:
            text = (f"a {_px(t.width, t.height)} layer ({factor}); the image grows from "
                    f"{_px(self.canvas.width, self.canvas.height)} to {_px(cw, ch)}")
        seconds = self._estimate(where.target)
        if seconds is not None:
            text += f"; {format_seconds(seconds)}"
        self.result_label.setText(text)

    def _plan(self, content: Rect | None = None) -> Plan:
        """Where the result goes for the sizes as chosen (raises :class:`GeometryError`); ``content``: another
        layer's bounds than the active one's (with "The whole image", each paint layer is planned alike)."""
        if self.scope_image.isChecked():
            return plan((self.canvas.width, self.canvas.height), self.canvas, content or self.canvas,
                        size=self.target_size(), output="layer")
        output = "document" if self.output_document.isChecked() else "layer"
        return plan((self.canvas.width, self.canvas.height), self.reference, content or self.content,
                    size=self.target_size(), output=output)

    def estimate(self) -> float | None:
        """Seconds the job as chosen would take, from the speed the worker measured on an earlier
        job on that device (this session's, or one it remembered); ``None`` before any. The
        worker's own estimate from the pixels once it arrived (:meth:`exact_estimate`), else one
        from the sizes alone, which assumes every pixel needs the network (flat areas do not)."""
        try:
            return self._estimate(self._plan().target)
        except GeometryError:
            return None

    def exact_estimate(self) -> float | None:
        """The worker's estimate for the choices as they are (from the job's pixels), or ``None``
        while it has not arrived."""
        if self._exact is not None and self._exact[0] == self.request():
            return self._exact[1]
        return None

    def _estimate(self, target: Rect) -> float | None:
        exact = self.exact_estimate()
        if exact is not None:
            return exact
        if not self.info:
            return None
        req, ref = self.request(), self.reference
        if not self.scope_image.isChecked():
            return estimate_seconds(self.info, self.job_model(), req["device"], ref.width * ref.height,
                                    target.width * target.height, req["self_ensemble"])
        total = 0.0
        for layer in self.layers_redrawn:  # the whole image: as long as each paint layer on its own
            b = layer.bounds()
            where = self._plan(Rect(b.x(), b.y(), b.width(), b.height()))
            seconds = estimate_seconds(self.info, self.job_model(layer), req["device"],
                                       where.source.width * where.source.height,
                                       where.target.width * where.target.height, req["self_ensemble"])
            if seconds is None:
                return None
            total += seconds
        return total

    def start_estimate(self) -> None:
        """Ask the worker how long the job as chosen takes, from its pixels (in a thread; a newer
        request cancels a running one). The Result line shows the answer when it comes."""
        self._estimate_generation += 1
        if self.client is None:
            return
        generation, request = self._estimate_generation, self.request()
        try:
            job = self.job()
        except Exception:  # noqa: BLE001  (the Result line keeps the estimate from the sizes; OK reports it)
            return
        client = self.client

        def run() -> None:
            try:
                seconds = api.estimate(job, client, cancel=lambda: generation != self._estimate_generation)
            except Exception:  # noqa: BLE001  (the same: only a refinement)
                seconds = None
            self._estimate_queue.put((generation, request, seconds))

        threading.Thread(target=run, name="liif-upscale-estimate", daemon=True).start()
        self._estimate_timer.start(50)

    def _poll_estimate(self) -> None:
        try:
            generation, request, seconds = self._estimate_queue.get_nowait()
        except queue.Empty:
            return
        if generation != self._estimate_generation:
            return  # a newer one is on its way
        self._estimate_timer.stop()
        if seconds is None:
            return
        self._exact = (request, seconds)
        try:
            self._show_result(self._plan())
        except GeometryError:
            pass  # the Result line already says what is wrong

    # the preview --------------------------------------------------------------------------
    def _preview_toggled(self, on: bool) -> None:
        self.preview_label.setVisible(on)
        self.preview_status.setVisible(on)
        if on:
            self._preview_delay.start(0 if self.info else PREVIEW_DELAY_MS)
        else:
            self._preview_generation += 1  # cancels a running one
        self.resize(self.sizeHint())  # (adjustSize would stop at 2/3 of the screen's width, cutting off fields)

    def _preview_dragged(self, dx: int, dy: int) -> None:
        """Move the window against the drag, like a picture pushed under a frame."""
        window, target = self.preview_window, self._preview_target
        if window is None or target is None:
            return
        self._preview_centre = dragged_centre((window.x, window.y, window.width, window.height), target.width,
                                              target.height, dx, dy)
        self.start_preview()

    def _window_in(self, target: Rect) -> Rect:
        """The preview's part of a result of ``target``'s size, around the chosen centre, inside it."""
        return Rect(*preview_window(target.width, target.height, self.preview_size, self._preview_centre))

    def start_preview(self) -> None:
        """Compute the preview for the current choices now (in a thread; a running one is cancelled)."""
        self._preview_generation += 1
        if not self.preview_check.isChecked() or self.client is None:
            return
        generation = self._preview_generation
        try:
            job = self._preview_job()
        except api.UpscaleError as exc:
            self.preview_status.setText(f"<span style='color:#c33'>{_escape(str(exc))}</span>")
            return
        window = self._window_in(job.plan.target)
        self._preview_target = job.plan.target
        self.preview_status.setText("Computing the preview...")

        def run() -> None:
            start = time.monotonic()
            try:
                rgba = api.preview(job, self.client, window, cancel=lambda: generation != self._preview_generation)
                self._preview_queue.put((generation, window, rgba, time.monotonic() - start))
            except WorkerCancelled:
                pass
            except Exception as exc:  # noqa: BLE001  (shown under the preview)
                self._preview_queue.put((generation, window, exc, 0.0))

        threading.Thread(target=run, name="liif-upscale-preview", daemon=True).start()
        self._preview_timer.start(50)

    def _preview_job(self) -> api.UpscaleJob:
        """The job the preview shows: the job itself, or for the whole image the active layer's part (the
        first paint layer's if the active node is not one)."""
        job = self.job()
        if isinstance(job, api.ImageJob):
            mine = [part for part in job.parts if part.node.uniqueId() == self.node.uniqueId()]
            return (mine or job.parts)[0]
        return job

    def _poll_preview(self) -> None:
        try:
            generation, window, value, seconds = self._preview_queue.get_nowait()
        except queue.Empty:
            return
        if generation != self._preview_generation:
            return  # a newer one is on its way
        self._preview_timer.stop()
        if isinstance(value, Exception):
            first_line = str(value).splitlines()[0] if str(value) else type(value).__name__
            self.preview_status.setText(f"<span style='color:#c33'>No preview: {_escape(first_line)}</span>")
            return
        image = QImage(value, window.width, window.height, 4 * window.width, QImage.Format.Format_RGBA8888).copy()
        self.preview_image, self.preview_window = image, window
        self.preview_label.setPixmap(QPixmap.fromImage(image))
        self.preview_status.setText(f"{_px(window.width, window.height)} of the result at 100%, from "
                                    f"x\u00a0{window.x}, y\u00a0{window.y} ({seconds:.1f}\u00a0s). Drag it to look "
                                    "elsewhere.")

    def done(self, result: int) -> None:
        self._preview_generation += 1  # a running preview stops: the job is next, or nothing
        self._estimate_generation += 1  # and so does an estimate
        super().done(result)

    # the answer ---------------------------------------------------------------------------
    def target_size(self) -> tuple[int, int]:
        """The result's width and height as the fields say (not QWidget.size(), the dialog's own)."""
        return self.width_spin.value(), self.height_spin.value()

    def job(self) -> api.UpscaleJob | api.ImageJob:
        """The job for the current choices (:func:`api.prepare`, which reads the pixels: GUI thread;
        raises :class:`api.UpscaleError`). Kept while the choices stay the same, so dragging the
        preview over a big layer, or accepting it, does not read the layer again; the dialog is
        modal, so the image cannot change meanwhile."""
        request = self.request()
        if self._job is None or self._job[0] != request:
            if request["scope"] == "image":
                options = {k: v for k, v in request.items() if k not in ("scope", "output")}
                self._job = (request, api.prepare_image(self.document, **options, cache=self._pixels))
            else:
                self._job = (request, api.prepare(self.document, self.node, **request, cache=self._pixels))
        return self._job[1]

    def request(self) -> dict[str, Any]:
        """Keyword arguments for :func:`api.prepare` (device "gpu" resolved to the worker's first GPU); scope
        ``"image"`` means :func:`api.prepare_image`."""
        device = self.device_combo.currentData()
        if device == "gpu":
            gpus = [d for d in (self.info or {}).get("devices", []) if d != "cpu"]
            device = gpus[0] if gpus else "cuda"
        return {"size": self.target_size(), "output": "document" if self.output_document.isChecked() else "layer",
                "model": self.model_combo.currentData(), "device": device,
                "tile": None if self.tile_auto.isChecked() else self.tile_spin.value(),
                "self_ensemble": self.quality.currentData(),
                "linear_render": self.any_linear and self.linear_render.isChecked(),
                "scope": self._scope()}

    def _scope(self) -> str:
        if self.scope_image.isChecked():
            return "image"
        return "selection" if self.scope_selection.isChecked() else "layer"

    def remember(self) -> None:
        """Store the current values as the next dialog's defaults."""
        scope, saved = self._scope(), self.settings["scope"]
        offered = {"selection": self.scope_selection.isEnabled(), "image": self.scope_image.isEnabled()}
        if scope == "layer" and not offered.get(saved, True):
            scope = saved  # the earlier choice was not offered this time: keep it
        save_settings({"scale": f"{self._fx:.2f}", "keep_aspect": "true" if self.keep_aspect.isChecked() else "false",
                       "model": self.model_combo.currentData() or "default", "device": self.device_combo.currentData(),
                       "tile": "0" if self.tile_auto.isChecked() else str(self.tile_spin.value()),
                       "self_ensemble": str(self.quality.currentData()), "scope": scope,
                       "linear_render": self.settings["linear_render"] if not self.any_linear  # not offered: kept
                       else "true" if self.linear_render.isChecked() else "false",
                       "output": "document" if self.output_document.isChecked() else "layer",
                       "preview": "true" if self.preview_check.isChecked() else "false"})


def _px(width: int, height: int) -> str:
    """``640 × 480 px`` with no-break spaces, so a wrapped line never splits a size."""
    return f"{width}\u00a0×\u00a0{height}\u00a0px"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
