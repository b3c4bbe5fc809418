"""The process the editors talk to: ``python -m liif_core.worker`` upscales images sent over stdin/stdout.

Krita and GIMP run their own embedded Python, which must never import torch. Their plug-ins start
this worker with the project's interpreter (see ``plugin/common/client.py``) and keep it running,
so the model is loaded once and reused for every request.

Protocol (version 1)
--------------------
Every message in either direction is one frame::

    4 bytes   big-endian unsigned length N of the header
    N bytes   UTF-8 JSON object (the header)
    M bytes   raw pixels, only when the header has "nbytes": M

Pixels are the image's samples in C order (rows, then columns, then channels), little-endian,
``dtype`` one of ``uint8``, ``uint16``, ``float32``; ``shape`` is ``[h, w]`` or ``[h, w, c]``
with ``c`` in 1..4. They travel inline through the pipe: a 4096x4096 RGBA float32 result is
256 MiB, which a local pipe moves in well under a second, so there is no temp-file mode.

Requests (client -> worker)::

    {"op": "upscale", "id": ID, "shape": [h, w, c], "dtype": "uint8", "nbytes": M,
     "scale": 2.0 | [sx, sy] | null, "size": [w, h] | null, "model": NAME-OR-PATH | null,
     "device": "auto" | "cpu" | "cuda" | "cuda:1" | "mps", "tile": INT | null,
     "self_ensemble": false | true | N,  + M pixel bytes (self_ensemble: averaged passes, true: 8,
                                        N: 1, 2, 4 or 8 of them; optional)
     "region": [x, y, w, h] | null,     only that window of the result (a preview; optional)
     "linear": false | true}            the colour is linear light: upscaled in sRGB form (optional)
    {"op": "estimate", "id": ID, ...}   the fields and pixels of an upscale request: what that job
                                        would cost, found from its pixels without running it
                                        (liif_core.work); queued like a job, cancelled alike
    {"op": "forget", "id": ID}          release what estimates kept from the pixels for the job they
                                        expected (liif_core.forget: an editor's dialog was cancelled);
                                        queued like a job -> {"event": "forgotten", "id": ID,
                                        "released": BYTES}
    {"op": "cancel", "id": ID}          stop that job between chunks (queued or running)
    {"op": "ping", "id": ID}            -> {"event": "pong", "id": ID, "protocol": 1, "pid": PID}
    {"op": "info", "id": ID}            -> {"event": "info", "id": ID, "models": [...], "device": ...,
                                            "devices": [...], "python": ..., "torch": ...,
                                            "liif_core": ..., "protocol": 1, "pid": PID,
                                            "speed": {"cpu" | "cuda" | "mps": MACS_PER_S},
                                            "work": {MODEL-OR-"default": [MACS_PER_INPUT_PX,
                                                                          MACS_PER_OUTPUT_PX]}}
                                        speed comes from finished jobs, this worker's or (on disk,
                                        per device) an earlier one's; work has every bundled model
                                        and each other model once it ran. A job takes at most about
                                        passes * (in_px * work[0] + out_px * work[1]) / speed seconds
                                        (less where flat areas need no decoding: liif_core.flat;
                                        an estimate request says how much less)

Replies (worker -> client)::

    {"event": "progress", "id": ID, "done": i, "total": n, "fraction": i / n}   in order, in work units
                                        (decoded output pixels, liif_core.tiling.Plan);
                                        the first (0), the last (n), and between them at most every 0.1 s
    {"event": "result", "id": ID, "shape": [...], "dtype": ..., "nbytes": M}   + M pixel bytes
    {"event": "estimate", "id": ID, "work": W, "seconds": S | null}   the answer to an estimate: W in
                                        the units of that job's progress total, S = W * MACS_PER_OUTPUT_PX
                                        / speed of the device it would run on (null until a job has
                                        measured that speed)
    {"event": "error", "id": ID | null, "type": TYPE, "message": TEXT}

``type`` is ``Cancelled``, ``InputError``, ``MemoryLimitError``, ``ModelError``, ``OutOfMemory``,
``ProtocolError`` (a malformed request) or ``InternalError``; ``message`` says what to change.
Every upscale request ends with exactly one ``result`` or ``error`` for its id, every estimate
request with one ``estimate`` or ``error``, every forget request with one ``forgotten``. Jobs
(upscale, estimate, forget) run one at a time in arrival order; ping, info and cancel are answered
at once, even while a job runs.

A malformed frame (bad JSON, unknown op, bad dtype or shape, nbytes not matching the shape) gets a
``ProtocolError`` reply and the worker keeps going. Only a header length over 1 MiB, which means
the byte stream itself is out of step, ends the worker after its error reply.

Lifetime: the worker exits as soon as stdin reaches end of file (the client closed it or died) or
its parent process disappears (polled twice a second). ``PR_SET_PDEATHSIG`` is deliberately not
used: Linux sends it when the *thread* that started the worker exits, which would kill a healthy
worker whenever an editor starts it from a short-lived thread.

Only protocol frames go to stdout: at start-up the real stdout is duplicated for the protocol and
file descriptor 1 and ``sys.stdout`` are pointed at stderr, so stray prints from libraries (or from
C code) cannot corrupt the stream.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

import numpy as np

PROTOCOL_VERSION = 1
MAX_HEADER = 1 << 20
DTYPES = {"uint8": np.dtype("<u1"), "uint16": np.dtype("<u2"), "float32": np.dtype("<f4")}
MODEL_CACHE_SIZE = 2
PARENT_POLL_S = 0.5
PROGRESS_INTERVAL_S = 0.1  # least time between two progress events of a job


class ProtocolError(Exception):
    """A request the worker cannot parse or that breaks the protocol; answered, never fatal."""


class FramingError(ProtocolError):
    """The byte stream is out of step (absurd header length); the worker cannot resynchronise."""


# ---------------------------------------------------------------------------------------------
# framing


def read_exact(stream: IO[bytes], n: int) -> bytes | None:
    """Read exactly ``n`` bytes, or return None at end of file (also mid-message)."""
    data = stream.read(n) if n else b""
    if not data or len(data) == n:
        return data if len(data) == n else None
    buf = bytearray(data)  # a raw stream returns what the pipe has; keep reading
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(stream: IO[bytes]) -> tuple[dict[str, Any], bytes | None] | None:
    """Read one frame: ``(header, payload)``; None at end of file.

    Raises :class:`ProtocolError` for a header that is not a JSON object (the frame is consumed, so
    the stream stays in step) and :class:`FramingError` for a length that cannot be a header.
    """
    prefix = read_exact(stream, 4)
    if prefix is None:
        return None
    (length,) = struct.unpack(">I", prefix)
    if length > MAX_HEADER:
        raise FramingError(f"header length {length} exceeds {MAX_HEADER} bytes; the stream is out of step")
    raw = read_exact(stream, length)
    if raw is None:
        return None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"header is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"header must be a JSON object, got {type(header).__name__}")
    nbytes = header.get("nbytes")
    if nbytes is None:
        return header, None
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 0:
        raise ProtocolError(f"nbytes must be a non-negative integer, got {nbytes!r}")
    payload = read_exact(stream, nbytes)
    if payload is None:
        return None
    return header, payload


class FrameWriter:
    """Writes whole frames to the protocol stream; safe to call from several threads."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, header: dict[str, Any], payload: bytes | memoryview | None = None) -> None:
        if payload is not None:
            header = dict(header, nbytes=memoryview(payload).nbytes)
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._stream.write(struct.pack(">I", len(raw)) + raw)
            if payload is not None:
                self._stream.write(payload)
            self._stream.flush()

    def error(self, job_id: Any, kind: str, message: str) -> None:
        self.send({"event": "error", "id": job_id, "type": kind, "message": message})


# ---------------------------------------------------------------------------------------------
# requests


def parse_upscale(header: dict[str, Any], payload: bytes | None) -> dict[str, Any]:
    """Check an upscale request and turn it into keyword arguments plus the decoded image."""
    dtype_name = header.get("dtype")
    if dtype_name not in DTYPES:
        raise ProtocolError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype_name!r}")
    shape = header.get("shape")
    if (not isinstance(shape, list) or len(shape) not in (2, 3)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise ProtocolError(f"shape must be [h, w] or [h, w, c] of positive integers, got {shape!r}")
    dtype = DTYPES[dtype_name]
    expected = int(np.prod(shape)) * dtype.itemsize
    got = 0 if payload is None else len(payload)
    if got != expected:
        raise ProtocolError(f"nbytes is {got} but shape {shape} of {dtype_name} needs {expected}")
    image = np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=True)
    scale = header.get("scale")
    if isinstance(scale, list):
        scale = tuple(scale)
    size = header.get("size")
    if isinstance(size, list):
        size = tuple(size)
    self_ensemble, linear = header.get("self_ensemble", False), _flag(header, "linear")
    if not isinstance(self_ensemble, (bool, int)):  # which counts are allowed is the engine's to say
        raise ProtocolError(f"self_ensemble must be true, false or a number of views, got {self_ensemble!r}")
    region = header.get("region")
    if isinstance(region, list):
        region = tuple(region)
    return {"image": image, "scale": scale, "size": size, "model": header.get("model"),
            "device": header.get("device") or "auto", "tile": header.get("tile"), "self_ensemble": self_ensemble,
            "region": region, "linear": linear}


def _flag(header: dict[str, Any], name: str) -> bool:
    """An optional true/false field of a request (false when absent)."""
    value = header.get(name, False)
    if not isinstance(value, bool):
        raise ProtocolError(f"{name} must be true or false, got {value!r}")
    return value


def encode_pixels(image: np.ndarray) -> tuple[dict[str, Any], memoryview]:
    """The result header fields and the little-endian C-order bytes of ``image``."""
    name = image.dtype.name
    if name not in DTYPES:
        raise TypeError(f"engine returned unsupported dtype {image.dtype}")
    out = np.ascontiguousarray(image, dtype=DTYPES[name])
    return {"shape": list(out.shape), "dtype": name}, memoryview(out).cast("B")


def classify(exc: BaseException) -> tuple[str, str]:
    """Map an engine exception to the protocol's error ``type`` and a message a user can act on."""
    from liif_core.errors import Cancelled, InputError, LiifError, MemoryLimitError, ModelError

    for cls in (Cancelled, MemoryLimitError, InputError, ModelError):
        if isinstance(exc, cls):
            return cls.__name__, str(exc)
    if isinstance(exc, LiifError):
        return "InputError", str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "OutOfMemory", (f"ran out of memory ({exc}); use a smaller tile size, a smaller scale, "
                               "or device 'cpu'")
    return "InternalError", f"{type(exc).__name__}: {exc} (details are in the worker's log)"


# ---------------------------------------------------------------------------------------------
# the engine side


def release_gpu_memory() -> None:
    """After running out of GPU memory, hand the cached blocks back so the next job can start clean."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def available_devices() -> list[str]:
    import torch

    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


# a job shorter than this is no measure of speed: its fixed costs dominate it (a 6 x 4 layer's first job,
# 0.12 s, measured 100 times too slow a speed, and the next dialog said "about 8 min" for a 5 s job)
SPEED_MIN_SECONDS = 0.5


class Engine:
    """Runs upscale jobs and keeps the most recently used models loaded, keyed by (model, device).

    It also knows how fast each kind of device runs (multiply-adds per second of the last job,
    remembered across worker runs by :mod:`liif_core.speed_memory`) and how much work each model
    does per pixel, so that a dialog can say how long a job will take before it starts
    (``info()``'s ``speed`` and ``work``)."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], Any] = {}
        # replaced whole, never changed in place: info() reads them from the reader thread
        self._speed: dict[str, float] | None = None  # filled from speed_memory on first use
        self._work: dict[str, list[int]] | None = None  # the bundled models' on first use, then measured ones

    def model(self, source: str | None, device: str) -> Any:
        import liif_core

        key = (source or "default", device)
        if key in self._models:
            self._models[key] = self._models.pop(key)  # most recently used last
            return self._models[key]
        while len(self._models) >= MODEL_CACHE_SIZE:
            self._models.pop(next(iter(self._models)))
        loaded = liif_core.load_model(source=key[0], device=device)
        self._models[key] = loaded
        return loaded

    def upscale(self, job: dict[str, Any], progress: Callable[[int, int], None],
                cancel: Callable[[], bool]) -> np.ndarray:
        import liif_core

        model = self.model(job["model"], job["device"])
        totals = []  # upscale's own count of the work, in decoded output pixels (see liif_core.tiling.Plan)

        def counted(done: int, total: int) -> None:
            totals.append(total)
            progress(done, total)

        start = time.perf_counter()
        out = liif_core.upscale(job["image"], scale=job["scale"], size=job["size"], model=model,
                                device=job["device"], tile=job["tile"], progress=counted, cancel=cancel,
                                self_ensemble=job["self_ensemble"], region=job.get("region"),
                                linear=job.get("linear", False))
        if job.get("region") is None and totals and totals[-1]:  # a preview is too short to be a measure
            self._measured(job, model, totals[-1], time.perf_counter() - start)
        return out

    def estimate(self, job: dict[str, Any]) -> dict[str, Any]:
        """What ``job`` would cost: ``work`` (its progress total) and ``seconds`` at the speed measured on
        its kind of device (``None`` before any measurement there)."""
        import liif_core
        from liif_core.query import work_per_pixel

        model = self.model(job["model"], job["device"])
        work = liif_core.work(job["image"], scale=job["scale"], size=job["size"], model=model, tile=job["tile"],
                              self_ensemble=job["self_ensemble"], region=job.get("region"),
                              linear=job.get("linear", False))
        speed = self.speed().get(model.device.type)
        return {"work": work, "seconds": work * work_per_pixel(model.net)[1] / speed if speed else None}

    def _measured(self, job: dict[str, Any], model: Any, work: int, seconds: float) -> None:
        from liif_core import speed_memory
        from liif_core.query import work_per_pixel

        per_input, per_output = work_per_pixel(model.net)
        self._work = {**self.work(), job["model"] or "default": [per_input, per_output]}
        macs = work * per_output  # the work done, flat areas that needed no decoding left out
        kind = model.device.type
        if seconds >= SPEED_MIN_SECONDS:
            self._speed = {**self.speed(), kind: macs / seconds}
            speed_memory.remember(speed_memory.device_identity(model.device, model.decoder_dtype), macs / seconds)

    def speed(self) -> dict[str, float]:
        """Multiply-adds per second by kind of device (``cpu``, ``cuda``, ``mps``): this worker's
        last measurement, else the one an earlier worker remembered for the same device and the
        precision this worker's models will use there."""
        if self._speed is None:
            from liif_core import speed_memory
            from liif_core.devices import resolve_device, resolve_precision
            from liif_core.errors import InputError

            remembered = speed_memory.load()
            found = {}
            for kind in {d.split(":")[0] for d in available_devices()}:
                device = resolve_device(kind)
                try:
                    dtype = resolve_precision(None, device)
                except InputError:  # a bad LIIF_UPSCALE_PRECISION: the job says so, no estimate here
                    continue
                found[kind] = remembered.get(speed_memory.device_identity(device, dtype))
            self._speed = {kind: speed for kind, speed in found.items() if speed}
        return self._speed

    def work(self) -> dict[str, list[int]]:
        """Multiply-adds per input and per output pixel of each model, by the name a request gives
        (``default`` too): the bundled models' from their architecture, others' once they ran."""
        if self._work is None:
            import liif_core
            from liif_core.query import work_per_pixel
            from liif_core.weights import DEFAULT_MODEL, architecture

            work = {}
            for name in liif_core.list_models():
                try:
                    work[name] = list(work_per_pixel(architecture(name)))
                except Exception:  # a broken file is reported when a job loads it, not here
                    continue
            if DEFAULT_MODEL in work:
                work["default"] = work[DEFAULT_MODEL]
            self._work = work
        return self._work

    def info(self) -> dict[str, Any]:
        import torch

        import liif_core
        from liif_core.devices import resolve_device
        from liif_core.weights import jpeg_models, model_summaries

        return {"models": liif_core.list_models(), "summaries": model_summaries(), "jpeg_models": jpeg_models(),
                "device": str(resolve_device("auto")), "devices": available_devices(),
                "python": platform.python_version(), "torch": torch.__version__,
                "liif_core": getattr(liif_core, "__version__", "unknown"), "speed": self.speed(), "work": self.work()}


# ---------------------------------------------------------------------------------------------
# the worker


class Worker:
    """Reader thread answers ping/info/cancel at once and queues upscale jobs for the main thread."""

    def __init__(self, stdin: IO[bytes], writer: FrameWriter, engine: Engine | None = None,
                 on_eof: Callable[[], None] | None = None):
        self.stdin = stdin
        self.out = writer
        self.engine = engine or Engine()
        self.on_eof = on_eof
        self.jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending: set[Any] = set()  # ids queued or running
        self._cancelled: set[Any] = set()

    # reader thread -----------------------------------------------------------------------
    def read_loop(self) -> None:
        """Read frames until end of file; then call ``on_eof`` (exit at once) or let the main loop stop."""
        try:
            while True:
                try:
                    frame = read_frame(self.stdin)
                except FramingError as exc:
                    self.out.error(None, "ProtocolError", f"{exc}; the worker exits")
                    break
                except ProtocolError as exc:
                    self.out.error(None, "ProtocolError", str(exc))
                    continue
                if frame is None:
                    break
                self.dispatch(*frame)
        except Exception:  # noqa: BLE001  (log it; never leave the main loop waiting on a dead reader)
            traceback.print_exc()
        finally:
            if self.on_eof is not None:
                self.on_eof()
            self.jobs.put(None)

    def dispatch(self, header: dict[str, Any], payload: bytes | None) -> None:
        op, job_id = header.get("op"), header.get("id")
        try:
            if not isinstance(job_id, (int, str, type(None))) or isinstance(job_id, bool):
                job_id = None
                raise ProtocolError("id must be an integer, a string or null")
            if op in ("upscale", "estimate", "forget"):
                job = parse_upscale(header, payload) if op != "forget" else {}
                job["id"], job["op"] = job_id, op
                with self._lock:
                    if job_id in self._pending:
                        raise ProtocolError(f"a job with id {job_id!r} is already queued or running")
                    self._pending.add(job_id)
                self.jobs.put(job)
            elif op == "cancel":
                with self._lock:
                    if job_id in self._pending:
                        self._cancelled.add(job_id)
            elif op == "ping":
                self.out.send({"event": "pong", "id": job_id, "protocol": PROTOCOL_VERSION, "pid": os.getpid()})
            elif op == "info":
                info = self.engine.info()
                self.out.send(dict(info, event="info", id=job_id, protocol=PROTOCOL_VERSION, pid=os.getpid()))
            else:
                raise ProtocolError(f"unknown op {op!r}; expected upscale, estimate, forget, cancel, "
                                    "ping or info")
        except ProtocolError as exc:
            self.out.error(job_id, "ProtocolError", str(exc))
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply; the worker goes on)
            traceback.print_exc()
            self.out.error(job_id, *classify(exc))

    # main thread -------------------------------------------------------------------------
    def is_cancelled(self, job_id: Any) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def run_job(self, job: dict[str, Any]) -> None:
        job_id = job["id"]

        last_sent = [float("-inf")]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if 0 < done < total and now - last_sent[0] < PROGRESS_INTERVAL_S:
                return  # the engine reports every chunk; the editor needs a few updates a second
            last_sent[0] = now
            fraction = done / total if total else 1.0
            self.out.send({"event": "progress", "id": job_id, "done": done, "total": total, "fraction": fraction})

        try:
            if self.is_cancelled(job_id):
                self.out.error(job_id, "Cancelled", "upscale cancelled")
                return
            if job["op"] == "estimate":
                self.out.send(dict(self.engine.estimate(job), event="estimate", id=job_id))
                return
            if job["op"] == "forget":
                import liif_core

                self.out.send({"event": "forgotten", "id": job_id, "released": liif_core.forget()})
                return
            result = self.engine.upscale(job, progress, lambda: self.is_cancelled(job_id))
            fields, data = encode_pixels(result)
            self.out.send(dict(fields, event="result", id=job_id), data)
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply; the worker goes on)
            kind, message = classify(exc)
            if kind not in ("Cancelled", "InputError", "MemoryLimitError"):
                traceback.print_exc()
            if kind == "OutOfMemory":
                release_gpu_memory()
            self.out.error(job_id, kind, message)
        finally:
            with self._lock:
                self._pending.discard(job_id)
                self._cancelled.discard(job_id)

    def serve(self) -> None:
        threading.Thread(target=self.read_loop, name="liif-reader", daemon=True).start()
        while True:
            job = self.jobs.get()
            if job is None:
                return
            self.run_job(job)


# ---------------------------------------------------------------------------------------------
# process plumbing


def parent_alive(pid: int) -> bool:
    """Whether the process that started the worker still runs."""
    if os.name == "nt":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    return os.getppid() == pid


def watch_parent(pid: int) -> None:
    """Exit the whole process as soon as the parent is gone (runs on a daemon thread)."""
    while parent_alive(pid):
        time.sleep(PARENT_POLL_S)
    hard_exit()


def claim_stdout() -> IO[bytes]:
    """Take the real stdout for the protocol and send everything else printed there to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if os.name == "nt":
        import msvcrt

        msvcrt.setmode(fd, os.O_BINARY)
        msvcrt.setmode(0, os.O_BINARY)
    return os.fdopen(fd, "wb", buffering=1 << 16)


def main() -> int:
    parent = os.getppid()
    protocol_out = claim_stdout()
    if parent > 1:
        threading.Thread(target=watch_parent, args=(parent,), name="liif-parent", daemon=True).start()
    worker = Worker(sys.stdin.buffer, FrameWriter(protocol_out), on_eof=hard_exit)
    try:
        worker.serve()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    hard_exit()
    return 0


def hard_exit() -> None:
    """Leave now, even mid-job: nobody is left to read a result, and library threads must not hold us."""
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
