"""The GIMP and Krita plug-ins inside real Flatpak sandboxes, as Flathub's editors run them, against a real
worker on the host.

Flathub cannot be reached from the project's machines, so ``tests/hosts/setup_flatpak.sh`` makes the
Flatpaks from the Debian chroots of the GIMP tests, each suite in a Flatpak installation of its own
(``FLATPAK_SYSTEM_DIR``): trixie's GIMP 3.0 and Krita 5.2, forky's GIMP 3.2 and Krita 5.3. Runtime
``org.liif.TestPlatform`` (the chroot's ``/usr``), apps ``org.gimp.GIMP`` and ``org.kde.krita`` with their
Flathub permissions (the host's files; GIMP's ``xdg-config/GIMP:create``, so its profiles are the host's
``~/.config/GIMP``; no talk-name of ``org.freedesktop.Flatpak``; ``/tmp`` too, which Flathub's Krita does
not see, for the tests' files). ``flatpak run`` starts each in bubblewrap, with the runtime as ``/usr``, its
own ``XDG_CONFIG_HOME`` under ``~/.var/app/<id>`` and a D-Bus proxy; nothing of it is imitated here.

A fresh home per module and suite, where GIMP has not run yet; ``install.py`` exactly as a user runs it finds
the installed Flatpak, has GIMP make its profile (``~/.config/GIMP/3.N``, GIMP's first start without its
window), installs into it and adds the user override that lets the app call ``flatpak-spawn --host``. GIMP
runs ``tests/hosts/gimp_batch.py`` in a D-Bus session of its own (``dbus-run-session``), where
``flatpak-session-helper`` starts the worker on the host. Krita runs ``tests/hosts/krita_flatpak_job.py`` in its
``kritarunner`` (no window) the same way, from a fresh home of its own. About 1.5 min per suite on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_gimp import BATCH, _at_home, _layer, _pixels, _processes, cases_by_name, gimp_chroot, gimp_failed, read_result

import liif_core

REPO = Path(__file__).resolve().parents[1]
APP = "org.gimp.GIMP"
TIMEOUT_S = 300
THREADS = "1"  # as in test_gimp: the worker and the expected result each on one thread
ALLOW = "org.freedesktop.Flatpak=talk"
PLUGIN = Path("plug-ins") / "liif-upscale"


def installation(suite: str) -> Path:
    """The Flatpak installation setup_flatpak.sh made for ``suite`` (FLATPAK_SYSTEM_DIR selects it)."""
    return gimp_chroot.FLATPAKS[suite]


def _why_not(app: str, suite: str) -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "the test Flatpaks are installed by tests/hosts/setup_flatpak.sh, as root on Linux"
    if not (shutil.which("flatpak") and shutil.which("dbus-run-session")):
        return "needs flatpak and dbus-run-session: run tests/hosts/setup_hosts.sh"
    if not (installation(suite) / "app" / app / "current").exists():
        return f"no Flatpak {app} in {installation(suite)}: run tests/hosts/setup_flatpak.sh {suite}"
    return None


def _env(home: Path, suite: str, **extra: str) -> dict[str, str]:
    """The host's environment with ``home``, ``suite``'s Flatpak installation and nothing of the user's own
    folders or settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "LIIF_UPSCALE_", "DBUS_", "FLATPAK_", "QT_", "PYTHON"))}
    return {**env, "HOME": str(home), "FLATPAK_SYSTEM_DIR": str(installation(suite)), **extra}


def _install_py(home: Path, suite: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """install.py as a user runs it, with this Python as the worker's (and ``env`` set)."""
    return subprocess.run([sys.executable, str(REPO / "install.py"), "--no-venv", "--python", sys.executable,
                           "--no-example", *args], env=_env(home, suite, **env), capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def _overrides(home: Path, suite: str, app: str) -> str:
    return subprocess.run(["flatpak", "override", "--user", "--show", app], env=_env(home, suite),
                          capture_output=True, text=True, check=True).stdout


def gimp_version(suite: str) -> str:
    """The version of ``suite``'s Flatpak GIMP (``3.2``), as its programs name it."""
    programs = (installation(suite) / "app" / APP / "current" / "active" / "files" / "bin").glob("gimp-console-3.*")
    return next(programs).name.removeprefix("gimp-console-")


@pytest.fixture(scope="module", params=list(gimp_chroot.FLATPAKS))  # GIMP 3.0, Krita 5.2; GIMP 3.2, Krita 5.3
def suite(request: pytest.FixtureRequest) -> str:
    return request.param


class FlatpakGimp:
    """A fresh home where the Flatpak GIMP has not run yet, and batch runs of that GIMP in its sandbox."""

    def __init__(self, work: Path, model: Path, suite: str, gimp3_directory: str | None = None):
        self.work, self.model, self.suite = work, model, suite
        self.home = work / "home"
        self.version = gimp_version(suite)
        self.profile = self.home / ".config" / "GIMP" / self.version  # the host's: Flathub's xdg-config/GIMP:create
        self.told = {"GIMP3_DIRECTORY": gimp3_directory} if gimp3_directory else {}  # the user's session has it
        if gimp3_directory:
            self.profile = self.home / gimp3_directory
        self.plugin = self.profile / PLUGIN
        self.home.mkdir(parents=True)

    def env(self, **extra: str) -> dict[str, str]:
        return _env(self.home, self.suite, **self.told, **extra)

    def install_py(self, *args: str) -> subprocess.CompletedProcess:
        return _install_py(self.home, self.suite, "--no-krita", *args, **self.told)

    def overrides(self) -> str:
        return _overrides(self.home, self.suite, APP)

    def run(self, name: str, cases: list[dict[str, Any]], during: Any = None) -> tuple[int, str, dict[str, Any]]:
        out = self.work / name
        job = self.work / f"{name}.json"
        job.write_text(json.dumps({"cases": cases, "out": str(out), "plugin_dir": str(self.plugin),
                                   "labels_script": str(BATCH.parent / "dialog_labels.py")}))
        command = ["dbus-run-session", "--", "flatpak", "run", f"--command=gimp-console-{self.version}", APP,
                   "-i", "-d", "-f",
                   "--batch-interpreter=python-fu-eval", "-b", f"exec(open({str(BATCH)!r}).read())", "--quit"]
        env = self.env(LIIF_GIMP_JOB=str(job), LIIF_UPSCALE_THREADS=THREADS,
                       LIIF_UPSCALE_PRECISION=os.environ["LIIF_UPSCALE_PRECISION"])
        log_path = self.work / f"{name}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            record: dict[str, Any] = {}
            if during:
                during(out, record, lambda: proc.poll() is None, self.home)
            try:
                code = proc.wait(TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                code = proc.wait()
        results_path = out / "results.json"
        results = json.loads(results_path.read_text()) if results_path.is_file() else {}
        results["record"] = record
        (self.work / f"{name}.record.json").write_text(json.dumps(record))  # for a look after a failure
        return code, log_path.read_text(errors="replace"), results


def _case(flatpak: FlatpakGimp, name: str, pixels: np.ndarray, **args: Any) -> dict[str, Any]:
    spec = _layer(flatpak.work, name, pixels)
    spec["name"] = "src"
    height, width = pixels.shape[:2]
    return {"name": name, "image": {"base": "rgb", "precision": "U8_NON_LINEAR", "width": width, "height": height},
            "layers": [spec], "source": 0, "select": None,
            "args": {"model": str(flatpak.model), "device": "cpu", "output": "layer", "tile": 0, "scale": 2.0,
                     "width": 0, "height": 0, "quality": "one-pass", **args}}


def _parents(pid: int, procs: dict[int, tuple[int, str]]) -> list[str]:
    """The command lines of ``pid``'s ancestors, nearest first."""
    chain = []
    while pid in procs and procs[pid][0] in procs:
        pid = procs[pid][0]
        chain.append(procs[pid][1])
    return chain


def _host_worker(procs: dict[int, tuple[int, str]]) -> int | None:
    """The worker's process on the host (not the sandbox's flatpak-spawn, which names it in its arguments)."""
    return next((pid for pid, (_, cmd) in procs.items() if "liif_core.worker" in cmd and "flatpak-spawn" not in cmd),
                None)


def watch_and_kill(out: Path, record: dict[str, Any], running: Any, home: Path) -> None:
    """Note who started each worker; once the long case's worker is busy, SIGKILL its plug-in (GIMP's cancel)
    and time the worker's exit: of the GIMP whose ``HOME`` is ``home``. Returns early if GIMP ends
    (``running()`` false)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and running() and not (out / "cancel.started").exists():
        if (worker := _host_worker(_at_home(procs := _processes(), home))) is not None:
            record.setdefault("worker_parents", _parents(worker, procs))
        time.sleep(0.1)
    worker = plugin = None
    while time.monotonic() < deadline and running() and worker is None:
        procs = _at_home(_processes(), home)
        plugins = [pid for pid, (_, cmd) in procs.items() if "liif-upscale.py" in cmd]
        if plugins and (found := _host_worker(procs)) is not None:
            worker, plugin = found, plugins[0]
        time.sleep(0.1)
    if worker is None:
        return
    time.sleep(3.0)  # importing torch and the first tiles
    record["worker_alive_at_kill"] = Path(f"/proc/{worker}").exists()
    os.kill(plugin, signal.SIGKILL)
    t0 = time.monotonic()
    while Path(f"/proc/{worker}").exists() and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    record["worker_exit_s"] = time.monotonic() - t0


@pytest.fixture(scope="module")
def flatpak(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path, suite: str) -> FlatpakGimp:
    if why := _why_not(APP, suite):
        pytest.skip(why)
    work = tmp_path_factory.mktemp(f"flatpak-{suite}")
    model = work / "tiny.safetensors"
    shutil.copy(tiny_model_path, model)
    return FlatpakGimp(work, model, suite)


@pytest.fixture(scope="module")
def installed(flatpak: FlatpakGimp) -> subprocess.CompletedProcess:
    proc = flatpak.install_py()
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def main_run(flatpak: FlatpakGimp, installed) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    pixels = _pixels((5, 7, 4), np.uint8, 1)
    cases = [_case(flatpak, "rgba8", pixels, scale=2.5),
             dict(_case(flatpak, "cancel", _pixels((96, 96, 4), np.uint8, 9), scale=30.0, tile=8), marker=True)]
    code, log, results = flatpak.run("main", cases, during=watch_and_kill)
    assert code == 0 and results.get("cases"), gimp_failed("flatpak run org.gimp.GIMP", code, log)
    return results, cases_by_name(results, log), {"pixels": pixels, "log": log}


def test_install_py_puts_the_plugin_in_the_flatpak_profile_and_allows_the_host_worker(flatpak, installed) -> None:
    assert (flatpak.plugin / "liif-upscale.py").is_file()
    assert (flatpak.profile / "brushes").is_dir()  # GIMP made the profile: its first start, by install.py
    assert f"start GIMP {flatpak.version} once without its window" in installed.stdout
    assert not list((flatpak.home / ".var" / "app" / APP).rglob("liif-upscale.py"))  # where GIMP never looks
    assert ALLOW in flatpak.overrides()
    assert "flatpak override --user --talk-name=org.freedesktop.Flatpak org.gimp.GIMP" in installed.stdout


def test_the_plugin_in_the_sandbox_upscales_with_the_worker_on_the_host(flatpak, main_run, monkeypatch) -> None:
    results, by_name, extra = main_run
    res = by_name["rgba8"]
    assert res["status"] == "success", res["message"]
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    expected = liif_core.upscale(extra["pixels"], size=(res["result"]["width"], res["result"]["height"]),
                                 model=str(flatpak.model), device="cpu")
    got = read_result(res, np.uint8).reshape(expected.shape)
    assert np.array_equal(got, expected)
    # the worker ran outside the sandbox: flatpak's session helper on the host started it
    parents = results["record"].get("worker_parents", [])
    assert parents and "flatpak-session-helper" in parents[0], parents


def test_killing_the_plugin_in_the_sandbox_stops_the_worker_on_the_host(main_run) -> None:
    record, res = main_run[0]["record"], main_run[1]["cancel"]
    assert record.get("worker_alive_at_kill"), record
    assert record["worker_exit_s"] < 3.0, record
    assert res["status"] != "success"


def test_without_the_override_the_error_says_how_to_allow_it(flatpak, main_run) -> None:
    subprocess.run(["flatpak", "override", "--user", "--reset", APP], env=flatpak.env(), check=True)
    try:
        code, log, results = flatpak.run("blocked", [_case(flatpak, "blocked", _pixels((4, 4, 4), np.uint8, 2))])
        assert code == 0 and results.get("cases"), gimp_failed("flatpak run org.gimp.GIMP", code, log)
        res = cases_by_name(results, log)["blocked"]
        assert res["status"] == "execution-error"
        assert "flatpak override --user --talk-name=org.freedesktop.Flatpak org.gimp.GIMP" in res["message"]
        assert "restart" in res["message"]
        assert res["before"] == res["after"]
    finally:
        assert flatpak.install_py("-q").returncode == 0  # puts the override back


def test_uninstall_takes_back_the_override_and_the_plugin(flatpak, main_run) -> None:
    subprocess.run(["flatpak", "override", "--user", "--filesystem=~/Pictures", APP], env=flatpak.env(), check=True)
    proc = flatpak.install_py("--uninstall")
    assert proc.returncode == 0, proc.stderr
    left = flatpak.overrides()
    assert ALLOW not in left and "~/Pictures" in left  # the user's own override stays
    assert not flatpak.plugin.exists()


def test_gimp_brings_an_older_profile_over_before_the_plugin_goes_in(flatpak) -> None:
    """A user of GIMP 2.10 (its profile in ~/.config/GIMP/2.10) runs install.py before GIMP 3's first start:
    GIMP itself makes the new profile (a plug-in folder made first would keep it from bringing the old one over),
    then the plug-in goes in."""
    home = flatpak.work / "from-2.10"
    old = home / ".config" / "GIMP" / "2.10"
    (old / "brushes").mkdir(parents=True)
    (old / "brushes" / "mine.gbr").write_bytes(b"a brush of the user's")
    (old / "gimprc").write_text("(default-image (width 1234) (height 777))\n")
    proc = _install_py(home, flatpak.suite, "--no-krita")
    assert proc.returncode == 0, proc.stderr
    assert "brings over the settings of GIMP 2.10" in proc.stdout
    new = home / ".config" / "GIMP" / flatpak.version
    assert (new / "brushes" / "mine.gbr").read_bytes() == b"a brush of the user's"
    assert "(width 1234)" in (new / "gimprc").read_text()
    assert "config-version" not in (new / "gimprc").read_text()  # GIMP's welcome is for the user's first start
    assert (new / PLUGIN / "liif-upscale.py").is_file()


def test_a_newer_gimp_takes_the_plugin_over_from_the_older_profile(flatpak) -> None:
    """GIMP 3.0's profile is there, 3.2 has not run: the plug-in goes into 3.0's profile (a 3.2 folder made
    first would keep GIMP 3.2 from bringing 3.0's over), and GIMP 3.2's first start takes it over with the rest."""
    if flatpak.version == "3.0":
        pytest.skip("GIMP 3.0 has no older GIMP 3 to take over from")
    gimp = FlatpakGimp(flatpak.work / "from-3.0", flatpak.model, flatpak.suite)
    (gimp.home / ".config" / "GIMP" / "3.0").mkdir(parents=True)
    proc = gimp.install_py()
    assert proc.returncode == 0, proc.stderr
    assert (gimp.home / ".config" / "GIMP" / "3.0" / PLUGIN / "liif-upscale.py").is_file()
    assert not gimp.profile.exists() and "once without its window" not in proc.stdout
    code, log, results = gimp.run("upgraded", [_case(gimp, "upgraded", _pixels((4, 5, 4), np.uint8, 5))])
    assert code == 0 and results.get("cases"), gimp_failed("flatpak run org.gimp.GIMP", code, log)
    assert cases_by_name(results, log)["upgraded"]["status"] == "success"
    assert (gimp.plugin / "liif-upscale.py").is_file()


def test_gimp3_directory_is_where_the_sandboxed_gimp_looks_too(flatpak) -> None:
    """GIMP3_DIRECTORY set in the user's session (relative: under the home folder): GIMP in the sandbox keeps its
    profile there too (Flatpak passes the variable on; Flathub's GIMP may use the whole file system). install.py
    has this GIMP make that folder, installs the plug-in there and allows the host worker; GIMP runs it."""
    gimp = FlatpakGimp(flatpak.work / "told", flatpak.model, flatpak.suite, gimp3_directory="portable/gimp")
    proc = gimp.install_py()
    assert proc.returncode == 0, proc.stderr
    assert f"start GIMP 3 once without its window, so that it makes its profile {gimp.profile}" in proc.stdout
    assert (gimp.profile / "gimprc").is_file() and (gimp.plugin / "liif-upscale.py").is_file()
    # (Flatpak makes ~/.config/GIMP itself, Flathub's xdg-config/GIMP:create, but no profile goes in)
    assert not list((gimp.home / ".config" / "GIMP").glob("*")) and ALLOW in gimp.overrides()
    code, log, results = gimp.run("told", [_case(gimp, "told", _pixels((4, 5, 4), np.uint8, 6))])
    assert code == 0 and results.get("cases"), gimp_failed("flatpak run org.gimp.GIMP", code, log)
    assert cases_by_name(results, log)["told"]["status"] == "success"


# ============================================================================================= Krita

KRITA = "org.kde.krita"
KRITA_JOB = REPO / "tests" / "hosts" / "krita_flatpak_job.py"


@pytest.fixture(scope="module")
def krita_home(tmp_path_factory: pytest.TempPathFactory, suite: str) -> Path:
    """A fresh home where ``suite``'s Flatpak Krita has not run, the plug-in installed by install.py."""
    if why := _why_not(KRITA, suite):
        pytest.skip(why)
    home = tmp_path_factory.mktemp(f"krita-flatpak-{suite}") / "home"
    home.mkdir()
    proc = _install_py(home, suite, "--no-gimp")
    assert proc.returncode == 0, proc.stderr
    return home


def run_krita(home: Path, suite: str, work: Path, pixels: np.ndarray, model: Path,
              scale: float) -> tuple[str, dict[str, Any]]:
    """``krita_flatpak_job`` in ``kritarunner`` in ``suite``'s Flatpak Krita; (its output, its result), and
    meanwhile who started each worker (``result["worker_parents"]``)."""
    work.mkdir()
    (work / "pixels.raw").write_bytes(np.ascontiguousarray(pixels[..., [2, 1, 0, 3]]).tobytes())  # Krita's B,G,R,A
    spec = {"pixels": str(work / "pixels.raw"), "width": pixels.shape[1], "height": pixels.shape[0],
            "scale": scale, "model": str(model)}
    (work / "spec.json").write_text(json.dumps(spec))
    pykrita = home / ".var" / "app" / KRITA / "data" / "krita" / "pykrita"
    command = ["dbus-run-session", "--", "flatpak", "run", "--command=kritarunner",
               f"--env=PYTHONPATH={KRITA_JOB.parent}:{pykrita}:/app/lib/python3/dist-packages", KRITA,
               "-s", KRITA_JOB.stem, "-f", "main", str(work / "spec.json")]
    env = _env(home, suite, QT_QPA_PLATFORM="offscreen", LIIF_UPSCALE_THREADS=THREADS,
               LIIF_UPSCALE_PRECISION=os.environ["LIIF_UPSCALE_PRECISION"])
    parents: list[str] = []
    with open(work / "krita.log", "wb") as log:
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            if not parents and (worker := _host_worker(_at_home(procs := _processes(), home))) is not None:
                parents = _parents(worker, procs)
            time.sleep(0.1)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    output = (work / "krita.log").read_text(errors="replace")
    assert proc.returncode == 0 and (work / "result.json").is_file(), f"kritarunner exited {proc.returncode}:\n{output}"
    return output, {**json.loads((work / "result.json").read_text()), "worker_parents": parents}


def test_install_py_puts_the_krita_plugin_in_its_flatpak_and_allows_the_host_worker(krita_home: Path,
                                                                                     suite: str) -> None:
    app = krita_home / ".var" / "app" / KRITA
    assert (app / "data" / "krita" / "pykrita" / "liif_upscale" / "__init__.py").is_file()
    assert "enable_liif_upscale=true" in (app / "config" / "kritarc").read_text()
    assert ALLOW in _overrides(krita_home, suite, KRITA)


def test_krita_in_the_sandbox_upscales_with_the_worker_on_the_host(krita_home: Path, suite: str,
                                                                    tiny_model_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = _pixels((6, 9, 4), np.uint8, 3)
    work = krita_home.parent / "job"
    output, result = run_krita(krita_home, suite, work, pixels, tiny_model_path, 2.0)
    assert "width" in result, f"{result}\n{output[-3000:]}"
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", THREADS)
    expected = liif_core.upscale(pixels, size=(result["width"], result["height"]), model=str(tiny_model_path),
                                 device="cpu")
    got = np.frombuffer((work / "result.raw").read_bytes(), np.uint8).reshape(expected.shape)[..., [2, 1, 0, 3]]
    assert (result["width"], result["height"]) == (18, 12)
    assert np.array_equal(got, expected)
    assert result["worker_parents"] and "flatpak-session-helper" in result["worker_parents"][0], result


def test_krita_without_the_override_says_how_to_allow_it(krita_home: Path, suite: str, tiny_model_path: Path) -> None:
    subprocess.run(["flatpak", "override", "--user", "--reset", KRITA], env=_env(krita_home, suite), check=True)
    try:
        output, result = run_krita(krita_home, suite, krita_home.parent / "blocked",
                                   _pixels((4, 4, 4), np.uint8, 4), tiny_model_path, 2.0)
        assert result.get("error") == "SandboxBlocked", f"{result}\n{output[-3000:]}"
        assert "flatpak override --user --talk-name=org.freedesktop.Flatpak org.kde.krita" in result["message"]
        assert "restart" in result["message"] and "Nothing was changed" in result["message"]
    finally:
        assert _install_py(krita_home, suite, "--no-gimp", "-q").returncode == 0
