"""install.py against a temporary HOME with fake Krita and GIMP profiles (Linux layout)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KRITARC = "[General]\nfoo=1\n\n[python]\nenable_other=true\n\n[Window]\nbar=2\n"


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its content (folders: 'dir')."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def fake_home(tmp_path):
    home = tmp_path / "home"
    (home / ".local" / "share" / "krita").mkdir(parents=True)
    (home / ".config" / "GIMP" / "3.0").mkdir(parents=True)
    (home / ".config" / "kritarc").write_text(KRITARC)
    (home / "Documents").mkdir()
    (home / "Documents" / "keep.txt").write_text("user data")
    return home


def install(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "GIMP3_"))}, **(env or {})}
    env["HOME"] = str(home)
    # no krita/gimp found through PATH: detection by profile folders; flatpak, where a test put it there
    env["PATH"] = str(home.parent / "bin")
    env["FLATPAK_SYSTEM_DIR"] = str(home.parent / "no-system-flatpaks")  # the machine's own stay out of it
    cmd = [sys.executable, str(REPO / "install.py"), "--no-venv", "--python", sys.executable, "--no-example", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True)


def test_install_places_files_where_the_editors_look(fake_home):
    proc = install(fake_home)
    assert proc.returncode == 0, proc.stderr
    pykrita = fake_home / ".local/share/krita/pykrita"
    assert (pykrita / "liif_upscale.desktop").is_file()
    assert (pykrita / "liif_upscale" / "__init__.py").is_file()
    assert (pykrita / "liif_upscale" / "liif_common" / "client.py").is_file()
    assert (fake_home / ".local/share/krita/actions/liif_upscale.action").is_file()
    script = fake_home / ".config/GIMP/3.0/plug-ins/liif-upscale/liif-upscale.py"
    assert script.is_file() and script.stat().st_mode & stat.S_IXUSR
    assert (script.parent / "liif_common" / "client.py").is_file()
    rc = (fake_home / ".config/kritarc").read_text()
    assert rc == KRITARC.replace("[python]\n", "[python]\nenable_liif_upscale=true\n")
    config = json.loads((fake_home / ".config/liif-upscale/config.json").read_text())
    assert config == {"python": sys.executable, "repo": str(REPO)}


def test_second_run_changes_nothing(fake_home):
    assert install(fake_home).returncode == 0
    before = snapshot(fake_home)
    proc = install(fake_home)
    assert proc.returncode == 0
    assert snapshot(fake_home) == before
    assert "nothing changed" in proc.stdout


def test_uninstall_restores_home_exactly(fake_home):
    before = snapshot(fake_home)
    assert install(fake_home).returncode == 0
    # Python caches compiled modules beside the plug-in when the editor imports it
    cache = fake_home / ".local/share/krita/pykrita/liif_upscale/__pycache__"
    cache.mkdir()
    (cache / "x.cpython-311.pyc").write_bytes(b"\0")
    assert snapshot(fake_home) != before
    proc = install(fake_home, "--uninstall")
    assert proc.returncode == 0, proc.stderr
    assert snapshot(fake_home) == before


def test_uninstall_without_kritarc_section_before(tmp_path):
    home = tmp_path / "home"
    (home / ".local/share/krita").mkdir(parents=True)
    (home / ".config").mkdir()
    (home / ".config/kritarc").write_text("[General]\nfoo=1\n")
    before = snapshot(home)
    assert install(home, "--no-gimp").returncode == 0
    assert "[python]\nenable_liif_upscale=true" in (home / ".config/kritarc").read_text()
    assert install(home, "--uninstall").returncode == 0
    assert snapshot(home) == before


def test_dry_run_changes_nothing(fake_home):
    before = snapshot(fake_home)
    proc = install(fake_home, "--dry-run")
    assert proc.returncode == 0
    assert "[dry run] write" in proc.stdout and "kritarc" in proc.stdout
    assert snapshot(fake_home) == before


def test_missing_editors_are_reported_with_what_to_do(tmp_path):
    home = tmp_path / "empty-home"
    home.mkdir()
    proc = install(home)
    assert proc.returncode == 0
    assert "Krita not found" in proc.stdout and "--krita-dir" in proc.stdout
    assert "GIMP 3 not found" in proc.stdout and "--gimp-dir" in proc.stdout


def test_flatpak_locations_are_found(tmp_path):
    """Flathub's Krita keeps its profile in its own folder under ~/.var/app; Flathub's GIMP uses the host's
    ~/.config/GIMP (its permission xdg-config/GIMP:create mounts that over its own), also where the app is
    not installed here to tell (only its folder under ~/.var/app)."""
    home = tmp_path / "home"
    (home / ".var/app/org.kde.krita").mkdir(parents=True)
    (home / ".var/app/org.gimp.GIMP").mkdir(parents=True)
    assert install(home).returncode == 0
    assert (home / ".var/app/org.kde.krita/data/krita/pykrita/liif_upscale.desktop").is_file()
    assert "enable_liif_upscale=true" in (home / ".var/app/org.kde.krita/config/kritarc").read_text()
    assert (home / ".config/GIMP/3.0" / GIMP_SCRIPT).is_file()
    assert not (home / ".var/app/org.gimp.GIMP/config").exists()
    proc = install(home)  # no flatpak command on this PATH: the command to run instead is named
    assert "run `flatpak override --user --talk-name=org.freedesktop.Flatpak org.kde.krita`" in proc.stdout
    assert "run `flatpak override --user --talk-name=org.freedesktop.Flatpak org.gimp.GIMP`" in proc.stdout


def _flatpak_gimp(system: Path, filesystems: str, program: str = "gimp-3.2") -> None:
    """An installed Flatpak GIMP (system-wide, under ``system``) with these file system permissions."""
    deploy = system / "app/org.gimp.GIMP/x86_64/stable/active"
    _executable(deploy / "files/bin" / program)
    (deploy / "metadata").write_text(f"[Application]\nname=org.gimp.GIMP\n\n[Context]\nfilesystems={filesystems}\n")


@pytest.mark.parametrize("filesystems, override, shares", [
    ("host;xdg-config/GIMP:create;/tmp;", "", True),  # Flathub's GIMP 3
    ("host;xdg-config/GIMP;", "", True),  # GIMP 2.10's: mounted once the host's folder exists, as it then does
    ("host;/tmp;", "", False),
    ("host;xdg-config/GIMP:create;", "!xdg-config/GIMP;", False),  # taken back by the user's override
])
def test_the_flatpak_gimp_profile_is_where_its_permissions_put_it(tmp_path, filesystems, override, shares):
    home = tmp_path / "home"
    _flatpak_gimp(tmp_path / "no-system-flatpaks", filesystems)
    if override:
        (home / ".local/share/flatpak/overrides").mkdir(parents=True)
        (home / ".local/share/flatpak/overrides/org.gimp.GIMP").write_text(f"[Context]\nfilesystems={override}\n")
    home.mkdir(exist_ok=True)
    proc = install(home, "--no-krita")
    assert proc.returncode == 0, proc.stderr
    shared, own = home / ".config/GIMP/3.2" / GIMP_SCRIPT, home / ".var/app/org.gimp.GIMP/config/GIMP/3.2" / GIMP_SCRIPT
    assert (shared.is_file(), own.is_file()) == (shares, not shares)
    assert "flatpak override --user --talk-name=org.freedesktop.Flatpak org.gimp.GIMP" in proc.stdout


def test_gimp_makes_its_own_profile_before_the_plug_in_goes_in(tmp_path):
    """A profile folder made before GIMP's first start keeps GIMP from setting it up (and from bringing over an
    older GIMP's settings): install.py starts that GIMP once, without its window, to make it; where no GIMP of
    that version can be started and an older profile is there, the plug-in waits for GIMP's first start.
    (GIMP here is a stand-in that records its arguments; the real one is in test_flatpak.py.)"""
    home = tmp_path / "home"
    for name in ("2.8", "2.10"):
        (home / ".config/GIMP" / name).mkdir(parents=True)
    _executable(tmp_path / "bin" / "gimp")  # a GIMP whose version no program names: none to run
    proc = install(home, "--no-krita")  # nothing placed, and the user is told what to do
    assert proc.returncode == 0, proc.stderr
    assert "start GIMP 3.0 once, then run install.py again" in proc.stdout
    assert not (home / ".config/GIMP/3.0").exists()

    log = tmp_path / "args.txt"
    console = tmp_path / "bin" / "gimp-console-3.2"
    _executable(console)
    console.write_text(f'#!/bin/sh\necho "$@" > {log}\n/bin/mkdir -p "$HOME/.config/GIMP/3.2/brushes"\n')
    _executable(tmp_path / "bin" / "gimp-3.2")
    proc = install(home, "--no-krita")
    assert proc.returncode == 0, proc.stderr
    assert f"start GIMP 3.2 once without its window, so that it makes its profile {home}/.config/GIMP/3.2 and " \
           "brings over the settings of GIMP 2.10" in proc.stdout
    assert log.read_text().split() == ["-i", "-d", "-f", "--quit"]
    assert (home / ".config/GIMP/3.2/brushes").is_dir() and (home / ".config/GIMP/3.2" / GIMP_SCRIPT).is_file()
    log.unlink()
    assert install(home, "--no-krita").stdout.strip().endswith("nothing changed") and not log.exists()

    home = tmp_path / "gimp-fails"
    (home / ".config/GIMP/2.10").mkdir(parents=True)
    console.write_text("#!/bin/sh\necho cannot open display >&2\nexit 3\n")
    proc = install(home, "--no-krita")
    assert proc.returncode == 0, proc.stderr
    assert "did not make its profile" in proc.stdout and "exit code 3" in proc.stdout
    assert "cannot open display" in proc.stdout and not (home / ".config/GIMP/3.2").exists()


def test_gimp3_directory_is_where_the_plug_in_goes(tmp_path):
    """GIMP3_DIRECTORY tells every GIMP 3 of the system to keep its profile in that folder (relative: under the
    home folder) instead of ~/.config/GIMP/3.N: install.py installs there, having the newest GIMP make it first
    where it is missing; ~/.config/GIMP is left alone. (GIMP is a stand-in here; the real ones in test_gimp.py.)"""
    home = tmp_path / "home"
    (home / ".config/GIMP/2.10").mkdir(parents=True)  # not brought into a folder not named after a version
    (home / ".config/GIMP/3.0").mkdir(parents=True)
    log = tmp_path / "args.txt"
    for name in ("gimp-console-3.0", "gimp-console-3.2", "gimp-3.2"):
        _executable(tmp_path / "bin" / name)
    (tmp_path / "bin" / "gimp-console-3.2").write_text(
        f'#!/bin/sh\necho "$0 $@" > {log}\n/bin/mkdir -p "$HOME/$GIMP3_DIRECTORY/brushes"\n')
    proc = install(home, "--no-krita", env={"GIMP3_DIRECTORY": "portable/gimp"})
    assert proc.returncode == 0, proc.stderr
    assert f"start GIMP 3 once without its window, so that it makes its profile {home}/portable/gimp: " \
           f"{tmp_path}/bin/gimp-console-3.2 -i -d -f --quit" in proc.stdout, proc.stdout
    assert "settings of GIMP 2.10" not in proc.stdout
    assert (home / "portable/gimp/brushes").is_dir() and (home / "portable/gimp" / GIMP_SCRIPT).is_file()
    assert not (home / ".config/GIMP/3.0/plug-ins").exists() and not (home / ".config/GIMP/3.2").exists()
    assert install(home, "--uninstall", env={"GIMP3_DIRECTORY": "portable/gimp"}).returncode == 0
    assert not (home / "portable/gimp" / GIMP_SCRIPT).exists()

    told = tmp_path / "elsewhere" / "profile"  # an absolute path, no GIMP to run: the folder is made
    shutil.rmtree(tmp_path / "bin")
    proc = install(home, "--no-krita", env={"GIMP3_DIRECTORY": str(told)})
    assert proc.returncode == 0, proc.stderr
    assert (told / GIMP_SCRIPT).is_file() and not (home / ".config/GIMP/3.0/plug-ins").exists()

    # a Flatpak GIMP alone (a program of its own beside GIMP's named after its version): it makes the folder
    flatpaks = tmp_path / "no-system-flatpaks"
    _flatpak_gimp(flatpaks, "host;xdg-config/GIMP:create;", "gimp-debug-tool-3.0")
    _executable(next(flatpaks.glob("app/*/*/*/active/files/bin")) / "gimp-console-3.2")
    _executable(tmp_path / "bin" / "flatpak")
    proc = install(home, "--no-krita", "--dry-run", env={"GIMP3_DIRECTORY": "flatpak/gimp"})
    assert proc.returncode == 0, proc.stderr
    assert "run --command=gimp-console-3.2 org.gimp.GIMP -i -d -f --quit" in proc.stdout, proc.stdout


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_editors_are_found_where_their_installers_put_them(tmp_path, monkeypatch, platform):
    """The installers of GIMP 3 and Krita for Windows and macOS leave their programs off the PATH: where an editor
    has not run yet (no profile), install.py still finds it there; GIMP is had make its profile, through its
    console program."""
    inst = _install_module()
    home = tmp_path / "home"
    monkeypatch.setattr(inst.sys, "platform", platform)
    monkeypatch.setattr(inst, "flatpak_has", lambda app: False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    monkeypatch.setenv("LOCALAPPDATA", str(home / "AppData" / "Local"))
    monkeypatch.setenv("ProgramFiles", str(tmp_path / "Program Files"))
    monkeypatch.delenv("ProgramW6432", raising=False)
    monkeypatch.delenv("GIMP3_DIRECTORY", raising=False)
    assert inst.gimp_targets() == [] and inst.krita_targets() == []
    _executable(tmp_path / "Program Files/Krita (x64)/bin/krita.exe" if platform == "win32"
                else home / "Applications/krita.app")
    krita = ("AppData/Roaming/krita", "AppData/Local/kritarc") if platform == "win32" else \
        ("Library/Application Support/krita", "Library/Preferences/kritarc")
    assert inst.krita_targets() == [(home / krita[0], home / krita[1])]
    if platform == "win32":  # for all users, and GIMP 3.2 for this user alone
        bins = [tmp_path / "Program Files/GIMP 3/bin", home / "AppData/Local/Programs/GIMP 3/bin"]
        names = [["gimp-3.0.exe", "gimp-console-3.0.exe", "gimp-3.exe"], ["gimp-3.2.exe", "gimp-console-3.2.exe"]]
        root = home / "AppData/Roaming/GIMP"
    else:  # an app bundle in the user's Applications folder (/Applications is the machine's own here)
        bins = [home / "Applications/GIMP.app/Contents/MacOS"]
        names = [["gimp", "gimp-console", "gimp-3.2", "gimp-console-3.2", "gimp-console-2.10"]]
        root = home / "Library/Application Support/GIMP"
    for folder, programs in zip(bins, names):
        for name in programs:
            _executable(folder / name)
    [target] = inst.gimp_targets()
    assert target.profile == root / "3.2" and target.apps == ()
    console = bins[-1] / ("gimp-console-3.2.exe" if platform == "win32" else "gimp-console-3.2")
    assert target.first_start == [str(console), "-i", "-d", "-f", "--quit"]
    if platform == "win32":
        assert {path.name for path in inst.gimp_programs()} == {"gimp-3.0.exe", "gimp-console-3.0.exe",
                                                                 "gimp-3.2.exe", "gimp-console-3.2.exe"}


def _install_module():
    """install.py imported, for a test that changes what it sees of the platform."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("install_under_test", REPO / "install.py")
    inst = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inst)
    return inst


def _executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


GIMP_SCRIPT = "plug-ins/liif-upscale/liif-upscale.py"


def test_each_gimp_version_gets_the_plug_in_in_its_own_profile(tmp_path):
    """GIMP 3.2 keeps its profile in GIMP/3.2 (and copies 3.0's, plug-ins included, on its first start only):
    every 3.N profile there is gets the plug-in; with none yet, the one of the GIMP installed (named by its
    programs, ``gimp-3.2``; ``gimp`` alone: 3.0); the same inside GIMP's Flatpak (its programs in the
    installation's ``files/bin``)."""
    home = tmp_path / "home"
    for name in ("3.0", "3.2", "2.10"):
        (home / ".config/GIMP" / name).mkdir(parents=True)
    assert install(home, "--no-krita").returncode == 0
    profiles = home / ".config/GIMP"
    assert sorted(p.parent.parent.parent.name for p in profiles.glob(f"*/{GIMP_SCRIPT}")) == ["3.0", "3.2"]
    assert install(home, "--uninstall").returncode == 0 and not list(profiles.glob(f"*/{GIMP_SCRIPT}"))

    home = tmp_path / "only-3.2"
    (home / ".config/GIMP/3.2").mkdir(parents=True)  # GIMP 3.2 has run; 3.0 never did
    assert install(home, "--no-krita").returncode == 0
    assert (home / ".config/GIMP/3.2" / GIMP_SCRIPT).is_file() and not (home / ".config/GIMP/3.0").exists()

    home = tmp_path / "not-run-yet"
    home.mkdir()
    _executable(tmp_path / "bin" / "gimp-console-3.2")
    _executable(tmp_path / "bin" / "gimp")
    system = tmp_path / "no-system-flatpaks"
    _flatpak_gimp(system, "host;", "gimp-3.4")  # a Flatpak GIMP 3.4 in its own folder
    assert install(home, "--no-krita").returncode == 0
    assert (home / ".config/GIMP/3.2" / GIMP_SCRIPT).is_file() and not (home / ".config/GIMP/3.0").exists()
    assert (home / ".var/app/org.gimp.GIMP/config/GIMP/3.4" / GIMP_SCRIPT).is_file()

    home = tmp_path / "plain-gimp"
    home.mkdir()
    (tmp_path / "bin" / "gimp-console-3.2").unlink()
    shutil.rmtree(system)
    assert install(home, "--no-krita").returncode == 0
    assert [p.name for p in (home / ".config/GIMP").iterdir()] == ["3.0"]


def test_snap_editors_are_named_and_left_alone(tmp_path):
    home = tmp_path / "home"
    (home / "snap/krita/current").mkdir(parents=True)
    (home / "snap/gimp/current/.config/GIMP/3.0").mkdir(parents=True)
    proc = install(home)
    assert proc.returncode == 0, proc.stderr
    assert "Krita from Snap found: not installed there" in proc.stdout
    assert "GIMP from Snap found: not installed there" in proc.stdout and "Flathub" in proc.stdout
    assert not list((home / "snap").rglob("*.py"))


def _overrides(home: Path, app: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    return subprocess.run(["flatpak", "override", "--user", "--show", app], env={**env, "HOME": str(home)},
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("flatpak") is None, reason="needs the flatpak command (tests/hosts/setup_hosts.sh)")
def test_flatpak_apps_may_start_the_worker_and_uninstall_takes_back_only_that(tmp_path):
    """Flathub's Krita and GIMP run the worker through flatpak-spawn --host, which needs a talk-name the
    installer adds as a user override; the user's own overrides stay, also one that already allowed it."""
    home = tmp_path / "home"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "flatpak").symlink_to(shutil.which("flatpak"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    (home / ".var/app/org.kde.krita").mkdir(parents=True)
    (home / ".var/app/org.gimp.GIMP").mkdir(parents=True)
    subprocess.run(["flatpak", "override", "--user", "--filesystem=~/Art", "org.kde.krita"], check=True,
                   env={**env, "HOME": str(home)})
    subprocess.run(["flatpak", "override", "--user", "--talk-name=org.freedesktop.Flatpak", "org.gimp.GIMP"],
                   check=True, env={**env, "HOME": str(home)})
    proc = install(home)
    assert proc.returncode == 0, proc.stderr
    assert "flatpak override --user --talk-name=org.freedesktop.Flatpak org.kde.krita" in proc.stdout
    assert "let the Flatpak org.kde.krita start the worker" in proc.stdout
    assert "let the Flatpak org.gimp.GIMP" not in proc.stdout  # allowed already: nothing to do
    for app in ("org.kde.krita", "org.gimp.GIMP"):
        assert "org.freedesktop.Flatpak=talk" in _overrides(home, app)
    assert install(home).stdout.strip().endswith("nothing changed")
    assert install(home, "--uninstall").returncode == 0
    krita = _overrides(home, "org.kde.krita")
    assert "org.freedesktop.Flatpak" not in krita and "~/Art" in krita
    assert "org.freedesktop.Flatpak=talk" in _overrides(home, "org.gimp.GIMP")  # the user's, not ours


def test_release_archives(tmp_path):
    import zipfile

    proc = subprocess.run([sys.executable, str(REPO / "plugin" / "build_release.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    krita, gimp = (Path(line) for line in proc.stdout.split())
    names = zipfile.ZipFile(krita).namelist()
    assert "liif_upscale.desktop" in names and "liif_upscale/__init__.py" in names
    assert "liif_upscale/liif_common/client.py" in names
    with zipfile.ZipFile(gimp) as zf:
        info = zf.getinfo("liif-upscale/liif-upscale.py")
        assert (info.external_attr >> 16) & 0o111
        assert "liif-upscale/liif_common/client.py" in zf.namelist()
    again = tmp_path / "again"
    subprocess.run([sys.executable, str(REPO / "plugin" / "build_release.py"), "--out", str(again)], check=True,
                   capture_output=True)
    assert (again / krita.name).read_bytes() == krita.read_bytes()  # reproducible


def test_the_pytorch_build_fits_the_machine(monkeypatch):
    """auto: the CUDA build where an NVIDIA driver answers; else, on Linux, the CPU build (PyPI's Linux torch
    is the CUDA one, several GB of libraries no such machine can use), unless pip's find-links hold the wheel
    (this project's machines); Windows and macOS take PyPI's own (CPU, MPS)."""
    inst = _install_module()
    py, cpu = Path("/venv/bin/python"), "https://download.pytorch.org/whl/cpu"

    def index(choice, platform, nvidia, local_wheel, url=None):
        monkeypatch.setattr(inst.sys, "platform", platform)
        monkeypatch.setattr(inst, "has_nvidia_gpu", lambda: nvidia)
        monkeypatch.setattr(inst, "local_torch_wheel", lambda _py: local_wheel)
        cmd = inst.torch_command(py, choice, url)
        assert cmd[:5] == [str(py), "-m", "pip", "install", f"torch=={inst.TORCH_VERSION}"], cmd
        return cmd[6] if len(cmd) > 5 else None

    assert index("auto", "linux", nvidia=False, local_wheel=False) == cpu
    assert index("auto", "linux", nvidia=True, local_wheel=False).endswith("/cu128")
    assert index("auto", "linux", nvidia=False, local_wheel=True) is None
    assert index("auto", "win32", nvidia=False, local_wheel=False) is None
    assert index("auto", "darwin", nvidia=True, local_wheel=False) is None
    assert index("cpu", "linux", nvidia=True, local_wheel=False) == cpu
    assert index("rocm", "linux", nvidia=False, local_wheel=False).endswith("/rocm6.4")
    assert index("auto", "linux", nvidia=True, local_wheel=False, url="https://mirror/x") == "https://mirror/x"


def test_a_local_torch_wheel_is_found_where_pip_is_told_to_look(tmp_path, monkeypatch):
    """find-links from the environment or from pip's own configuration file (as a user's pip.conf)."""
    inst = _install_module()
    wheels, empty = tmp_path / "wheels", tmp_path / "empty"
    wheels.mkdir(), empty.mkdir()
    (wheels / f"torch-{inst.TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    for var in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(var)
    conf = tmp_path / "pip.conf"
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))  # pip reads this file, and the others it knows
    conf.write_text(f"[global]\nfind-links = {empty}\n")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    assert not inst.local_torch_wheel(Path(sys.executable))
    monkeypatch.setenv("PIP_FIND_LINKS", f"{empty} {wheels}")
    assert inst.local_torch_wheel(Path(sys.executable))
    monkeypatch.delenv("PIP_FIND_LINKS")
    conf.write_text(f"[global]\nfind-links = {wheels}\n")
    assert inst.local_torch_wheel(Path(sys.executable))
