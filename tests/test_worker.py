"""The worker and its client, end to end: a real ``python -m liif_core.worker`` started by ``WorkerClient``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import liif_core
from plugin.common import (
    WorkerCancelled,
    WorkerClient,
    WorkerCrashed,
    WorkerError,
    WorkerNotConfigured,
    WorkerTimeout,
    config_path,
)
from plugin.common.client import encode_frame, read_frame

REPO = str(Path(__file__).resolve().parents[1])
POSIX = pytest.mark.skipif(os.name != "posix", reason="uses POSIX shell scripts and signals")


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a test worker: this Python, with the repository importable."""
    env = dict(os.environ, LIIF_UPSCALE_PYTHON=sys.executable, **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    return env


@pytest.fixture
def worker_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the client at this Python and this repository, as a developer would."""
    for key, value in worker_env().items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def client() -> WorkerClient:
    """One worker shared by the tests that only send requests (starting torch costs seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in worker_env().items():
            mp.setenv(key, value)
        c = WorkerClient()
        c.start()
    yield c
    c.close()


def random_image(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)


def via_worker(client: WorkerClient, image: np.ndarray, **kwargs) -> np.ndarray:
    data, shape, dtype = client.upscale(image.tobytes(), image.shape, image.dtype.name, **kwargs)
    assert len(data) == int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def measure_speed(client: WorkerClient, model: str) -> dict[str, Any]:
    """Jobs of growing size on the CPU until one lasts long enough for the worker to measure its speed
    (``SPEED_MIN_SECONDS``: the tiny test model is fast); returns the worker's info then."""
    from liif_core.worker import SPEED_MIN_SECONDS

    side, info = 128, client.info()
    while not info["speed"]:
        started = time.monotonic()
        via_worker(client, random_image((side, side, 3), "uint8"), scale=4, model=model, device="cpu")
        took, info = time.monotonic() - started, client.info()
        assert info["speed"] or took < 4 * SPEED_MIN_SECONDS, f"a job of {took:.1f} s measured no speed"
        side *= 2
    return info


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def fake_python(tmp_path: Path, body: str) -> str:
    """A stand-in 'interpreter': a shell script that ignores ``-m liif_core.worker``."""
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


# ---------------------------------------------------------------------------------------------
# exact round trips


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_round_trip_is_bit_exact(client: WorkerClient, tiny_model_path: Path, dtype: str, channels: int) -> None:
    image = random_image((9, 7, channels), dtype, seed=channels)
    expected = liif_core.upscale(image, scale=2, model=str(tiny_model_path), device="cpu")
    got = via_worker(client, image, scale=2, model=str(tiny_model_path), device="cpu")
    assert got.dtype == expected.dtype and got.shape == expected.shape == (18, 14, channels)
    assert got.tobytes() == expected.tobytes()


def test_round_trip_of_a_2d_image_and_size_and_anisotropic_scale(client: WorkerClient, tiny_model_path: Path) -> None:
    model = str(tiny_model_path)
    gray = random_image((9, 7), "uint8")
    expected = liif_core.upscale(gray, size=(20, 11), model=model, device="cpu")
    got = via_worker(client, gray, size=(20, 11), model=model, device="cpu")
    assert got.shape == expected.shape and got.tobytes() == expected.tobytes()
    rgb = random_image((9, 7, 3), "float32")
    expected = liif_core.upscale(rgb, scale=(3, 1.5), model=model, device="cpu")
    got = via_worker(client, rgb, scale=(3, 1.5), model=model, device="cpu")
    assert got.shape == expected.shape and got.tobytes() == expected.tobytes()


def test_a_region_round_trip(client: WorkerClient, tiny_model_path: Path) -> None:
    """A preview's window through the worker: the engine's region, bit for bit; a bad one is an
    InputError that leaves the worker running."""
    model = str(tiny_model_path)
    image = random_image((9, 7, 4), "uint16")
    expected = liif_core.upscale(image, size=(20, 25), model=model, device="cpu", region=(3, 4, 10, 6))
    got = via_worker(client, image, size=(20, 25), model=model, device="cpu", region=(3, 4, 10, 6))
    assert got.shape == (6, 10, 4) and got.tobytes() == expected.tobytes()
    with pytest.raises(WorkerError, match="not inside") as info:
        via_worker(client, image, size=(20, 25), model=model, device="cpu", region=(15, 0, 10, 6))
    assert info.value.type == "InputError" and client.ping() >= 0


@pytest.mark.parametrize("option, value, dtype", [("self_ensemble", True, "uint16"), ("self_ensemble", 2, "uint8"),
                                                  ("linear", True, "float32")])
def test_options_round_trip(client: WorkerClient, tiny_model_path: Path, option: str, value: bool | int,
                            dtype: str) -> None:
    """``self_ensemble`` (all 8 views, or a number of them) and ``linear`` reach the engine: the worker's
    result is the engine's with the option set, which differs from the one without."""
    image = random_image((9, 7, 4), dtype, seed=5)
    model = str(tiny_model_path)
    expected = liif_core.upscale(image, size=(20, 13), model=model, device="cpu", **{option: value})
    plain = liif_core.upscale(image, size=(20, 13), model=model, device="cpu")
    got = via_worker(client, image, size=(20, 13), model=model, device="cpu", **{option: value})
    assert got.tobytes() == expected.tobytes() != plain.tobytes()


def test_payloads_larger_than_a_pipe_buffer(client: WorkerClient, tiny_model_path: Path) -> None:
    """48 KiB in and 192 KiB out: more than a pipe holds, so both sides must read and write in pieces."""
    image = random_image((64, 48, 4), "float32", seed=7)
    expected = liif_core.upscale(image, scale=2, model=str(tiny_model_path), device="cpu")
    got = via_worker(client, image, scale=2, model=str(tiny_model_path), device="cpu")
    assert got.tobytes() == expected.tobytes()


# ---------------------------------------------------------------------------------------------
# progress and cancel


def test_progress_arrives_in_order(client: WorkerClient, tiny_model_path: Path) -> None:
    events: list[tuple[int, int]] = []
    image = random_image((24, 24, 4), "uint8")  # RGBA: colour tiles, then alpha tiles
    via_worker(client, image, scale=2, model=str(tiny_model_path), tile=8, progress=lambda d, t: events.append((d, t)))
    total = events[0][1]
    done = [d for d, _ in events]
    assert total > 2 * 48 * 48 and all(t == total for _, t in events)  # colour and alpha, in decoded pixels
    assert done[0] == 0 and done[-1] == total and all(a < b for a, b in zip(done, done[1:]))


def test_cancel_callable_stops_the_job_and_the_worker_stays_usable(client: WorkerClient,
                                                                     tiny_model_path: Path) -> None:
    pid = client.pid
    seen: list[int] = []
    image = random_image((96, 96, 3), "uint8")
    with pytest.raises(WorkerCancelled) as info:
        via_worker(client, image, scale=2, model=str(tiny_model_path), tile=8,
                   progress=lambda d, t: seen.append(d), cancel=lambda: len(seen) >= 1)
    assert info.value.type == "Cancelled"
    assert seen[-1] < 192 * 192  # stopped between chunks, before the last of the 12 x 12 tiles
    small = random_image((9, 7, 3), "uint8")
    expected = liif_core.upscale(small, scale=2, model=str(tiny_model_path), device="cpu")
    assert via_worker(client, small, scale=2, model=str(tiny_model_path), device="cpu").tobytes() == expected.tobytes()
    assert client.pid == pid


def test_cancel_from_another_thread(client: WorkerClient, tiny_model_path: Path) -> None:
    started = threading.Event()
    image = random_image((96, 96, 3), "uint8")
    canceller = threading.Thread(target=lambda: started.wait(30) and client.cancel())
    canceller.start()
    try:
        with pytest.raises(WorkerCancelled):
            via_worker(client, image, scale=2, model=str(tiny_model_path), tile=8,
                       progress=lambda d, t: d >= 1 and started.set())
    finally:
        started.set()
        canceller.join()
    assert client.ping() >= 0


def test_error_reply_keeps_the_worker(client: WorkerClient, tiny_model_path: Path) -> None:
    pid = client.pid
    image = random_image((9, 7, 3), "uint8")
    with pytest.raises(WorkerError) as info:
        via_worker(client, image, model=str(tiny_model_path))  # neither scale nor size
    assert info.value.type == "InputError" and str(info.value)
    with pytest.raises(WorkerError) as info:
        via_worker(client, image, scale=2, model=str(Path(REPO) / "no-such-model.safetensors"))
    assert info.value.type == "ModelError"
    assert client.ping() >= 0 and client.pid == pid


def test_info(client: WorkerClient) -> None:
    info = client.info()
    assert info["protocol"] == 1 and info["pid"] == client.pid
    assert isinstance(info["models"], list)
    assert sorted(info["summaries"]) == sorted(info["models"])  # what each is for, for the plug-ins' model list
    assert set(info["jpeg_models"]) <= set(info["models"])
    assert info["device"] in ("cpu", "cuda", "mps") and "cpu" in info["devices"]
    assert info["python"] and info["torch"]


def test_model_auto_is_the_model_made_for_the_file_the_image_came_from(client: WorkerClient) -> None:
    """``model="auto"`` with ``opened_from``: the bundled JPEG model for a JPEG file, the default for any
    other (or none), the same pixels as ``liif_core.upscale`` with that model; the estimate too."""
    from liif_core.weights import jpeg_models

    image = random_image((7, 9, 3), "uint8", seed=9)
    for opened_from, model in (("/photos/Holiday.JPG", (jpeg_models() or ["default"])[0]),
                               ("/work/mockup.png", "default"), (None, "default")):
        expected = liif_core.upscale(image, scale=2, model=model, device="cpu")
        got = via_worker(client, image, scale=2, model="auto", opened_from=opened_from, device="cpu")
        assert got.tobytes() == expected.tobytes(), (opened_from, model)
        assert client.model_for("auto", opened_from) == (None if model == "default" else model)
        client.estimate(image.tobytes(), image.shape, "uint8", scale=2, model="auto", opened_from=opened_from,
                        device="cpu")  # accepted: the worker knows the model it stands for
    if jpeg_models():  # and the choice mattered
        assert not np.array_equal(via_worker(client, image, scale=2, model="auto", opened_from="a.jpg", device="cpu"),
                                  liif_core.upscale(image, scale=2, model="default", device="cpu"))


def test_model_summaries_and_jpeg_models_come_from_the_cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bundled model's card says what it is for, and whether it is made for JPEG inputs; a model
    without a card, or with a broken one, has no summary instead of breaking the list."""
    from liif_core import weights

    for name in ("liif-edsr", "photo", "nocard", "broken"):
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
    (tmp_path / "liif-edsr.json").write_text(json.dumps({"summary": "The default."}))
    (tmp_path / "photo.json").write_text(json.dumps({"name": "photo", "summary": "For JPEG photographs.",
                                                     "inputs": "jpeg"}))
    (tmp_path / "broken.json").write_text("{")
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    assert weights.model_summaries() == {"liif-edsr": "The default.", "broken": "", "nocard": "",
                                         "photo": "For JPEG photographs."}
    assert list(weights.model_summaries()) == ["liif-edsr", "broken", "nocard", "photo"]  # the default first
    assert weights.jpeg_models() == ["photo"]


def test_info_reports_the_speed_of_finished_jobs(worker_setup: None, tiny_model_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A worker on a machine that never ran a job knows no speed, but the work of the bundled
    models; after a job, info() has the model's work per pixel and, once a job lasted long enough to
    measure it, the device's speed, from which the dialogs estimate the next job
    (plugin/common/time_left.py), and so has the next worker."""
    from liif_core import speed_memory
    from liif_core.query import work_per_pixel
    from plugin.common.time_left import estimate_seconds

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = str(tiny_model_path)
    with WorkerClient() as fresh:
        before = fresh.info()
        assert before["speed"] == {} and model not in before["work"]
        assert estimate_seconds(before, model, "cpu", 63, 252) is None
        via_worker(fresh, random_image((9, 7, 3), "uint8"), scale=2, model=model, device="cpu")
        after = fresh.info()
        assert after["speed"] == {} and model in after["work"]  # far too short a job to measure
        after = measure_speed(fresh, model)
    net = liif_core.load_model(model, device="cpu").net
    assert after["work"][model] == list(work_per_pixel(net))
    assert set(after["speed"]) == {"cpu"} and after["speed"]["cpu"] > 0
    one = estimate_seconds(after, model, "cpu", 63, 252)
    assert one == pytest.approx(sum(w * n for w, n in zip(after["work"][model], (63, 252))) / after["speed"]["cpu"])
    assert estimate_seconds(after, model, "cpu", 63, 252, self_ensemble=True) == pytest.approx(8 * one)

    assert list(speed_memory.load().values()) == [after["speed"]["cpu"]]
    with WorkerClient() as later:
        again = later.info()
    assert again["speed"] == after["speed"] and model not in again["work"]


def test_estimate_says_what_a_job_will_take_from_its_pixels(worker_setup: None, tiny_model_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Before any job has measured the device the worker cannot tell the time; after one, an estimate is
    the job's own work (liif_core.work: flat areas cost nothing) at the measured speed, so a mostly flat
    image is estimated well below what its size alone gives, and an image of one colour at 0 s."""
    from liif_core.query import work_per_pixel
    from plugin.common.time_left import estimate_seconds

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = str(tiny_model_path)
    image = random_image((30, 40, 4), "uint8", seed=3)
    image[..., 3] = 255  # opaque: one plane, as the size-only estimate assumes
    image[:, 12:] = 255  # a white margin: flat
    pixels = image.tobytes()
    with WorkerClient() as worker:
        assert worker.estimate(pixels, image.shape, "uint8", scale=3, model=model, device="cpu") is None
        info = measure_speed(worker, model)
        seconds = worker.estimate(pixels, image.shape, "uint8", scale=3, model=model, device="cpu")
        ensemble = worker.estimate(pixels, image.shape, "uint8", scale=3, model=model, device="cpu",
                                   self_ensemble=True)
        white = np.full_like(image, 255).tobytes()
        assert worker.estimate(white, image.shape, "uint8", scale=3, model=model, device="cpu") == 0
        with pytest.raises(WorkerError, match="only enlarges") as error:
            worker.estimate(pixels, image.shape, "uint8", scale=0.5, model=model, device="cpu")
        assert error.value.type == "InputError"
    tiny = liif_core.load_model(model, device="cpu")
    work = liif_core.work(image, scale=3, model=tiny)
    assert seconds == pytest.approx(work * work_per_pixel(tiny.net)[1] / info["speed"]["cpu"])
    assert seconds < 0.7 * estimate_seconds(info, model, "cpu", 30 * 40, 90 * 120)
    assert ensemble == pytest.approx(8 * seconds, rel=0.05)


def test_forget_releases_what_the_estimates_kept(tiny_model_path: Path) -> None:
    """An estimate keeps what it prepared from the pixels for the job it expects; a forget request,
    queued behind it, releases that and says how much it held. The client's forget() never waits
    and never starts a worker; its reply is dropped by the next request."""
    proc = subprocess.Popen([sys.executable, "-m", "liif_core.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=worker_env())
    image = random_image((30, 40, 4), "uint8", seed=5)
    try:
        pixels = image.tobytes()
        estimate = encode_frame({"op": "estimate", "id": 1, "shape": list(image.shape), "dtype": "uint8",
                                 "scale": 2, "model": str(tiny_model_path), "device": "cpu"}, pixels)
        proc.stdin.write(estimate + pixels + encode_frame({"op": "forget", "id": 2})
                         + encode_frame({"op": "forget", "id": 3}))
        proc.stdin.flush()
        replies = [read_frame(proc.stdout)[0] for _ in range(3)]
        assert [(r["event"], r["id"]) for r in replies] == [("estimate", 1), ("forgotten", 2), ("forgotten", 3)]
        assert replies[1]["released"] >= 30 * 40 * 4 * 4  # the colour and alpha planes, float32
        assert replies[2]["released"] == 0  # nothing left
    finally:
        proc.kill()
        proc.wait()

    idle = WorkerClient()
    idle.forget()
    assert idle.pid is None  # nothing to forget: no worker started for it
    with pytest.MonkeyPatch.context() as mp:
        for key, value in worker_env().items():
            mp.setenv(key, value)
        with WorkerClient() as worker:
            args = (image.tobytes(), image.shape, "uint8")
            worker.estimate(*args, scale=2, model=str(tiny_model_path), device="cpu")
            worker.forget()
            seconds = worker.estimate(*args, scale=3, model=str(tiny_model_path), device="cpu")
            assert seconds is None or seconds >= 0  # its own reply, after the forget's was dropped


def test_info_knows_the_work_of_bundled_models_before_any_job(client: WorkerClient) -> None:
    """The first dialog of a session can estimate: the bundled models' work comes from their
    architecture, the same numbers a loaded model gives."""
    from liif_core.query import work_per_pixel

    work = client.info()["work"]
    names = liif_core.list_models()
    if not names:
        pytest.skip("no bundled weights in weights/")
    for name in names:
        assert work[name] == list(work_per_pixel(liif_core.load_model(name, device="cpu").net))
    assert work["default"] == work[names[0]]


def test_info_and_a_job_import_no_compiler() -> None:
    """A worker's first info (the bundled models' work, from their architecture on the ``meta``
    device) and its first job load no ``torch._dynamo``: importing it took 1.1 s, which made
    starting a worker and answering its first info take 2.2-2.6 s instead of 1.2-1.3 s."""
    if not liif_core.list_models():
        pytest.skip("no bundled weights in weights/")
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from liif_core import worker
        engine = worker.Engine()
        assert engine.info()["work"]
        job = {"model": None, "device": "cpu", "image": np.zeros((6, 5, 3), np.uint8), "scale": 2, "size": None,
               "tile": None, "self_ensemble": False}
        engine.upscale(job, lambda done, total: None, lambda: False)
        print(sorted(m for m in sys.modules if m.startswith("torch._dynamo")))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=worker_env(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def run_timed(monkeypatch: pytest.MonkeyPatch, engine, model: str, image: np.ndarray, seconds: float,
              self_ensemble: bool = False) -> None:
    """One job through ``engine`` that its speed measurement sees last exactly ``seconds``."""
    from liif_core import worker

    clock = iter([10.0, 10.0 + seconds])
    monkeypatch.setattr(worker.time, "perf_counter", lambda: next(clock))
    engine.upscale({"image": image, "scale": 2, "size": None, "model": model, "device": "cpu", "tile": None,
                    "self_ensemble": self_ensemble}, lambda done, total: None, lambda: False)


@pytest.mark.parametrize("alpha, self_ensemble, passes", [(255, False, 1), (None, False, 2), (None, True, 16),
                                                         (128, False, 1)])
def test_speed_counts_the_work_done(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_path: Path,
                                    alpha: int | None, self_ensemble: bool, passes: int) -> None:
    """The measured speed counts the work of every pass: a varying alpha is a second plane, the
    self-ensemble 8 views of each, and a flat alpha (128 everywhere) needs no decoding (a job made
    to last exactly 1 s: speed = multiply-adds; the encoder's share is counted in whole pixels)."""
    from liif_core import worker
    from liif_core.query import work_per_pixel

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    image = random_image((9, 7, 4), "uint8")
    if alpha is not None:
        image[..., 3] = alpha
    engine = worker.Engine()
    run_timed(monkeypatch, engine, str(tiny_model_path), image, 1.0, self_ensemble)
    per_input, per_output = work_per_pixel(liif_core.load_model(str(tiny_model_path), device="cpu").net)
    expected = passes * (per_input * 9 * 7 + per_output * 18 * 14)
    assert engine.info()["speed"]["cpu"] == pytest.approx(expected, rel=0.5 * per_output / expected * passes)


def test_a_short_job_is_no_measure_of_speed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            tiny_model_path: Path) -> None:
    """Fixed costs dominate a job under SPEED_MIN_SECONDS: it neither fills the gap before the first
    measurement (a tiny layer's first job once made the next dialog expect 100 times too long) nor
    replaces one, whether this worker made it or an earlier one left it on disk."""
    import torch

    from liif_core import speed_memory, worker

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    image, model = random_image((9, 7, 3), "uint8"), str(tiny_model_path)
    short = worker.SPEED_MIN_SECONDS / 2
    first = worker.Engine()
    run_timed(monkeypatch, first, model, image, short)  # no speed known yet: still none
    assert first.info()["speed"] == {} and speed_memory.load() == {}
    run_timed(monkeypatch, first, model, image, 4 * short)  # long enough: taken
    measured = first.info()["speed"]["cpu"]
    run_timed(monkeypatch, first, model, image, short)  # known: kept
    assert first.info()["speed"]["cpu"] == measured
    run_timed(monkeypatch, first, model, image, 2 * short)  # long enough: replaces it
    assert first.info()["speed"]["cpu"] == pytest.approx(2 * measured)

    second = worker.Engine()
    run_timed(monkeypatch, second, model, image, short / 2)
    assert second.info()["speed"]["cpu"] == pytest.approx(2 * measured)
    assert speed_memory.load() == {speed_memory.device_identity(torch.device("cpu")): pytest.approx(2 * measured)}


def test_speed_is_remembered_per_precision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           tiny_model_path: Path) -> None:
    """bfloat16 and float32 decoders run 1.5-1.8x apart on a CPU: a worker started with the other
    precision gets no estimate from the first one's speed, and each keeps its own on disk."""
    import torch

    from liif_core import speed_memory, worker

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    image, model = random_image((9, 7, 3), "uint8"), str(tiny_model_path)
    cpu = torch.device("cpu")
    measured = {}
    for precision, seconds in (("float32", 2.0), ("bfloat16", 1.0)):
        monkeypatch.setenv("LIIF_UPSCALE_PRECISION", precision)
        engine = worker.Engine()
        assert engine.info()["speed"] == {}
        run_timed(monkeypatch, engine, model, image, seconds)
        measured[precision] = engine.info()["speed"]["cpu"]
    assert measured["bfloat16"] == pytest.approx(2 * measured["float32"])
    assert speed_memory.load() == {speed_memory.device_identity(cpu): measured["float32"],
                                   speed_memory.device_identity(cpu, torch.bfloat16): measured["bfloat16"]}
    assert speed_memory.device_identity(cpu, torch.bfloat16).endswith(" bfloat16")
    for precision in ("float32", "bfloat16"):
        monkeypatch.setenv("LIIF_UPSCALE_PRECISION", precision)
        assert worker.Engine().info()["speed"] == {"cpu": measured[precision]}
    monkeypatch.setenv("LIIF_UPSCALE_PRECISION", "half-ish")  # the job reports it; info() still answers
    assert worker.Engine().info()["speed"] == {}


@pytest.mark.parametrize("content", ["{not json", '{"version": 99, "speed": {"cpu: x": 5.0}}', '[1, 2]',
                                     '{"version": 1, "speed": {"cpu: x": "fast", "cpu: y": -1, "cpu: z": true}}'])
def test_an_unreadable_speed_file_is_ignored_and_rewritten(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           content: str) -> None:
    from liif_core import speed_memory

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    speed_memory.speed_file().parent.mkdir(parents=True)
    speed_memory.speed_file().write_text(content)
    assert speed_memory.load() == {}
    speed_memory.remember("cpu: test x2", 1e9)
    assert speed_memory.load() == {"cpu: test x2": 1e9}
    assert [p.name for p in speed_memory.cache_dir().iterdir()] == ["speed.json"]  # no temp files left


def test_an_unwritable_cache_costs_only_the_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from liif_core import speed_memory

    (tmp_path / "file").write_text("")  # the cache folder's parent is a file: nothing can be made
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    speed_memory.remember("cpu: test x2", 1e9)
    assert speed_memory.load() == {}


def test_client_rejects_bad_arguments_before_sending(client: WorkerClient) -> None:
    with pytest.raises(ValueError, match="needs 189"):
        client.upscale(b"\0" * 10, (9, 7, 3), "uint8", scale=2)
    with pytest.raises(ValueError, match="dtype"):
        client.upscale(b"\0" * 63, (9, 7), "int8", scale=2)


# ---------------------------------------------------------------------------------------------
# malformed requests, spoken directly to a worker


def test_malformed_requests_get_error_replies_and_the_worker_goes_on() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "liif_core.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=worker_env())

    def exchange(raw: bytes) -> dict:
        proc.stdin.write(raw)
        proc.stdin.flush()
        header, _ = read_frame(proc.stdout)
        return header

    try:
        garbage = b"this is not json{"
        reply = exchange(len(garbage).to_bytes(4, "big") + garbage)
        assert reply["event"] == "error" and reply["type"] == "ProtocolError" and reply["id"] is None
        reply = exchange(encode_frame({"op": "explode", "id": 1}))
        assert reply == {"event": "error", "id": 1, "type": "ProtocolError", "message": reply["message"]}
        assert "unknown op" in reply["message"]
        pixels = b"\0" * 63
        bad_dtype = encode_frame({"op": "upscale", "id": 2, "shape": [9, 7], "dtype": "int8", "scale": 2}, pixels)
        reply = exchange(bad_dtype + pixels)
        assert reply["id"] == 2 and reply["type"] == "ProtocolError" and "dtype" in reply["message"]
        ensemble = encode_frame({"op": "upscale", "id": 9, "shape": [9, 7], "dtype": "uint8", "scale": 2,
                                 "self_ensemble": "yes"}, pixels)
        reply = exchange(ensemble + pixels)
        assert reply["id"] == 9 and reply["type"] == "ProtocolError" and "self_ensemble" in reply["message"]
        linear = encode_frame({"op": "upscale", "id": 10, "shape": [9, 7], "dtype": "uint8", "scale": 2,
                               "linear": 1}, pixels)
        reply = exchange(linear + pixels)
        assert reply["id"] == 10 and reply["type"] == "ProtocolError" and "linear" in reply["message"]
        short = b"\0" * 10
        reply = exchange(encode_frame({"op": "upscale", "id": 3, "shape": [9, 7], "dtype": "uint8", "scale": 2},
                                      short) + short)
        assert reply["id"] == 3 and reply["type"] == "ProtocolError" and "nbytes" in reply["message"]
        assert exchange(encode_frame({"op": "ping", "id": 4}))["event"] == "pong"
        # A header length that cannot be real means the stream is out of step: reply, then exit.
        reply = exchange(b"\xff\xff\xff\xff")
        assert reply["type"] == "ProtocolError"
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# lifetime: parent death, crash, hang, missing interpreter, restart

PARENT = textwrap.dedent("""
    import subprocess, sys, time
    sys.path.insert(0, {repo!r})
    from plugin.common import WorkerClient
    client = WorkerClient()
    client.ping()
    holder = None
    if {hold_pipe!r}:
        # a grandchild that keeps the worker's stdin open: only the parent watch can end the worker
        fd = client._proc.popen.stdin.fileno()
        holder = subprocess.Popen(["sleep", "60"], pass_fds=[fd])
    print(client.pid, holder.pid if holder else 0, flush=True)
    time.sleep(60)
""")


@POSIX
@pytest.mark.parametrize("hold_pipe", [False, True], ids=["stdin-eof", "parent-watch"])
def test_killing_the_parent_ends_the_worker(hold_pipe: bool) -> None:
    script = PARENT.format(repo=REPO, hold_pipe=hold_pipe)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=worker_env(), text=True)
    holder = 0
    try:
        line = parent.stdout.readline()
        assert line, "the parent process did not start its worker"
        worker, holder = (int(x) for x in line.split())
        assert alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_gone(worker), f"worker {worker} outlived its parent"
    finally:
        parent.kill()
        if holder:
            os.kill(holder, signal.SIGKILL)


@POSIX
def test_crash_reports_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIIF_UPSCALE_PYTHON", fake_python(tmp_path, 'echo "ModuleNotFoundError: no torch" >&2\nexit 3'))
    client = WorkerClient()
    with pytest.raises(WorkerCrashed, match="no torch") as info:
        client.upscale(b"\0" * 63, (9, 7), "uint8", scale=2, timeout=30)
    assert info.value.returncode == 3 and "exit code 3" in str(info.value)
    with pytest.raises(WorkerCrashed, match="no torch"):  # the next call starts it again
        client.ping(timeout=30)
    client.close()


@POSIX
def test_hang_times_out_and_the_worker_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIIF_UPSCALE_PYTHON", fake_python(tmp_path, "exec sleep 60"))
    client = WorkerClient()
    client.start()
    pid = client.pid
    t0 = time.monotonic()
    with pytest.raises(WorkerTimeout):
        client.upscale(b"\0" * 63, (9, 7), "uint8", scale=2, timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert wait_gone(pid) and client.pid is None
    client.close()


def test_missing_interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIIF_UPSCALE_PYTHON", str(tmp_path / "no-such-python"))
    with pytest.raises(WorkerNotConfigured, match="LIIF_UPSCALE_PYTHON"):
        WorkerClient().ping()
    monkeypatch.delenv("LIIF_UPSCALE_PYTHON")
    monkeypatch.setenv("LIIF_UPSCALE_CONFIG", str(tmp_path / "config.json"))
    with pytest.raises(WorkerNotConfigured, match="install.py"):
        WorkerClient().ping()
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(WorkerNotConfigured, match="unreadable"):
        WorkerClient().ping()


def test_config_file_starts_the_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The installer's route: the editor's PYTHONPATH is dropped and ``repo`` put in its place."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"python": sys.executable, "repo": REPO}))
    monkeypatch.delenv("LIIF_UPSCALE_PYTHON", raising=False)
    monkeypatch.setenv("LIIF_UPSCALE_CONFIG", str(config))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "editor-site-packages"))
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "editor-python"))  # would break any other Python
    with WorkerClient() as client:
        assert client.ping() >= 0


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("cc") is None,
                    reason="builds a preloadable library with the C compiler (Linux)")
def test_an_appimages_preloaded_libraries_stay_out_of_the_worker(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """GIMP's AppImage starts plug-ins with every library it bundles in ``LD_PRELOAD`` (its ``AppRun``); a
    library of the AppImage's that cannot live in the worker's process (here: one that ends any process
    it is loaded into) must not reach the worker. One of the system's stays."""
    appdir = tmp_path / "GIMP.AppDir"
    (appdir / "usr" / "lib").mkdir(parents=True)
    source = tmp_path / "ends.c"
    source.write_text("#include <unistd.h>\n__attribute__((constructor)) static void ends(void) { _exit(42); }\n")
    lib = appdir / "usr" / "lib" / "libends.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(source)], check=True)
    outside = tmp_path / "system" / "libkept.so"  # a harmless library outside the AppImage
    outside.parent.mkdir()
    (tmp_path / "kept.c").write_text("int kept(void) { return 1; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(outside), str(tmp_path / "kept.c")], check=True)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"python": sys.executable, "repo": REPO}))
    monkeypatch.delenv("LIIF_UPSCALE_PYTHON", raising=False)
    monkeypatch.setenv("LIIF_UPSCALE_CONFIG", str(config))
    assert subprocess.run([sys.executable, "-c", "pass"], env=dict(os.environ, LD_PRELOAD=str(lib))).returncode == 42
    monkeypatch.setenv("APPDIR", str(appdir))
    monkeypatch.setenv("LD_PRELOAD", f"{lib} {outside}")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{appdir / 'usr' / 'lib'}:{outside.parent}")
    with WorkerClient() as client:
        assert client.ping() >= 0
        maps = Path(f"/proc/{client.pid}/maps").read_text()
        environ = Path(f"/proc/{client.pid}/environ").read_bytes().split(b"\0")
    assert "libkept.so" in maps and "libends.so" not in maps
    assert f"LD_LIBRARY_PATH={outside.parent}".encode() in environ


def test_config_path_per_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIIF_UPSCALE_CONFIG", str(tmp_path / "x.json"))
    assert config_path() == str(tmp_path / "x.json")
    monkeypatch.delenv("LIIF_UPSCALE_CONFIG")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
        assert config_path() == os.path.join(str(tmp_path), "liif-upscale", "config.json")
    assert config_path().endswith(os.path.join("liif-upscale", "config.json"))


@POSIX
def test_a_dead_worker_is_restarted_on_the_next_call(worker_setup: None) -> None:
    with WorkerClient() as client:
        client.ping()
        first = client.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while client.pid is not None and time.monotonic() < deadline:  # until the client has reaped it
            time.sleep(0.05)
        assert client.ping() >= 0
        assert client.pid not in (None, first)
