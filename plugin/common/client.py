"""The client both editor plug-ins use to run ``liif_core.worker`` and exchange images with it.

Krita and GIMP embed their own Python (3.8 to 3.13), which cannot import torch. This module is
pure standard library: it finds the project's interpreter, starts ``python -m liif_core.worker``
with it, and speaks the worker's framed protocol (documented in ``liif_core/worker.py``).

Where the interpreter comes from, first match wins:

1. ``WorkerClient(python=...)`` (and ``repo=...``);
2. the environment variable ``LIIF_UPSCALE_PYTHON`` (with optional ``LIIF_UPSCALE_REPO``);
3. the JSON file that ``install.py`` writes: ``$LIIF_UPSCALE_CONFIG`` if set, else
   ``%APPDATA%/liif-upscale/config.json`` (Windows),
   ``~/Library/Application Support/liif-upscale/config.json`` (macOS) or
   ``${XDG_CONFIG_HOME:-~/.config}/liif-upscale/config.json``, with keys ``"python"`` and
   optionally ``"repo"`` (a folder put on the worker's ``PYTHONPATH`` so ``liif_core`` imports).

In a Flatpak sandbox (Flathub's Krita and GIMP) the worker runs outside it, on the host, through
``flatpak-spawn --host``: the sandbox's ``/usr`` is the runtime's, not the one the worker's Python
was made from. The configuration is then the host's (``~/.config``, not the app's own
``XDG_CONFIG_HOME``), and the app needs ``--talk-name=org.freedesktop.Flatpak``, a user override
``install.py`` adds; without it, starting the worker raises :class:`SandboxBlocked`, which names
the command that adds it.

With the installer's configuration, ``PYTHONHOME`` and ``PYTHONPATH`` inherited from the editor
(which point at the editor's own Python) are removed from the worker's environment. When the
interpreter is given explicitly (arguments or ``LIIF_UPSCALE_PYTHON``) the caller owns the
environment, so only ``PYTHONHOME`` is removed and ``PYTHONPATH`` is kept.

Pixels are bytes in C order (rows, columns, channels), little-endian, dtype ``uint8``,
``uint16`` or ``float32``. Example::

    with WorkerClient() as client:
        data, shape, dtype = client.upscale(pixels, (h, w, 4), "uint8", scale=2,
                                            progress=lambda done, total: print(done, total))
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import queue
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .model_choice import AUTO, chosen_model

if TYPE_CHECKING:  # annotations only: typing.Self is Python 3.11+, the editors may run 3.8
    from typing import Self

ITEMSIZE = {"uint8": 1, "uint16": 2, "float32": 4}
POLL_S = 0.05  # how often cancel() is polled and the deadline checked while waiting
STDERR_LINES = 200  # kept for crash reports
START_TIMEOUT_S = 120.0  # importing torch can take a minute on a cold Windows disk
_EOF = object()


class LiifClientError(Exception):
    """Base class of everything this client raises on purpose."""


class WorkerNotConfigured(LiifClientError):
    """No usable Python for the worker: install.py has not run, or its configuration is stale."""


class SandboxBlocked(WorkerNotConfigured):
    """The editor runs as a Flatpak that may not start programs on the host; the message says how to allow it
    (the editor must be restarted after: a sandbox's permissions are fixed when it starts)."""


class WorkerCrashed(LiifClientError):
    """The worker exited or could not start; the message ends with the last lines of its stderr."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class WorkerTimeout(LiifClientError):
    """The worker did not answer in time; it has been killed and restarts on the next call."""


class WorkerError(LiifClientError):
    """The worker refused or failed a request and stays usable; ``type`` names the kind of error."""

    def __init__(self, type: str, message: str):
        super().__init__(message)
        self.type = type
        self.message = message


class WorkerCancelled(WorkerError):
    """The job was cancelled (by ``cancel`` or :meth:`WorkerClient.cancel`) before it finished."""


# ---------------------------------------------------------------------------------------------
# finding the interpreter


FLATPAK_INFO = "/.flatpak-info"  # present in every Flatpak sandbox, and only there
FLATPAK_TALK = "org.freedesktop.Flatpak"  # the D-Bus name flatpak-spawn --host calls


def flatpak_app() -> str | None:
    """The Flatpak application this editor runs as (``org.gimp.GIMP``), or None outside a Flatpak sandbox."""
    if not os.path.isfile(FLATPAK_INFO):
        return None
    app = os.environ.get("FLATPAK_ID")
    if not app:
        try:
            with open(FLATPAK_INFO, "r", encoding="utf-8") as f:
                app = next((line.split("=", 1)[1].strip() for line in f if line.startswith("name=")), "")
        except OSError:
            app = ""
    return app or "this Flatpak"


def flatpak_allow_command(app: str) -> str:
    """The command that lets the Flatpak ``app`` start the worker on the host (what install.py runs)."""
    return f"flatpak override --user --talk-name={FLATPAK_TALK} {app}"


def config_path() -> str:
    """Where install.py writes the configuration on this platform (``$LIIF_UPSCALE_CONFIG`` wins)."""
    explicit = os.environ.get("LIIF_UPSCALE_CONFIG")
    if explicit:
        return explicit
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Roaming")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    elif flatpak_app():  # the sandbox points XDG_CONFIG_HOME at the app's own folder; install.py ran outside
        base = os.environ.get("HOST_XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "liif-upscale", "config.json")


def _resolve_executable(python: str, origin: str) -> str:
    found = python if os.path.dirname(python) else shutil.which(python)
    # In a Flatpak the worker's Python runs on the host: a venv's link to the host's /usr/bin/python3
    # leads, in the sandbox, into the runtime's /usr, so only the link itself can be checked.
    exists = os.path.lexists if flatpak_app() and found else os.path.isfile
    if not found or not exists(found):
        raise WorkerNotConfigured(
            f"The worker's Python {python!r} (from {origin}) does not exist. Run install.py again, or set "
            "LIIF_UPSCALE_PYTHON to a Python that can import liif_core.")
    return found


def find_python() -> tuple[str, str | None, bool]:
    """``(python, repo, explicit)`` for the worker; raises :class:`WorkerNotConfigured` if none is set up."""
    env_python = os.environ.get("LIIF_UPSCALE_PYTHON")
    if env_python:
        repo = os.environ.get("LIIF_UPSCALE_REPO") or None
        return _resolve_executable(env_python, "LIIF_UPSCALE_PYTHON"), repo, True
    path = config_path()
    if not os.path.isfile(path):
        raise WorkerNotConfigured(
            f"LIIF Upscale is not set up: no configuration at {path}. Run install.py from the LIIF Upscale "
            "folder, or set LIIF_UPSCALE_PYTHON to a Python that can import liif_core.")
    try:
        with open(path, "r", encoding="utf-8") as f:
            config = json.load(f)
        python = config["python"]
        if not isinstance(python, str) or not python:
            raise ValueError("'python' must be a non-empty string")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkerNotConfigured(
            f"The configuration {path} is unreadable ({type(exc).__name__}: {exc}). Run install.py again.") from None
    repo = config.get("repo") or None
    return _resolve_executable(python, path), repo, False


def worker_env(repo: str | None, keep_pythonpath: bool) -> dict[str, str]:
    """The worker's environment: ours, minus the editor's Python settings, plus ``repo`` on the path.

    An AppImage's libraries are left out of ``LD_PRELOAD`` and ``LD_LIBRARY_PATH``: GIMP's AppImage
    preloads every library it bundles into each program it starts (its ``AppRun``), which the
    worker's Python and PyTorch, built for the system's, must not get."""
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    inherited = env.pop("PYTHONPATH", None) if not keep_pythonpath else env.get("PYTHONPATH")
    parts = [p for p in (repo, inherited if keep_pythonpath else None) if p]
    if parts:
        env["PYTHONPATH"] = os.pathsep.join(parts)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    appdir = env.get("APPDIR")
    if appdir and os.path.isabs(appdir):  # an AppImage (GIMP's, Krita's) points the loader at its own libraries
        for name in ("LD_PRELOAD", "LD_LIBRARY_PATH"):
            kept = [p for p in env.get(name, "").replace(" ", ":").split(":") if p and not _inside(p, appdir)]
            if kept:
                env[name] = ":".join(kept)
            else:
                env.pop(name, None)
    return env


def _inside(path: str, folder: str) -> bool:
    return os.path.normpath(path).startswith(os.path.normpath(folder).rstrip(os.sep) + os.sep)


def host_command(command: Sequence[str], env: dict[str, str]) -> list[str]:
    """``command`` run on the host from a Flatpak sandbox, with the variables of ``env`` that concern the
    worker (the host process starts from the session's environment, not the sandbox's). The worker
    ends with the editor: ``--watch-bus`` stops it when ``flatpak-spawn`` ends, killed or not."""
    spawn = shutil.which("flatpak-spawn")
    if spawn is None:
        raise WorkerNotConfigured(
            f"This editor runs as a Flatpak ({flatpak_app()}) without flatpak-spawn, which starts the LIIF Upscale "
            "worker outside its sandbox. Install the editor from Flathub, or as a package of your system.")
    passed = [f"--env={k}={v}" for k, v in sorted(env.items())
              if k in ("PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONIOENCODING") or k.startswith("LIIF_UPSCALE_")]
    return [spawn, "--host", "--watch-bus", *passed, *command]


# ---------------------------------------------------------------------------------------------
# framing


def encode_frame(header: dict[str, Any], payload: bytes | None = None) -> bytes:
    """One protocol frame (see liif_core/worker.py); ``nbytes`` is filled in from ``payload``."""
    if payload is not None:
        header = dict(header, nbytes=len(payload))
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(raw)) + raw


def _read_exact(stream: Any, n: int) -> bytes | None:
    """Exactly ``n`` bytes, or None at end of file; loops because a raw pipe returns what it has."""
    data = stream.read(n) if n else b""
    if not data or len(data) == n:
        return data if len(data) == n else None
    buf = bytearray(data)
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _write_all(stream: Any, data: Any) -> None:
    """Write all of ``data``; a raw (unbuffered) stream may take only part of it per call."""
    view = memoryview(data).cast("B")
    while view:
        written = stream.write(view)
        view = view[written if written is not None else len(view):]


def read_frame(stream: Any) -> tuple[dict[str, Any], bytes | None] | None:
    """Read one frame from the worker, or None at end of file."""
    prefix = _read_exact(stream, 4)
    if prefix is None:
        return None
    raw = _read_exact(stream, struct.unpack(">I", prefix)[0])
    if raw is None:
        return None
    header = json.loads(raw.decode("utf-8"))
    payload = None
    if header.get("nbytes") is not None:
        payload = _read_exact(stream, int(header["nbytes"]))
        if payload is None:
            return None
    return header, payload


def _job(op: str, data: Any, shape: Sequence[int], dtype: str, scale: Any, size: Sequence[int] | None,
         model: str | None, device: str, tile: int | None, self_ensemble: bool | int, region: Sequence[int] | None,
         linear: bool) -> tuple[dict[str, Any], Any]:
    """The header and payload of an upscale or estimate request (raises ``ValueError`` for pixels that
    do not fit ``shape`` and ``dtype``)."""
    if dtype not in ITEMSIZE:
        raise ValueError("dtype must be one of {}, got {!r}".format(", ".join(ITEMSIZE), dtype))
    shape = [int(s) for s in shape]
    expected = ITEMSIZE[dtype]
    for s in shape:
        expected *= s
    nbytes = memoryview(data).nbytes
    if nbytes != expected:
        raise ValueError(f"got {nbytes} bytes but shape {shape} of {dtype} needs {expected}")
    header = {"op": op, "shape": shape, "dtype": dtype,
              "scale": list(scale) if isinstance(scale, (tuple, list)) else scale,
              "size": list(size) if size is not None else None, "model": model, "device": device, "tile": tile,
              "self_ensemble": self_ensemble if isinstance(self_ensemble, int) else bool(self_ensemble),
              "region": [int(v) for v in region] if region else None, "linear": bool(linear)}
    return header, data if isinstance(data, bytes) else memoryview(data).cast("B")


# ---------------------------------------------------------------------------------------------
# the client


class _Process:
    """One running worker process and the threads that feed its stdin and drain its stdout and stderr.

    Each pipe is closed only by the thread that uses it: closing a pipe another thread is blocked
    on would wait for that thread (for ever, if a grandchild of the worker holds the pipe open).
    """

    def __init__(self, args: Sequence[str], env: dict[str, str]):
        flags = 0x08000000 if sys.platform == "win32" else 0  # CREATE_NO_WINDOW: no console flash
        # Buffered pipes: BufferedReader.read(n) fills one n-byte object straight from the pipe.
        self.popen = subprocess.Popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env, creationflags=flags)
        self.messages: queue.Queue = queue.Queue()
        self.stderr_tail: collections.deque = collections.deque(maxlen=STDERR_LINES)
        self._outbox: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._read_stdout, name="liif-client-out", daemon=True),
                         threading.Thread(target=self._read_stderr, name="liif-client-err", daemon=True),
                         threading.Thread(target=self._write_stdin, name="liif-client-in", daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        try:
            while True:
                frame = read_frame(self.popen.stdout)
                if frame is None:
                    break
                self.messages.put(frame)
        except Exception as exc:  # noqa: BLE001  (any unreadable reply means the worker is broken)
            self.stderr_tail.append(f"client: unreadable reply from the worker: {exc!r}")
        finally:
            self.messages.put(_EOF)
            _close_quietly(self.popen.stdout)

    def _read_stderr(self) -> None:
        try:
            for line in iter(self.popen.stderr.readline, b""):
                self.stderr_tail.append(line.decode("utf-8", "replace").rstrip("\r\n"))
        finally:
            _close_quietly(self.popen.stderr)

    def _write_stdin(self) -> None:
        # A separate thread, so that a large image sent to a stuck worker cannot block the caller
        # past its timeout: killing the worker unblocks this write.
        try:
            while True:
                item = self._outbox.get()
                if item is None:
                    break
                for chunk in item:
                    _write_all(self.popen.stdin, chunk)
                self.popen.stdin.flush()
        except (OSError, ValueError):
            pass  # the worker is gone; the stdout reader reports it
        finally:
            _close_quietly(self.popen.stdin)  # end of file: a live worker exits

    def send(self, header: dict[str, Any], payload: bytes | None = None) -> None:
        frame = [encode_frame(header, payload)]
        if payload is not None:
            frame.append(payload)
        self._outbox.put(frame)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stderr_text(self, wait: float = 1.0) -> str:
        """The last lines of stderr, after giving the reader a moment to drain a dying worker."""
        self._threads[1].join(wait)
        return "\n".join(self.stderr_tail)

    def kill(self) -> None:
        """Kill the worker and reap it; the pipe threads then end on their own."""
        self._outbox.put(None)
        try:
            self.popen.kill()
        except OSError:
            pass
        try:
            self.popen.wait(5.0)
        except subprocess.TimeoutExpired:
            pass

    def close(self, timeout: float) -> None:
        """Close stdin after what is queued (the worker exits on end of file); kill it if it lingers."""
        self._outbox.put(None)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def _close_quietly(stream: Any) -> None:
    try:
        stream.close()
    except (OSError, ValueError):
        pass


class WorkerClient:
    """Starts and talks to one ``liif_core.worker`` process; restarts it if it has died.

    Calls are serialised (one request at a time); :meth:`cancel` may be called from any thread.
    """

    def __init__(self, python: str | None = None, repo: str | None = None,
                 args: Sequence[str] | None = None):
        """``python``/``repo`` override the configuration; ``args`` replaces ``["-m", "liif_core.worker"]``."""
        self._python = python
        self._repo = repo
        self._args = list(args) if args is not None else ["-m", "liif_core.worker"]
        self._proc: _Process | None = None
        self._call_lock = threading.Lock()
        self._cancel_event = threading.Event()
        self._ids = itertools.count(1)

    # lifetime ----------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The worker's process id, or None when none is running (in a Flatpak, that of ``flatpak-spawn``
        in the sandbox, whose end ends the worker on the host)."""
        return self._proc.popen.pid if self._proc is not None and self._proc.alive() else None

    def start(self) -> None:
        """Start the worker now (calls start it on demand); a running worker is left as is."""
        with self._call_lock:
            self._start()

    def _start(self) -> None:
        if self._proc is not None and self._proc.alive():
            return
        if self._proc is not None:
            self._proc.kill()
            self._proc = None
        if self._python:
            python, repo, explicit = _resolve_executable(self._python, "WorkerClient(python=...)"), self._repo, True
        else:
            python, repo, explicit = find_python()
            repo = self._repo or repo
        command, env = [python] + self._args, worker_env(repo, keep_pythonpath=explicit)
        if flatpak_app():
            command = host_command(command, env)
        try:
            self._proc = _Process(command, env)
        except OSError as exc:
            raise WorkerNotConfigured(
                f"Cannot start the worker's Python {python!r}: {exc}. Run install.py again, or set "
                "LIIF_UPSCALE_PYTHON to a Python that can import liif_core.") from None

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker: close its stdin so it exits, and kill it after ``timeout`` seconds.

        A job running in another thread is cancelled first (it raises :class:`WorkerCancelled`).
        """
        self._cancel_event.set()
        with self._call_lock:
            if self._proc is not None:
                self._proc.close(timeout)
                self._proc = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def log(self) -> str:
        """The last lines the worker wrote to stderr (tracebacks of internal errors land there)."""
        proc = self._proc
        return "\n".join(proc.stderr_tail) if proc is not None else ""

    def cancel(self) -> None:
        """Ask the running job (if any) to stop; it then raises :class:`WorkerCancelled`. Thread-safe."""
        self._cancel_event.set()

    # requests ----------------------------------------------------------------------------
    def ping(self, timeout: float | None = START_TIMEOUT_S) -> float:
        """Round trip to the worker (starting it if needed); returns the seconds it took."""
        t0 = time.monotonic()
        self._request({"op": "ping"}, "pong", timeout=timeout)
        return time.monotonic() - t0

    def info(self, timeout: float | None = START_TIMEOUT_S, idle: Callable[[], object] | None = None) -> dict[str, Any]:
        """Models available, the device ``auto`` picks, devices, Python/torch/liif_core versions, and
        the measured ``speed`` and ``work`` that :func:`time_left.estimate_seconds` turns into time.

        ``idle()`` is called about every 50 ms while waiting (starting the worker takes seconds), so
        a GUI may pump its events or pulse a progress bar there."""

        def waiting() -> bool:
            idle()
            return False  # an info request has nothing to cancel

        header, _ = self._request({"op": "info"}, "info", timeout=timeout, cancel=None if idle is None else waiting)
        return {k: v for k, v in header.items() if k not in ("event", "id")}

    def upscale(self, data: bytes, shape: Sequence[int], dtype: str, scale: Any = None,
                size: Sequence[int] | None = None, model: str | None = None, device: str = "auto",
                tile: int | None = None, progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None, timeout: float | None = None,
                self_ensemble: bool | int = False, region: Sequence[int] | None = None,
                linear: bool = False, opened_from: str | None = None) -> tuple[bytes, tuple[int, ...], str]:
        """Upscale an image given as raw pixels; returns ``(pixels, shape, dtype)`` of the result.

        ``scale`` is a number or ``(sx, sy)``; ``size`` is ``(width, height)``; give one of them.
        ``progress(done, total)`` is called in order, in this thread. ``cancel()`` is polled about
        every 50 ms while waiting (so a GUI may also pump its events there); when it returns true
        the job is cancelled and :class:`WorkerCancelled` raised. ``timeout`` (seconds, for the
        whole call) kills the worker and raises :class:`WorkerTimeout`. ``self_ensemble`` averages
        passes over flipped and transposed views: a little better, as many times slower (``True``:
        8; or 2 or 4, most of the 8's gain). ``region = (x, y, width,
        height)`` returns only that window of the result (a preview), at a fraction of the cost.
        ``linear``: the colour is linear light (a layer with a linear profile); the model then
        works on its sRGB-encoded form, as on the images it learned from. ``model``: a bundled
        model's name, a ``.safetensors``/``.pth`` path, None (the default) or ``auto``: the bundled
        model made for the file the image was ``opened_from`` (:func:`model_choice.chosen_model`).
        """
        model = self.model_for(model, opened_from, cancel)
        header, payload = _job("upscale", data, shape, dtype, scale, size, model, device, tile, self_ensemble,
                               region, linear)
        reply, result = self._request(header, "result", payload=payload, progress=progress, cancel=cancel,
                                      timeout=timeout)
        return result if result is not None else b"", tuple(reply["shape"]), reply["dtype"]

    def estimate(self, data: bytes, shape: Sequence[int], dtype: str, scale: Any = None,
                 size: Sequence[int] | None = None, model: str | None = None, device: str = "auto",
                 tile: int | None = None, cancel: Callable[[], bool] | None = None, timeout: float | None = None,
                 self_ensemble: bool | int = False, linear: bool = False, opened_from: str | None = None
                 ) -> float | None:
        """Seconds :meth:`upscale` with the same arguments would take, from the pixels (flat areas
        cost nothing) and the speed the worker measured on that device; ``None`` before any job
        measured it. The worker plans the job without running the model (on a 2-core CPU 0.09 s for
        1920 x 1080, 0.6 s for an opaque 4000 x 3000 layer, 2.4 s with transparency; for the same
        pixels again about 0.1 s, and the job that follows starts that much sooner). Raises as
        :meth:`upscale`."""
        model = self.model_for(model, opened_from, cancel)
        header, payload = _job("estimate", data, shape, dtype, scale, size, model, device, tile, self_ensemble,
                               None, linear)
        reply, _ = self._request(header, "estimate", payload=payload, cancel=cancel, timeout=timeout)
        return reply.get("seconds")

    def model_for(self, model: str | None, opened_from: str | None,
                  cancel: Callable[[], bool] | None = None) -> str | None:
        """The model a job with ``model`` runs with, for an image opened from the file ``opened_from``:
        ``auto`` resolved by the worker's models (an info request, which starts the worker if need
        be; ``cancel`` as for :meth:`upscale`), any other ``model`` as it is."""
        if model != AUTO:
            return model
        header, _ = self._request({"op": "info"}, "info", timeout=START_TIMEOUT_S, cancel=cancel)
        return chosen_model(model, header, opened_from)

    def forget(self) -> None:
        """Tell the worker that the job its estimates prepared for is not coming (the dialog was
        cancelled): it releases what it kept from the pixels (about 200 MB for a 4000 x 3000 layer
        with transparency) once the requests before this one are done. Returns at once, never
        starts a worker, and is safe from any thread, even while another request waits."""
        proc = self._proc
        if proc is not None and proc.alive():
            proc.send({"op": "forget", "id": next(self._ids)})  # the reply is dropped as a late message

    # the exchange ------------------------------------------------------------------------
    def _request(self, header: dict[str, Any], expect: str, payload: Any = None,
                 progress: Callable[[int, int], None] | None = None, cancel: Callable[[], bool] | None = None,
                 timeout: float | None = None) -> tuple[dict[str, Any], bytes | None]:
        """Send one request and wait for its ``expect`` reply, handling progress, cancel and timeout."""
        with self._call_lock:
            self._cancel_event.clear()
            self._start()
            proc = self._proc
            job_id = next(self._ids)
            proc.send(dict(header, id=job_id), payload)
            deadline = None if timeout is None else time.monotonic() + timeout
            cancel_sent = False
            try:
                while True:
                    if not cancel_sent and (self._cancel_event.is_set() or (cancel is not None and cancel())):
                        proc.send({"op": "cancel", "id": job_id})
                        cancel_sent = True
                    wait = POLL_S
                    if deadline is not None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            self._kill()
                            raise WorkerTimeout("The worker did not finish {} within {:g} s; it was stopped and "
                                                "restarts on the next request.".format(header["op"], timeout))
                        wait = min(wait, left)
                    try:
                        message = proc.messages.get(timeout=wait)
                    except queue.Empty:
                        continue
                    if message is _EOF:
                        raise self._crashed()
                    reply, data = message
                    if reply.get("id") != job_id:
                        continue  # a late message of an earlier, abandoned request
                    event = reply.get("event")
                    if event == "progress":
                        if progress is not None:
                            progress(int(reply["done"]), int(reply["total"]))
                    elif event == "error":
                        cls = WorkerCancelled if reply.get("type") == "Cancelled" else WorkerError
                        raise cls(reply.get("type", "InternalError"), reply.get("message", ""))
                    elif event == expect:
                        return reply, data
            except LiifClientError:
                raise
            except BaseException:
                # The caller's callback raised (or KeyboardInterrupt): stop the job it abandons.
                if self._proc is proc and not cancel_sent:
                    proc.send({"op": "cancel", "id": job_id})
                raise

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc = None

    def _crashed(self) -> LiifClientError:
        proc = self._proc
        self._proc = None
        try:
            code = proc.popen.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            code = None
        stderr = proc.stderr_text()
        proc.kill()
        tail = "\n".join(stderr.splitlines()[-20:])
        app = flatpak_app()
        if app and code == 1 and FLATPAK_TALK in stderr:  # flatpak-spawn: "Portal call failed: ... ServiceUnknown"
            return SandboxBlocked(
                f"This editor runs as a Flatpak ({app}), which may not start the LIIF Upscale worker outside its "
                f"sandbox. Run install.py again (it allows that), or run: {flatpak_allow_command(app)}\n"
                "Then restart the editor.")
        if app and code is not None and 128 < code <= 128 + 64:  # flatpak-spawn: 128 + N, the worker died of signal N
            code = 128 - code
        if code is not None and code < 0:
            name = {9: "SIGKILL", 15: "SIGTERM", 11: "SIGSEGV", 6: "SIGABRT"}.get(-code, "signal %d" % -code)
            message = ("The LIIF Upscale worker was killed by %s. If the image is large, the system may have run "
                       "out of memory: try a smaller size or a smaller tile." % name)
        else:
            message = f"The LIIF Upscale worker stopped unexpectedly (exit code {code})."
        if tail:
            message += " Its last output:\n" + tail
        elif code is None or code >= 0:
            message += " It printed nothing; check that its Python can import liif_core."
        return WorkerCrashed(message, code, stderr)
