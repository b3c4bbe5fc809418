"""Prints, as a JSON list, the text of every label shown in the plug-in's "LIIF Upscale" dialog, read the
way a screen reader reads it (AT-SPI, over the session's D-Bus): the tests' view of what the user
reads in GIMP's dialog. For tests/test_gimp.py; runs in the GIMP chroot's own Python (``gi`` with
the ``Atspi`` typelib), started by ``gimp_batch.answer_dialog`` while the dialog is open.

``--until REGEX``: read again every half second until a label matches (or ``--timeout`` passes),
for text the dialog fills in later (the worker's estimate). Prints ``[]`` when there is no such
dialog.

``--hold``: read nothing; stay an AT-SPI client (one listening for an event) until terminated, as a
screen reader stays while the user works. Why: GTK 3 hands each key press to the AT-SPI bridge, which
asks the registry whether a screen reader wants the key and runs the main loop until it answers; when
the last client leaves meanwhile, the bridge removes its key listener from the list GTK is walking,
and the application crashes. Seen twice: the plug-in died in GTK's accessibility key snooper on a key
pressed just after a reader of the labels had exited (about one dialog in twenty), and, with a client
held per dialog instead, GIMP 3.2.6 itself died there (SIGSEGV, 4 of about 10 GUI runs; gdb: GTK's
accessibility key snooper, called from ``gtk_main_do_event`` while GIMP waited for the plug-in, called
a listener's freed function pointer) on the keys of a cancelled dialog as the held client left. So the
harness holds one client for the whole GUI run (gimp_batch.main): no client leaves while keys are pressed.
A user without a screen reader has no client and no key listener; with one, it stays.
"""

import argparse
import json
import re
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, GLib  # noqa: E402

APP = "python-fu-liif-upscale"  # the plug-in process, as GTK names it to AT-SPI
TITLE = "LIIF Upscale"


def labels() -> list[str]:
    found: list[str] = []

    def walk(node, inside: bool) -> None:
        try:
            role, name = node.get_role(), node.get_name() or ""
            count = node.get_child_count()
            showing = node.get_state_set().contains(Atspi.StateType.SHOWING)
        except GLib.Error:  # the dialog closed meanwhile
            return
        inside = inside or (role == Atspi.Role.DIALOG and name == TITLE)
        if inside and role == Atspi.Role.LABEL and showing:  # a hidden label is not read
            found.append(name)
        for i in range(count):
            walk(node.get_child_at_index(i), inside)

    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is not None and app.get_name() == APP:
            walk(app, False)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--until", help="read until a label matches this regular expression")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--hold", action="store_true", help="stay a client until terminated; read nothing")
    args = parser.parse_args()
    if args.hold:
        listener = Atspi.EventListener.new(lambda _event: None)
        listener.register("window:activate")
        GLib.MainLoop().run()
        return
    deadline = time.monotonic() + args.timeout
    found = labels()
    while args.until and not any(re.search(args.until, text) for text in found) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = labels()
    print(json.dumps(found))


if __name__ == "__main__":
    main()
