"""The benchmark evaluation: metric definitions, the degradation, and a tiny end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from liif_core import eval as ev
from liif_core.errors import InputError, ModelError

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _image(seed: int = 0, hw: tuple[int, int] = (40, 36)) -> np.ndarray:
    return np.random.default_rng(seed).random((*hw, 3))


def test_psnr_of_identical_images_is_capped() -> None:
    img = _image()
    assert ev.psnr_y(img, img, shave=4) == ev.PSNR_CAP


def test_psnr_known_mse() -> None:
    hr = _image() * 0.5
    d = 0.01
    sr = hr + d  # the same offset in R, G and B: Y difference is d * sum(weights) everywhere
    expected = -10 * math.log10((d * ev.LIIF_Y.sum()) ** 2)
    assert ev.psnr_y(sr, hr, shave=2) == pytest.approx(expected, abs=1e-9)
    sr2 = hr.copy()
    sr2[:3] += 0.5  # only inside the shaved border: no effect
    assert ev.psnr_y(sr2, hr, shave=3) == ev.PSNR_CAP


def test_ssim_identical_is_one_and_noise_lowers_it() -> None:
    img = _image(1)
    assert ev.ssim_y(img, img, shave=2) == pytest.approx(1.0, abs=1e-12)
    noisy = np.clip(img + np.random.default_rng(2).normal(0, 0.05, img.shape), 0, 1)
    s = ev.ssim_y(noisy, img, shave=2)
    assert 0 < s < 1
    assert ev.ssim_y(img, noisy, shave=2) == pytest.approx(s)


def test_y_channel_is_bt601() -> None:
    assert ev.y_channel(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16.0)
    assert ev.y_channel(np.ones((1, 1, 3)))[0, 0] == pytest.approx(235.0)


def test_modcrop_and_lr_sizes() -> None:
    hr = (np.random.default_rng(3).random((50, 37, 3)) * 255).astype(np.uint8)
    crop = ev.modcrop(hr, 4)
    assert crop.shape == (48, 36, 3)
    for scale, mode in ((4, "paper"), (6, "paper"), (6, "matlab")):
        lr = ev.make_lr(ev.modcrop(hr, scale), scale, mode)
        assert lr.dtype == np.uint8 and lr.shape == (50 // scale, 37 // scale, 3)
    with pytest.raises(InputError, match="LR mode"):
        ev.make_lr(crop, 4, "opencv")


def test_baselines_return_the_hr_size_in_range() -> None:
    lr = (np.random.default_rng(4).random((10, 12, 3)) * 255).astype(np.uint8)
    for method in ("bicubic", "lanczos"):
        out = ev.run_method(method, lr, (30, 36), None)
        assert out.shape == (30, 36, 3) and out.min() >= 0 and out.max() <= 1


def test_table_and_missing_cells() -> None:
    rec = {"set": "Set5", "scale": 4, "image": "x", "psnr": {m: 30.0 for m in ev.METHODS},
           "ssim": {m: 0.9 for m in ev.METHODS}, "seconds": {m: 0.1 for m in ev.METHODS}}
    rows = ev.summarise([rec])
    table = ev.markdown_table(rows)
    assert "| Set5 | x4 | 1 (subset) |" in table and "32.50" in table
    assert "Set5 x4 (only 1 of 5 images)" in ev.missing_cells(rows)


def test_report_links_crops_only_when_they_exist(tmp_path: Path) -> None:
    rec = {"set": "Set5", "scale": 4, "image": "x", "psnr": {m: 30.0 for m in ev.METHODS},
           "ssim": {m: 0.9 for m in ev.METHODS}, "seconds": {m: 0.1 for m in ev.METHODS}}
    meta = {"model": {"name": "m", "file": "m.safetensors", "sha256": "0" * 16}, "steps": 1, "lr_mode": "paper",
            "date": "2026-11-27", "machine": "here", "wall_seconds": 1.0, "scale_max": 4}
    report = ev.write_report(tmp_path, ev.summarise([rec]), meta)
    assert "crops.png" not in report.read_text()  # --no-crops: no dangling picture
    (tmp_path / "crops.png").write_bytes(b"")
    assert "](crops.png)" in ev.write_report(tmp_path, ev.summarise([rec]), meta).read_text()


def test_update_card_keeps_other_keys(tmp_path: Path) -> None:
    card = tmp_path / "m.json"
    card.write_text(json.dumps({"name": "m", "evaluation": {"results": [{"set": "Set14", "scale": 2, "old": 1}]}}))
    row = {"set": "Set5", "scale": 4, "images": 5, "full_set": True}
    ev.update_card(card, [row], {"lr_mode": "paper", "date": "today", "machine": "here"})
    data = json.loads(card.read_text())
    assert data["name"] == "m"
    assert [(r["set"], r["scale"]) for r in data["evaluation"]["results"]] == [("Set5", 4), ("Set14", 2)]


def test_machines_name_the_sets_each_one_ran() -> None:
    recs = [{"set": "Set5", "machine": "gpu box"}, {"set": "Set14", "machine": "gpu box"},
            {"set": "Urban100", "machine": "laptop"}, {"set": "ui"}]
    assert ev.machines_text(recs, "laptop") == "gpu box (Set5, Set14); laptop (Urban100, ui)"
    assert ev.machines_text(recs[2:], "laptop") == "laptop"
    assert ev.machines_text([], "laptop") == "laptop"


def test_cuda_scoring_is_full_float32_and_restores_the_flags() -> None:
    import torch

    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = [f.allow_tf32 for f in flags]
    try:
        for f in flags:
            f.allow_tf32 = True
        with ev.full_float32(torch.device("cuda")):  # only the flags: no GPU is needed
            assert [f.allow_tf32 for f in flags] == [False, False]
        assert [f.allow_tf32 for f in flags] == [True, True]
        with ev.full_float32(torch.device("cpu")):
            assert [f.allow_tf32 for f in flags] == [True, True]
    finally:
        for f, v in zip(flags, saved):
            f.allow_tf32 = v


def test_compared_models_are_named_as_given(tiny_model_path: Path) -> None:
    models = ev.compared_models([str(tiny_model_path)])
    assert [n for n, _ in models] == [str(tiny_model_path)] and models[0][1].device.type == "cpu"
    assert ev.models_legend(models) == f"- `{tiny_model_path}`: ? training steps"  # its card has no training
    labelled = ev.compared_models([f"candidate={tiny_model_path}", "default"])
    assert [n for n, _ in labelled] == ["candidate", "shipped"]
    assert labelled[0][1].card == models[0][1].card
    with pytest.raises(ModelError, match="not found: .*x=y"):  # a path holding "=" stays one path
        ev.compared_models([str(tiny_model_path.parent / "x=y.safetensors")])


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert ev.main(["--scales", "two"]) == 2
    assert ev.main(["--sets", "Set6"]) == 2
    assert "Set6" in capsys.readouterr().err


def test_tiny_end_to_end_run(tmp_path: Path, tiny_model_path: Path) -> None:
    if not (DATA / "Set5").is_dir():
        pytest.skip(f"benchmark images not found in {DATA}")
    rows = ev.evaluate(["Set5"], [4], tiny_model_path, tmp_path, limit=1, data=DATA, progress=False)
    assert len(rows) == 1 and rows[0]["set"] == "Set5" and rows[0]["scale"] == 4 and rows[0]["images"] == 1
    assert rows[0]["bicubic"]["psnr"] == pytest.approx(31.79, abs=0.05)  # baby x4, MATLAB bicubic, float
    report = (tmp_path / "report.md").read_text()
    assert "| Set5 | x4 | 1 (subset) |" in report
    assert (tmp_path / "crops.png").stat().st_size > 0
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 1
    # resuming skips the finished image and keeps its record
    ev.evaluate(["Set5"], [4], tiny_model_path, tmp_path, limit=1, data=DATA, resume=True, crops=False,
                progress=False)
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 1
    # a self-ensemble run does not reuse single-pass records, and says what it measured
    rows = ev.evaluate(["Set5"], [4], tiny_model_path, tmp_path, limit=1, data=DATA, resume=True, crops=False,
                       progress=False, self_ensemble=True)
    lines = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [r["model"].get("self_ensemble") for r in lines] == [None, 8]
    assert rows[0]["images"] == 1 and rows[0]["ours"]["psnr"] != pytest.approx(lines[0]["psnr"]["ours"], abs=1e-6)
    assert "mean of 8 passes over the image's 8 flips" in (tmp_path / "report.md").read_text()
    # nor does a run of another view count reuse those; a record written as `true` (8 views) is reused by 8
    lines[1]["model"]["self_ensemble"] = True
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    rows = ev.evaluate(["Set5"], [4], tiny_model_path, tmp_path, limit=1, data=DATA, resume=True, crops=False,
                       progress=False, self_ensemble=2)
    two = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()][-1]
    assert two["model"]["self_ensemble"] == 2
    assert rows[0]["ours"]["psnr"] == pytest.approx(two["psnr"]["ours"], abs=1e-3)
    assert two["psnr"]["ours"] not in (lines[0]["psnr"]["ours"], lines[1]["psnr"]["ours"])
    assert "mean of 2 passes over the image and its half turn" in (tmp_path / "report.md").read_text()
    assert ev.main(["--sets", "Set5", "--scales", "4", "--model", str(tiny_model_path), "--out", str(tmp_path),
                    "--limit", "1", "--data", str(DATA), "--resume", "--no-crops", "--self-ensemble"]) == 0
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 3  # the `true` record was reused


def test_helper_processes_give_the_same_records(tmp_path: Path, tiny_model_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With --jobs, helper processes do everything but the model: the records must not change."""
    if not (DATA / "Set5").is_dir():
        pytest.skip(f"benchmark images not found in {DATA}")
    # the engine picks its thread count from the load, which the helpers raise; a different count
    # sums in another order (1e-10 dB): fixed here, so the records can be compared exactly
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", "2")
    runs = {}
    for jobs in (1, 2):
        ev.evaluate(["Set5"], [4, 2], tiny_model_path, tmp_path / str(jobs), limit=2, data=DATA, crops=False,
                    progress=False, jobs=jobs)
        lines = (tmp_path / str(jobs) / "records.jsonl").read_text().splitlines()
        runs[jobs] = [(r["set"], r["scale"], r["image"], r["hr"], r["psnr"], r["ssim"]) for r in map(json.loads, lines)]
    assert len(runs[1]) == 4 and [r[:3] for r in runs[1]][:2] == [("Set5", 4, "baby"), ("Set5", 4, "bird")]
    assert runs[2] == runs[1]


def test_card_takes_single_pass_results_only(tiny_model_path: Path) -> None:
    for passes in (True, 2):
        with pytest.raises(InputError, match="--views/--self-ensemble"):
            ev.evaluate(["ui"], [3], tiny_model_path, card=True, self_ensemble=passes, progress=False)
