"""Running a command in a GIMP 3 chroot that ``setup_gimp.sh`` builds (Debian trixie: GIMP 3.0, forky: 3.2).

Used by tests/test_gimp.py, by docs/editor_scaling.py, and by tests/test_krita.py for forky's Krita 5.3.
The project's machines run Debian 12, which has no GIMP 3: each command runs in a private mount namespace
(``unshare --mount``) holding bind mounts of host folders at the same paths inside the chroot, so nothing
stays mounted after the process ends. Needs root, ``unshare`` and ``chroot``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

# Debian suites and the GIMP each has: trixie (stable) GIMP 3.0, forky (testing) GIMP 3.2; built by setup_gimp.sh
CHROOTS = {"trixie": Path(os.environ.get("LIIF_GIMP_CHROOT", "/tmp/liif-hosts/trixie")),
           "forky": Path(os.environ.get("LIIF_GIMP_FORKY_CHROOT", "/tmp/liif-hosts/forky"))}
CHROOT = CHROOTS["trixie"]  # the default: docs/editor_scaling.py
# the Flatpak installation setup_flatpak.sh makes from each chroot (FLATPAK_SYSTEM_DIR selects it): its GIMP and Krita
FLATPAKS = {suite: Path(os.environ.get("LIIF_FLATPAK_BUILD") or "/tmp/liif-hosts/flatpak") / suite / "system"
            for suite in CHROOTS}
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def programs(chroot: Path = CHROOT) -> tuple[str, str]:
    """The chroot's GIMP, newest version: its console program and its full one (``gimp-console-3.0`` and
    ``gimp-3.0`` in trixie, ``-3.2`` in forky)."""
    def newest(program: str) -> str:
        found = sorted(chroot.glob(f"usr/bin/{program}-3.[0-9]*"), key=lambda path: int(path.name.rsplit(".", 1)[1]))
        return f"/usr/bin/{found[-1].name}" if found else f"/usr/bin/{program}-3.0"
    return newest("gimp-console"), newest("gimp")


GIMP = programs()[0]


def why_not_usable(chroot: Path = CHROOT) -> str | None:
    """Why GIMP cannot be run from ``chroot`` (``None``: it can)."""
    if sys.platform != "linux":
        return "GIMP 3 runs in a Debian chroot, Linux only"
    if not (chroot / programs(chroot)[0].lstrip("/")).exists():
        suite = next((name for name, path in CHROOTS.items() if path == chroot), "trixie")
        return (f"no GIMP 3 chroot at {chroot}: run tests/hosts/setup_gimp.sh {chroot} {suite} (as root, ~2 min)")
    if os.geteuid() != 0:
        return "running GIMP in its chroot needs root (chroot and bind mounts)"
    if not (shutil.which("unshare") and shutil.which("chroot")):
        return "running GIMP in its chroot needs unshare and chroot (util-linux, coreutils)"
    return None


def why_not_this_python() -> str | None:
    """Why this Python cannot run in a chroot, bound in at its own path (``None``: it can): the worker runs it."""
    if Path(sys.base_prefix).resolve() in (Path("/"), Path("/usr")):
        return ("this Python is the system's (/usr); it cannot be bind-mounted into the chroot without hiding the "
                "chroot's own: run the tests from a venv made with a pyenv or standalone Python")
    return None


def with_this_python(*folders: Path) -> list[Path]:
    """``folders`` and this Python (its venv and the Python it was made from): the folders to bind, outermost."""
    return outermost([*folders, Path(sys.prefix), Path(sys.base_prefix)])


def outermost(paths: Sequence[Path]) -> list[Path]:
    """``paths`` (and what they resolve to) without those inside another one: the folders to bind."""
    wanted = set(paths) | {p.resolve() for p in paths}
    return sorted(p for p in wanted if not any(q != p and q in p.parents for q in wanted))


def run(command: str, env: dict[str, str], read_only: Sequence[Path], read_write: Sequence[Path], log_path: Path,
        timeout: float, during: Callable[[], None] | None = None, chroot: Path = CHROOT) -> int:
    """Run the shell ``command`` in ``chroot`` with only ``env`` (and a plain ``PATH``) as its environment,
    the host folders given bound at their own paths; its output goes to ``log_path``; its exit status
    (killed, with everything it started, after ``timeout`` seconds). ``during()`` runs in a thread meanwhile."""
    root = shlex.quote(str(chroot))
    lines = ["set -e", f"mount -t proc proc {root}/proc"]
    for path in [*read_only, *read_write]:
        q, inside = shlex.quote(str(path)), shlex.quote(f"{chroot}{path}")
        lines += [f"mkdir -p {inside}", f"mount --bind {q} {inside}"]
        if path in read_only:
            lines.append(f"mount -o remount,bind,ro {inside}")
    # env -i: nothing of the host's environment (its PATH leads to pyenv's python3, which has no gi)
    words = [shlex.quote(f"{k}={v}") for k, v in {**BASE_ENV, **env}.items()] + ["/bin/sh", "-c", shlex.quote(command)]
    lines.append(" ".join([f"exec chroot {root} /usr/bin/env -i", *words]))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", "\n".join(lines)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        watcher = threading.Thread(target=during, daemon=True) if during else None
        if watcher:
            watcher.start()
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        if watcher:
            watcher.join(60)
    return code
