"""Where the Krita and GIMP dialogs put their preview window over the result (plugin/common/preview.py)."""

from __future__ import annotations

from plugin.common.preview import dragged_centre, preview_window


def test_preview_window_and_its_drag() -> None:
    assert preview_window(80, 60) == (0, 0, 80, 60)  # all of a small result
    assert preview_window(1000, 500) == (320, 130, 360, 240)  # the middle
    assert preview_window(361, 100, (360, 240)) == (1, 0, 360, 100)  # half a pixel: rounded up
    centre = dragged_centre((320, 130, 360, 240), 1000, 500, -100, 50)  # drag left and down
    assert preview_window(1000, 500, centre=centre) == (420, 80, 360, 240)  # looks right and up
    far = dragged_centre((320, 130, 360, 240), 1000, 500, -5000, -5000)
    assert preview_window(1000, 500, centre=far) == (640, 260, 360, 240)  # stops at the edge
