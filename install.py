#!/usr/bin/env python3
"""Set up LIIF Upscale: a virtual environment with the engine, the editor plug-ins, a first upscale.

    python3 install.py                 # everything: .venv, plug-ins for the editors found, example
    python3 install.py --dry-run       # print what would be done, change nothing
    python3 install.py --uninstall     # remove exactly what the last install put outside the repo

Steps: create ``.venv`` (the repo's folder) with PyTorch (the build that fits this machine: CUDA
when an NVIDIA driver is present, else CPU or Apple's MPS) and ``liif_core``; write the
configuration that tells the plug-ins which Python runs the worker; copy the Krita and GIMP
plug-ins into the editors' profile folders (and enable the Krita one in ``kritarc``); upscale the
bundled example. Every file placed outside the repo is listed in a manifest, so ``--uninstall``
removes exactly those. Running it twice changes nothing the second time.

Standard library only: it runs with Python 3.8 or newer (the environment it makes needs 3.10+).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent
TORCH_VERSION = "2.13.0"
KRITA_PLUGIN = "liif_upscale"
GIMP_PLUGIN = "liif-upscale"
COMMON = "liif_common"  # the name plugin/common gets inside each installed plug-in
EXAMPLE = REPO / "examples" / "dialog.png"


class InstallError(Exception):
    """A step failed; the message says what to do next."""


# ----------------------------------------------------------------------------- where things go


def home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def config_dir() -> Path:
    """The folder of the plug-ins' configuration (the client in plugin/common reads the same)."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home() / "AppData" / "Roaming")) / "liif-upscale"
    if sys.platform == "darwin":
        return home() / "Library" / "Application Support" / "liif-upscale"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home() / ".config") / "liif-upscale"


def default_krita_dir() -> Path:
    """Krita's resource folder (where ``pykrita/`` and ``actions/`` live)."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home() / "AppData" / "Roaming")) / "krita"
    if sys.platform == "darwin":
        return home() / "Library" / "Application Support" / "krita"
    return Path(os.environ.get("XDG_DATA_HOME") or home() / ".local" / "share") / "krita"


def default_kritarc() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home() / "AppData" / "Local")) / "kritarc"
    if sys.platform == "darwin":
        return home() / "Library" / "Preferences" / "kritarc"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home() / ".config") / "kritarc"


def gimp_root() -> Path:
    """The folder of GIMP's profiles, one per version (``3.0``, ``3.2``; a profile's ``plug-ins/`` is where
    Python plug-ins are found)."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home() / "AppData" / "Roaming")) / "GIMP"
    if sys.platform == "darwin":
        return home() / "Library" / "Application Support" / "GIMP"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home() / ".config") / "GIMP"


def gimp_directory() -> Path | None:
    """The profile folder every GIMP 3 of this system is told to use instead of its own (``GIMP3_DIRECTORY``, a
    path relative to the home folder as GIMP takes it); None where it is not set."""
    value = os.environ.get("GIMP3_DIRECTORY")
    if not value:
        return None
    return Path(value) if Path(value).is_absolute() else home() / value


def gimp_minor(name: str) -> int | None:
    """3.N's N, of a profile folder's name or of a program named after its version (``gimp-console-3.2``)."""
    match = re.fullmatch(r"(?:gimp(?:-console)?-)?3\.(\d+)(?:\.exe)?", name)
    return int(match.group(1)) if match else None


def existing_gimp_profiles(root: Path) -> list[Path]:
    """The GIMP 3.N profile folders under ``root``, oldest version first."""
    existing = [path for path in root.glob("3.*") if path.is_dir() and gimp_minor(path.name) is not None]
    return sorted(existing, key=lambda path: gimp_minor(path.name))


def gimp_profiles(root: Path, programs: list[Path]) -> list[Path]:
    """The profiles of a GIMP 3 under ``root`` the plug-in goes into: every 3.N there is; where there is
    none yet, the one of the newest version among ``programs`` (its executables), else ``3.0``. GIMP 3.2
    keeps its profile in ``3.2`` and, on its first start, copies the newest older one, plug-ins included."""
    return existing_gimp_profiles(root) or [root / f"3.{max(gimp_minors(programs), default=0)}"]


def gimp_minors(programs: list[Path]) -> list[int]:
    """The 3.N versions (N) that ``programs`` are named after; a program named after none is left out."""
    return [minor for minor in map(gimp_minor, (path.name for path in programs)) if minor is not None]


def program_folders() -> list[Path]:
    """Where installers put programs off the ``PATH``: Program Files on Windows (``ProgramW6432`` is its 64-bit
    one where this Python is a 32-bit program), the system's and the user's Applications folders on macOS."""
    if sys.platform == "win32":
        return list(dict.fromkeys(Path(root) for name in ("ProgramFiles", "ProgramW6432")
                                  if (root := os.environ.get(name))))
    if sys.platform == "darwin":
        return [Path("/Applications"), home() / "Applications"]
    return []


def gimp_install_folders() -> list[Path]:
    """Where GIMP 3's own installers put its programs, off the ``PATH``: on Windows ``GIMP 3\\bin`` under Program
    Files (for all users) or the user's ``AppData\\Local\\Programs`` (for one); on macOS the app bundle's
    ``Contents/MacOS``, in the system's or the user's Applications folder."""
    if sys.platform == "win32":
        local = Path(os.environ.get("LOCALAPPDATA") or home() / "AppData" / "Local") / "Programs"
        return [root / "GIMP 3" / "bin" for root in [*program_folders(), local]]
    return [bundle / "Contents" / "MacOS" for apps in program_folders() for bundle in sorted(apps.glob("GIMP*.app"))]


def gimp_programs() -> list[Path]:
    """GIMP 3's executables (``gimp-3.2``, ``gimp-console-3.0.exe``: they name its version) on the ``PATH`` and
    where its installers put them (:func:`gimp_install_folders`)."""
    found: list[Path] = []
    folders = [Path(folder) for folder in os.environ.get("PATH", "").split(os.pathsep) if folder]
    for folder in dict.fromkeys([*folders, *gimp_install_folders()]):
        if folder.is_dir():
            found += [path for path in sorted(folder.glob("gimp*-3.*")) if gimp_minor(path.name) is not None
                      and path not in found]
    return found


class GimpTarget(NamedTuple):
    """A GIMP 3 profile the plug-in goes into; the Flatpak apps that use it (none: a GIMP of the system); and
    the command that has GIMP make it, where it does not exist yet (None: no GIMP of its version to run)."""

    profile: Path
    apps: tuple[str, ...]
    first_start: list[str] | None


GIMP_APP = "org.gimp.GIMP"
# GIMP's first start without its window, data or fonts: it makes its profile and quits
GIMP_FIRST_START = ["-i", "-d", "-f", "--quit"]


def gimp_first_start(profile: Path, programs: list[Path], app: str | None,
                     minor: int | None = None) -> list[str] | None:
    """The command that starts the GIMP whose profile ``profile`` is (one of ``programs``, its console program
    first; the version ``minor``, else the one ``profile`` is named after), in the Flatpak ``app`` if given; None
    where none of them is of that version."""
    minor = gimp_minor(profile.name) if minor is None else minor
    ours = [path for path in programs if gimp_minor(path.name) == minor]
    ours.sort(key=lambda path: "console" not in path.name)
    if not ours:
        return None
    if app is None:
        return [str(ours[0]), *GIMP_FIRST_START]
    flatpak = shutil.which("flatpak")
    return [flatpak, "run", f"--command={ours[0].name}", app, *GIMP_FIRST_START] if flatpak else None


def gimp_flatpak_root() -> Path:
    """Where the Flatpak GIMP keeps its profiles: the host's own GIMP folder (``~/.config/GIMP``), which Flatpak
    mounts over the app's per-app one when the app may use it (``--filesystem=xdg-config/GIMP``, which every
    GIMP on Flathub has had, ``:create`` since GIMP 3); else the app's ``~/.var/app/org.gimp.GIMP/config/GIMP``."""
    granted = flatpak_filesystems(GIMP_APP)
    if granted is None or "xdg-config/GIMP" in granted:
        return gimp_root()
    return home() / ".var" / "app" / GIMP_APP / "config" / "GIMP"


def krita_programs() -> list[Path]:
    """Where Krita's own installers put it, off the ``PATH``: ``Krita (x64)\\bin\\krita.exe`` under Program Files
    on Windows, ``krita.app`` in the system's or the user's Applications folder on macOS."""
    program = Path("Krita (x64)", "bin", "krita.exe") if sys.platform == "win32" else Path("krita.app")
    return [folder / program for folder in program_folders()]


def krita_targets() -> list[tuple[Path, Path]]:
    """(resource folder, kritarc) of each Krita found: the native one (run before, on the ``PATH`` or where its
    installer puts it), Flatpak (see :func:`snap_note` for Snap)."""
    found = []
    if default_krita_dir().exists() or shutil.which("krita") or any(path.exists() for path in krita_programs()):
        found.append((default_krita_dir(), default_kritarc()))
    if flatpak_has("org.kde.krita"):
        flatpak = home() / ".var" / "app" / "org.kde.krita"
        found.append((flatpak / "data" / "krita", flatpak / "config" / "kritarc"))
    return found


def gimp_targets() -> list[GimpTarget]:
    """The profiles of each GIMP 3 found, the native one and Flatpak's (see :func:`snap_note` for Snap); a
    profile both use (the Flatpak's is the host's, see :func:`gimp_flatpak_root`) once. Where
    ``GIMP3_DIRECTORY`` is set, the one folder it names."""
    found: list[tuple[Path, list[Path], str | None]] = []  # (folder of the profiles, programs, Flatpak app)
    programs = gimp_programs()
    if programs or shutil.which("gimp") or existing_gimp_profiles(gimp_root()):
        found.append((gimp_root(), programs, None))
    if flatpak_has(GIMP_APP):
        found.append((gimp_flatpak_root(), flatpak_files(GIMP_APP, "bin/gimp*-3.*"), GIMP_APP))
    told = gimp_directory()
    if told is not None:  # every GIMP 3 keeps its profile there, in Flatpak's sandbox too (which passes the
        # variable on; Flathub's GIMP may use the whole file system): made by the newest GIMP of the system,
        # else of the Flatpak
        starts = [gimp_first_start(told, programs, app, max(minors))
                  for _, programs, app in found if (minors := gimp_minors(programs))]
        return [GimpTarget(told, tuple(app for _, _, app in found if app), next(filter(None, starts), None))]
    targets: list[GimpTarget] = []
    for root in dict.fromkeys(root for root, _, _ in found):
        gimps = [(programs, app) for where, programs, app in found if where == root]
        for profile in gimp_profiles(root, [path for programs, _ in gimps for path in programs]):
            starts = (gimp_first_start(profile, programs, app) for programs, app in gimps)
            targets.append(GimpTarget(profile, tuple(app for _, app in gimps if app),
                                      next((start for start in starts if start), None)))
    return targets


def flatpak_has(app: str) -> bool:
    """Whether the Flatpak ``app`` has run here (its folder under ``~/.var/app``) or is installed (for the user
    or system-wide): its profile folders are then made for it, as its first start would. Looks at the
    folders (``flatpak info`` would make a user installation where there is none)."""
    if not sys.platform.startswith("linux"):
        return False
    return any(path.is_dir() for path in (home() / ".var" / "app" / app, flatpak_user_dir() / "app" / app,
                                          flatpak_system_dir() / "app" / app))


def flatpak_files(app: str, pattern: str) -> list[Path]:
    """Files matching ``pattern`` in the installed ``app``'s own folder (``/app`` in its sandbox), for the user
    or system-wide: every architecture and branch."""
    return [path for installation in (flatpak_user_dir(), flatpak_system_dir())
            for path in (installation / "app" / app).glob(f"*/*/active/files/{pattern}")]


def flatpak_keyfile(path: Path) -> configparser.ConfigParser:
    """A Flatpak metadata or overrides file (a keyfile; keys such as D-Bus names kept as written); empty where
    it is missing or unreadable."""
    keyfile = configparser.ConfigParser(interpolation=None, strict=False)
    keyfile.optionxform = str
    try:
        keyfile.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return configparser.ConfigParser(interpolation=None, strict=False)
    return keyfile


def flatpak_filesystems(app: str) -> set[str] | None:
    """The file system permissions of the installed Flatpak ``app`` (``xdg-config/GIMP``, without ``:create``
    and the like), its overrides applied (system-wide, then the user's); None where it is not installed here."""
    installations = (flatpak_user_dir(), flatpak_system_dir())
    metadata = [installation / "app" / app / "current" / "active" / "metadata" for installation in installations]
    metadata += [path for installation in installations
                 for path in (installation / "app" / app).glob("*/*/active/metadata")]
    found = next((path for path in metadata if path.is_file()), None)
    if found is None:
        return None
    granted: set[str] = set()
    for path in (found, *(installation / "overrides" / name for installation in reversed(installations)
                          for name in ("global", app))):
        for entry in flatpak_keyfile(path).get("Context", "filesystems", fallback="").split(";"):
            name = re.sub(r":(ro|rw|create)$", "", entry.strip())
            if name.startswith("!"):
                granted.discard(name[1:])
            elif name:
                granted.add(name)
    return granted


def snap_note(editor: str) -> str | None:
    """Why the plug-in is not installed into ``editor``'s Snap (``krita``, ``gimp``), if one was found."""
    if not sys.platform.startswith("linux") or not (home() / "snap" / editor).is_dir():
        return None
    name = {"krita": "Krita", "gimp": "GIMP"}[editor]
    return (f"{name} from Snap found: not installed there. A Snap's confinement keeps its plug-ins from starting "
            "programs of your system, such as the worker's Python (GIMP's Snap loads plug-ins only from snaps of "
            "their own); use the editor from Flathub or from your system's packages")


FLATPAK_APPS = {"org.kde.krita", "org.gimp.GIMP"}  # Flathub's ids, the folders under ~/.var/app
FLATPAK_TALK = "org.freedesktop.Flatpak"  # what flatpak-spawn --host calls (plugin/common/client.py)


def flatpak_app_of(path: Path) -> str | None:
    """The Flatpak app whose folder under ``~/.var/app`` holds ``path``, or None."""
    apps = home() / ".var" / "app"
    try:
        app = path.relative_to(apps).parts[0]
    except (ValueError, IndexError):
        return None
    return app if app in FLATPAK_APPS else None


def flatpak_user_dir() -> Path:
    """The user's Flatpak installation (apps, overrides)."""
    user_dir = os.environ.get("FLATPAK_USER_DIR")
    data = Path(os.environ.get("XDG_DATA_HOME") or home() / ".local" / "share")
    return Path(user_dir) if user_dir else data / "flatpak"


def flatpak_system_dir() -> Path:
    """The system-wide Flatpak installation."""
    return Path(os.environ.get("FLATPAK_SYSTEM_DIR") or "/var/lib/flatpak")


def flatpak_overrides_file(app: str) -> Path:
    """Where ``flatpak override --user`` keeps an app's permissions."""
    return flatpak_user_dir() / "overrides" / app


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


# ----------------------------------------------------------------------------- actions


class Installer:
    """Carries out (or, in a dry run, prints) each step and records what it placed."""

    def __init__(self, dry_run: bool, quiet: bool = False):
        self.dry_run, self.quiet = dry_run, quiet
        self.placed: list[str] = []  # files created outside the repo
        self.made_dirs: list[str] = []  # folders that did not exist before
        self.kritarc_edits: dict[str, dict] = {}  # kritarc path -> what was added to it
        self.flatpak_allowed: list[str] = []  # Flatpak apps given the talk-name here
        self.changed = False

    def say(self, text: str) -> None:
        if not self.quiet:
            print(("[dry run] " if self.dry_run else "") + text, flush=True)

    def run(self, cmd: list[str], what: str) -> None:
        self.say(f"{what}: {' '.join(cmd)}")
        if self.dry_run:
            return
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            raise InstallError(f"{what} failed (exit code {proc.returncode}); see the output above. "
                               "Check your network or proxy for pip, then run install.py again.")
        self.changed = True

    def write_file(self, dst: Path, data: bytes, mode: int | None = None) -> None:
        """Write ``dst`` unless it already holds ``data``; remember it for uninstall."""
        self.placed.append(str(dst))
        if dst.is_file() and dst.read_bytes() == data and (mode is None or (dst.stat().st_mode & 0o777) == mode):
            return
        self.say(f"write {dst}")
        self.changed = True
        if self.dry_run:
            return
        missing = dst.parent
        while not missing.exists():
            self.made_dirs.append(str(missing))
            missing = missing.parent
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        if mode is not None:
            dst.chmod(mode)

    def copy_tree(self, src: Path, dst: Path) -> None:
        for path in sorted(src.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                self.write_file(dst / path.relative_to(src), path.read_bytes())


# ----------------------------------------------------------------------------- steps


def has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def local_torch_wheel(py: Path) -> bool:
    """Whether pip's find-links (``PIP_FIND_LINKS`` or pip's configuration files, as ``py``'s pip reads
    them) already hold this torch, as on the project's machines: then no index is named, which would
    make pip ask it over the network first."""
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        pip = py if py.exists() else Path(sys.executable)  # (a dry run before the environment exists)
        listed = subprocess.run([str(pip), "-m", "pip", "config", "list"], capture_output=True, text=True,
                                timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        listed = ""
    for line in listed.splitlines():  # e.g. global.find-links='/opt/wheels'
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            links += value.strip("'\"").split()
    return any(Path(d).is_dir() and any(Path(d).glob(f"torch-{TORCH_VERSION}*.whl")) for d in links)


def torch_command(py: Path, choice: str, index_url: str | None) -> list[str]:
    """The pip command that installs the PyTorch build for this machine."""
    cmd = [str(py), "-m", "pip", "install", f"torch=={TORCH_VERSION}"]
    if index_url:
        return cmd + ["--index-url", index_url]
    if choice == "rocm":
        return cmd + ["--index-url", "https://download.pytorch.org/whl/rocm6.4"]
    if choice == "cuda" or (choice == "auto" and sys.platform != "darwin" and has_nvidia_gpu()):
        return cmd + ["--index-url", "https://download.pytorch.org/whl/cu128"]
    if choice in ("cpu", "auto") and sys.platform.startswith("linux") and not local_torch_wheel(py):
        # PyPI's Linux torch is the CUDA build (several GB with its NVIDIA libraries), of no use without one
        return cmd + ["--index-url", "https://download.pytorch.org/whl/cpu"]
    return cmd  # PyPI: the CPU build on Windows, MPS-enabled on macOS; the local wheel here


def venv_base_python() -> str:
    """A Python of 3.10 or newer (PyTorch's minimum) to build the environment with."""
    if sys.version_info >= (3, 10):  # noqa: UP036
        return sys.executable
    for minor in range(14, 9, -1):
        exe = shutil.which(f"python3.{minor}")
        if exe:
            return exe
    raise InstallError(f"PyTorch needs Python 3.10 or newer and this is {platform.python_version()}; install "
                       "python3.10+ (e.g. from python.org or your package manager) and run install.py with it")


def setup_venv(inst: Installer, venv: Path, torch_choice: str, index_url: str | None, dev: bool) -> Path:
    py = venv_python(venv)
    if not py.exists():
        inst.run([venv_base_python(), "-m", "venv", str(venv)], "create the virtual environment")
    have_torch = py.exists() and subprocess.run(
        [str(py), "-c", f"import torch, sys; sys.exit(torch.__version__.split('+')[0] != '{TORCH_VERSION}')"],
        capture_output=True).returncode == 0
    if not have_torch and torch_choice != "skip":
        inst.run(torch_command(py, torch_choice, index_url), "install PyTorch")
    probe = "import liif_core; print(liif_core.__file__)" + ("; import pytest, ruff, PyQt5, PyQt6" if dev else "")
    found = subprocess.run([str(py), "-c", probe], capture_output=True, text=True,
                           cwd=tempfile.gettempdir()) if py.exists() else None
    if not (found and found.returncode == 0 and Path(found.stdout.strip()).parent.parent == REPO):
        inst.run([str(py), "-m", "pip", "install", "-e", f"{REPO}[dev]" if dev else str(REPO)],
                 "install liif_core")
    return py


def write_config(inst: Installer, py: Path) -> None:
    config = {"python": str(py), "repo": str(REPO)}
    inst.write_file(config_dir() / "config.json", (json.dumps(config, indent=2) + "\n").encode())


def install_krita(inst: Installer, krita_dir: Path, kritarc: Path) -> None:
    src = REPO / "plugin" / "krita"
    pykrita = krita_dir / "pykrita"
    inst.copy_tree(src / KRITA_PLUGIN, pykrita / KRITA_PLUGIN)
    inst.copy_tree(REPO / "plugin" / "common", pykrita / KRITA_PLUGIN / COMMON)
    inst.write_file(pykrita / f"{KRITA_PLUGIN}.desktop", (src / f"{KRITA_PLUGIN}.desktop").read_bytes())
    inst.write_file(krita_dir / "actions" / f"{KRITA_PLUGIN}.action", (src / f"{KRITA_PLUGIN}.action").read_bytes())
    enable_in_kritarc(inst, kritarc)


def enable_in_kritarc(inst: Installer, kritarc: Path) -> None:
    """Add ``enable_liif_upscale=true`` to ``[python]``, keeping every other line as it was.

    What was added (the line, a new section header, a new file) is recorded, so uninstall can take
    back exactly that.
    """
    key = f"enable_{KRITA_PLUGIN}"
    existed = kritarc.is_file()
    lines = kritarc.read_text().splitlines() if existed else []
    section, start, added = None, None, {"key": key, "section": False, "file": not existed}
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped
            if section == "[python]":
                start = i
        elif section == "[python]" and stripped.split("=", 1)[0].strip() == key:
            if stripped.split("=", 1)[1].strip().lower() == "true":
                return
            lines[i] = f"{key}=true"
            break
    else:
        if start is None:
            lines += ["[python]", f"{key}=true"]
            added["section"] = True
        else:
            lines.insert(start + 1, f"{key}=true")
    inst.kritarc_edits[str(kritarc)] = added
    inst.say(f"enable the plug-in in {kritarc}")
    inst.changed = True
    if not inst.dry_run:
        kritarc.parent.mkdir(parents=True, exist_ok=True)
        kritarc.write_text("\n".join(lines) + "\n")


def without_key(lines: list[str], section: str, key: str, value: str | None = None,
                drop_empty_section: bool = False) -> list[str]:
    """The lines of an INI-style file (kritarc, a Flatpak override) without ``key`` (only with ``value``, if
    given) in ``[section]``; with ``drop_empty_section``, also without that section's header if nothing is
    left under it. Every other line stays as it was."""
    kept, current = [], None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped
        elif current == f"[{section}]" and "=" in stripped:
            k, v = (part.strip() for part in stripped.split("=", 1))
            if k == key and (value is None or v == value):
                continue
        kept.append(line)
    if not drop_empty_section:
        return kept

    def emptied(i: int) -> bool:
        rest = [line.strip() for line in kept[i + 1:] if line.strip()]
        return kept[i].strip() == f"[{section}]" and (not rest or rest[0].startswith("["))

    return [line for i, line in enumerate(kept) if not emptied(i)]


def disable_in_kritarc(inst: Installer, kritarc: Path, added: dict) -> None:
    """Take back what :func:`enable_in_kritarc` added, leaving lines Krita wrote since."""
    if not kritarc.is_file():
        return
    kept = without_key(kritarc.read_text().splitlines(), "python", added["key"],
                       drop_empty_section=bool(added.get("section")))  # our section, left empty
    inst.say(f"remove {added['key']} from {kritarc}")
    if inst.dry_run:
        return
    if not kept and added.get("file"):
        kritarc.unlink()
    else:
        kritarc.write_text("\n".join(kept) + "\n")


def allow_host_worker(inst: Installer, app: str) -> None:
    """Let the Flatpak ``app`` start the worker outside its sandbox (``flatpak-spawn --host``): a user override
    that adds ``--talk-name=org.freedesktop.Flatpak``, which uninstall takes back. Flathub's Krita and GIMP
    already see the whole file system (``--filesystem=host``); this lets them run the worker's Python, which
    the sandbox's own ``/usr`` cannot."""
    command = ["flatpak", "override", "--user", f"--talk-name={FLATPAK_TALK}", app]
    flatpak = shutil.which("flatpak")
    if flatpak is None:
        inst.say(f"{app} is a Flatpak, but no flatpak command was found: run `{' '.join(command)}` "
                 "so that it can start the worker")
        return
    if flatpak_keyfile(flatpak_overrides_file(app)).get("Session Bus Policy", FLATPAK_TALK, fallback=None) == "talk":
        return
    inst.say(f"let the Flatpak {app} start the worker outside its sandbox: {' '.join(command)} "
             "(restart it if it is running)")
    inst.flatpak_allowed.append(app)
    inst.changed = True
    if not inst.dry_run and subprocess.run([flatpak, *command[1:]]).returncode != 0:
        raise InstallError(f"`{' '.join(command)}` failed; see the message above")


def disallow_host_worker(inst: Installer, app: str) -> None:
    """Take back what :func:`allow_host_worker` added, leaving the app's other overrides as they are."""
    path = flatpak_overrides_file(app)
    if not path.is_file():
        return
    kept = without_key(path.read_text().splitlines(), "Session Bus Policy", FLATPAK_TALK, "talk",
                       drop_empty_section=True)
    inst.say(f"remove the talk-name {FLATPAK_TALK} from {app}'s Flatpak overrides ({path})")
    if inst.dry_run:
        return
    if any(line.strip() for line in kept):
        path.write_text("\n".join(kept) + "\n")
    else:
        path.unlink()


def make_gimp_profile(inst: Installer, target: GimpTarget) -> bool:
    """Have GIMP make its profile where it does not exist yet, by starting it once without its window; whether
    the plug-in may go in. GIMP sets a profile up (its folders; an older GIMP's settings, brushes and the rest
    brought over) only on a start that finds no profile folder: a plug-in folder made first would keep it from
    that. Where no GIMP of that version can be run, the folder is made, unless an older GIMP's profile would
    be left behind: then the plug-in waits for GIMP's first start."""
    profile = target.profile
    if profile.is_dir():
        return True
    # GIMP 2.10's, 2.8's profile (GIMP takes the newest), beside a profile named after its version (GIMP brings
    # nothing into one named otherwise, as GIMP3_DIRECTORY may name it)
    versioned = gimp_minor(profile.name) is not None
    older = sorted((path.name for path in profile.parent.glob("2.*") if versioned and path.is_dir()
                    and re.fullmatch(r"2\.\d+", path.name)), key=lambda name: int(name[2:]))
    gimp = f"GIMP {profile.name}" if versioned else "GIMP 3"
    if target.first_start is None:
        if older:
            inst.say(f"{gimp} has not run yet, and it brings the settings of GIMP {older[-1]} over "
                     f"only into a profile it makes itself: start {gimp} once, then run install.py "
                     f"again to install the plug-in into {profile}")
            return False
        return True
    inst.say(f"start {gimp} once without its window, so that it makes its profile {profile}"
             + (f" and brings over the settings of GIMP {older[-1]}" if older else "")
             + f": {' '.join(target.first_start)}")
    if inst.dry_run:
        return True
    try:
        proc = subprocess.run(target.first_start, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=600)
        why = f"exit code {proc.returncode}; the end of its messages: {proc.stderr.strip()[-500:]}"
    except (OSError, subprocess.TimeoutExpired) as e:
        why = str(e)
    if profile.is_dir():
        forget_version(profile / "gimprc")
        return True
    if older:
        inst.say(f"{gimp} did not make its profile {profile} ({why}): start {gimp} "
                 "once, then run install.py again to install the plug-in there")
        return False
    inst.say(f"{gimp} did not make its profile ({why}); the plug-in's folder is made instead")
    return True


def forget_version(gimprc: Path) -> None:
    """Take out the version the first start wrote into ``gimprc`` (``config-version``): GIMP greets a version's
    first start with its welcome dialog (what is new) where none is written, and the user's first start with a
    window is to be that one."""
    try:
        lines = gimprc.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return
    kept = [line for line in lines if not re.fullmatch(r'\(config-version "[^"]*"\)\s*', line)]
    if len(kept) != len(lines):
        gimprc.write_text("".join(kept), encoding="utf-8")


def install_gimp(inst: Installer, gimp_dir: Path) -> None:
    src = REPO / "plugin" / "gimp" / GIMP_PLUGIN
    dst = gimp_dir / "plug-ins" / GIMP_PLUGIN
    for path in sorted(src.iterdir()):
        if path.is_file():
            inst.write_file(dst / path.name, path.read_bytes(), 0o755 if path.suffix == ".py" else None)
    inst.copy_tree(REPO / "plugin" / "common", dst / COMMON)


def run_example(inst: Installer, py: Path) -> None:
    out = REPO / "out" / "dialog_x3.png"
    inst.say(f"upscale the bundled example: {EXAMPLE.relative_to(REPO)} x3 -> {out.relative_to(REPO)}")
    if inst.dry_run:
        return
    start = time.time()
    proc = subprocess.run([str(py), "-m", "liif_core", str(EXAMPLE), "-o", str(out), "--scale", "3",
                           "--overwrite"])
    if proc.returncode != 0:
        raise InstallError("the example upscale failed; see the message above")
    inst.say(f"done in {time.time() - start:.1f} s: open {out} to see the result")


# ----------------------------------------------------------------------------- manifest


def manifest_path() -> Path:
    return config_dir() / "manifest.json"


def load_manifest() -> dict:
    path = manifest_path()
    return json.loads(path.read_text()) if path.is_file() else {"files": [], "dirs": [], "kritarc": {}}


def save_manifest(inst: Installer) -> None:
    """Add this run's files, folders and kritarc edits to the manifest (unchanged if nothing new)."""
    old = load_manifest()
    files = sorted(set(old["files"]) | set(inst.placed) | {str(manifest_path())})
    made = inst.made_dirs + ([str(manifest_path().parent)] if not manifest_path().parent.exists() else [])
    dirs = sorted(set(old.get("dirs", [])) | set(made))
    data = {"files": files, "dirs": dirs, "kritarc": {**old.get("kritarc", {}), **inst.kritarc_edits}}
    flatpak = sorted(set(old.get("flatpak", [])) | set(inst.flatpak_allowed))
    if flatpak:
        data["flatpak"] = flatpak
    text = json.dumps(data, indent=2) + "\n"
    if not inst.dry_run and (not manifest_path().is_file() or manifest_path().read_text() != text):
        manifest_path().parent.mkdir(parents=True, exist_ok=True)
        manifest_path().write_text(text)


def uninstall(inst: Installer) -> None:
    """Remove the files the manifest lists, the folders install.py made (if empty), our kritarc lines."""
    manifest = load_manifest()
    if not manifest["files"]:
        inst.say(f"nothing to uninstall (no manifest in {config_dir()})")
        return
    for name in manifest["files"]:
        path = Path(name)
        if path.is_file():
            inst.say(f"remove {path}")
            if not inst.dry_run:
                path.unlink()
    for kritarc, added in manifest.get("kritarc", {}).items():
        disable_in_kritarc(inst, Path(kritarc), added)
    for app in manifest.get("flatpak", []):
        disallow_host_worker(inst, app)
    for name in sorted(manifest.get("dirs", []), key=len, reverse=True):
        path = Path(name)
        for cache in (path / "__pycache__",):  # Python writes these beside our modules
            if cache.is_dir() and not inst.dry_run:
                shutil.rmtree(cache)
        if path.is_dir() and not any(path.iterdir()) and not inst.dry_run:
            path.rmdir()


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Set up LIIF Upscale (engine, plug-ins, example).")
    p.add_argument("--venv", type=Path, default=REPO / ".venv", help="virtual environment to create or reuse")
    p.add_argument("--torch", choices=["auto", "cpu", "cuda", "rocm", "skip"], default="auto",
                   help="which PyTorch build (auto: CUDA if an NVIDIA driver is found, else the CPU build; an "
                        "AMD GPU on Linux needs rocm)")
    p.add_argument("--torch-index-url", help="pip index for PyTorch, e.g. https://download.pytorch.org/whl/cpu")
    p.add_argument("--no-dev", action="store_true", help="skip the test tools (pytest, ruff, PyQt5/6)")
    p.add_argument("--krita-dir", type=Path, help=f"Krita resource folder (default {default_krita_dir()})")
    p.add_argument("--kritarc", type=Path, help=f"Krita's settings file (default {default_kritarc()})")
    p.add_argument("--gimp-dir", type=Path, help="GIMP 3 profile folder (default: the one GIMP3_DIRECTORY names, "
                   f"else each 3.N in {gimp_root()}, else the one of the GIMP installed)")
    p.add_argument("--no-krita", action="store_true", help="do not install the Krita plug-in")
    p.add_argument("--no-gimp", action="store_true", help="do not install the GIMP plug-in")
    p.add_argument("--no-example", action="store_true", help="skip the example upscale")
    p.add_argument("--no-venv", action="store_true", help="use --python instead of creating .venv")
    p.add_argument("--python", type=Path, default=None, help="with --no-venv: the Python that runs the worker")
    p.add_argument("--dry-run", action="store_true", help="print what would be done and change nothing")
    p.add_argument("--uninstall", action="store_true", help="remove what install.py placed outside the repo")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    inst = Installer(args.dry_run, args.quiet)
    try:
        if sys.version_info < (3, 8):  # noqa: UP036 (the message is the point on old Pythons)
            raise InstallError(f"Python 3.8 or newer is needed, this is {platform.python_version()}")
        if args.uninstall:
            uninstall(inst)
            return 0
        if args.no_venv:
            py = Path(args.python or sys.executable)
        else:
            py = setup_venv(inst, args.venv, args.torch, args.torch_index_url, not args.no_dev)
        write_config(inst, py)
        for editor, skipped in (("krita", args.no_krita), ("gimp", args.no_gimp)):
            note = None if skipped else snap_note(editor)
            if note:
                inst.say(note)
        if not args.no_krita:
            targets = ([(args.krita_dir, args.kritarc or default_kritarc())] if args.krita_dir else krita_targets())
            if not targets:
                inst.say("Krita not found (no profile folder, no krita program): pass --krita-dir to install its "
                         "plug-in, or --no-krita")
            for krita_dir, kritarc in targets:
                install_krita(inst, krita_dir, kritarc)
                if app := flatpak_app_of(krita_dir):
                    allow_host_worker(inst, app)
        if not args.no_gimp:
            if args.gimp_dir:  # the user's choice: installed as it is
                targets = [GimpTarget(args.gimp_dir, tuple(filter(None, [flatpak_app_of(args.gimp_dir)])), None)]
            else:
                targets = gimp_targets()
            if not targets:
                inst.say("GIMP 3 not found (no profile folder, no GIMP 3 program): pass --gimp-dir to install its "
                         "plug-in, or --no-gimp")
            for target in targets:
                if args.gimp_dir or make_gimp_profile(inst, target):
                    install_gimp(inst, target.profile)
                for app in target.apps:
                    allow_host_worker(inst, app)
        save_manifest(inst)
        if not args.no_example:
            run_example(inst, py)
        if not inst.changed:
            inst.say("everything was already installed; nothing changed")
        return 0
    except InstallError as e:
        print(f"install.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
