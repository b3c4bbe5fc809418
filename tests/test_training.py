"""The training loop runs, logs, and resumes exactly."""

from __future__ import annotations

import inspect
import json

import pytest
import torch
from PIL import Image

from liif_core.errors import LiifError
from liif_core.training import train as train_mod
from liif_core.training.synth import generate

TINY = {
    "model": {"name": "liif", "args": {
        "encoder_spec": {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8, "no_upsampling": True}},
        "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [16, 16]}},
        "skip": "bicubic", "scale_max": 3.0}},
    "data": {"patch": 12, "queries": 50, "scale_min": 1.0, "scale_max": 3.0,
             "sources": [{"path": "ui", "weight": 1.0, "holdout": 1}]},
    "train": {"batch": 2, "steps": 6, "lr": 1e-3, "warmup": 2, "seed": 3, "log_every": 2, "val_every": 6,
              "ckpt_every": 100},
    "val": {"scales": [2], "crop": 48},
}


def _setup(tmp_path):
    generate(tmp_path / "data" / "ui", count=4, seed=7)
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    return cfg, tmp_path / "data"


def test_resume_is_exact(tmp_path):
    cfg, data = _setup(tmp_path)
    torch.set_num_threads(1)
    straight = train_mod.train(cfg, tmp_path / "straight", data)
    half = train_mod.train(cfg, tmp_path / "halves", data, max_steps=3)
    assert torch.load(half / "last.pt", weights_only=True)["step"] == 3
    train_mod.train(cfg, tmp_path / "halves", data)
    a = torch.load(straight / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "halves" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 6
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    log = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6]
    assert "val" in log[-1] and log[-1]["val"]["x2"]["bicubic"] > 10


@pytest.mark.parametrize("native, amp, expected", [(True, True, True), (False, True, False), (True, False, False)])
def test_cpu_trains_in_mixed_precision_where_bfloat16_is_native(tmp_path, monkeypatch, native, amp, expected):
    """On a CPU that multiplies bfloat16 natively the steps run under bfloat16 autocast, as on a
    GPU (about twice as fast on Zen 4); elsewhere, or with ``"amp": false``, in float32."""
    cfg, data = _setup(tmp_path)
    cfg.write_text(json.dumps(dict(TINY, train=dict(TINY["train"], steps=2, val_every=100, amp=amp))))
    monkeypatch.setattr(train_mod, "native_bfloat16", lambda: native)
    seen = []
    real_step = train_mod.train_step
    monkeypatch.setattr(train_mod, "train_step", lambda *a: seen.append(a[-1]) or real_step(*a))
    train_mod.train(cfg, tmp_path / "run", data, device="cpu")
    assert seen == [expected, expected]


def test_weight_average_resumes_exactly_and_is_validated_and_exported(tmp_path):
    """With ``train.ema`` the run keeps an average of the weights from ``from_step`` on: resuming
    reproduces it to the bit, the log validates it beside the weights, ``export --ema`` ships it."""
    from liif_core.training.export import export
    from liif_core.weights import load_model

    cfg, data = _setup(tmp_path)
    tiny = json.loads(cfg.read_text())
    tiny["train"]["ema"] = {"decay": 0.9, "from_step": 2}
    cfg.write_text(json.dumps(tiny))
    torch.set_num_threads(1)
    straight = train_mod.train(cfg, tmp_path / "straight", data)
    half = train_mod.train(cfg, tmp_path / "halves", data, max_steps=3)
    assert torch.load(half / "last.ema.pt", weights_only=True)["ema"]["updates"] == 1  # step 2 -> 3
    train_mod.train(cfg, half, data)
    a = torch.load(straight / "last.ema.pt", weights_only=True)
    b = torch.load(half / "last.ema.pt", weights_only=True)
    assert a["step"] == b["step"] == 6 and a["ema"]["updates"] == b["ema"]["updates"] == 4
    for name, tensor in a["ema"]["params"].items():
        assert torch.equal(tensor, b["ema"]["params"][name]), name
    weights = torch.load(straight / "last.pt", weights_only=True)["model"]
    assert any(not torch.equal(weights[k], v) for k, v in a["ema"]["params"].items())  # an average, not a copy
    log = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    assert "val_ema" not in log[0] and log[-1]["val_ema"]["x2"]["psnr"] != log[-1]["val"]["x2"]["psnr"]

    shipped = load_model(export(straight, tmp_path / "avg.safetensors", ema=True), device="cpu")
    for name, tensor in shipped.net.state_dict().items():
        if name in a["ema"]["params"]:
            assert torch.equal(tensor, a["ema"]["params"][name]), name
    card = shipped.card["training"]
    assert card["held_out_validation_psnr_rgb"] == log[-1]["val_ema"] and "average" in card["weights"]
    assert json.loads((tmp_path / "avg.train.json").read_text()) == card["config"] == tiny


def test_export_records_a_config_with_new_notes_but_refuses_other_settings(tmp_path):
    """``export --config`` puts a config whose notes say why this step ships on the card and in
    ``NAME.train.json``; a config with any other setting changed is not the run's and is refused
    before anything is written."""
    from liif_core.training.export import export

    cfg, data = _setup(tmp_path)
    torch.set_num_threads(1)
    run = train_mod.train(cfg, tmp_path / "run", data, max_steps=2)
    noted = json.loads(cfg.read_text())
    noted["train"]["_note"] = "exported at step 2 because it is the test's"
    (tmp_path / "noted.json").write_text(json.dumps(noted))
    out = export(run, tmp_path / "m.safetensors", config=tmp_path / "noted.json")
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["config"] == noted == json.loads((tmp_path / "m.train.json").read_text())

    noted["train"]["lr"] = noted["train"]["lr"] * 2
    (tmp_path / "other.json").write_text(json.dumps(noted))
    with pytest.raises(ValueError, match="only its notes"):
        export(run, tmp_path / "n.safetensors", config=tmp_path / "other.json")
    assert not list(tmp_path.glob("n.*"))


def test_a_resume_keeps_the_optimizers_own_implementation_and_the_weights_layout():
    """A saved optimizer state carries the flags and memory layout of the run that saved it. Taken
    on as they were, a resume on a GPU ran PyTorch's per-weight Adam, which reads each step count
    back to the host (156 waits per step, 45% slower on an H100). The resumed optimizer keeps its
    own ``fused``, and the moments and the weight average take the weights' layout, values unchanged."""
    from liif_core.training.ema import WeightAverage

    torch.manual_seed(0)
    saved_net = torch.nn.Conv2d(3, 8, 3)
    saver = torch.optim.Adam(saved_net.parameters())  # fused unset, moments contiguous
    saved_net(torch.rand(1, 3, 8, 8)).sum().backward()
    saver.step()
    saved_average = WeightAverage(saved_net, 0.9)
    saved_average.update(saved_net)

    net = torch.nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), fused=True)
    train_mod.load_optimizer_state(optimizer, saver.state_dict())
    assert optimizer.param_groups[0]["fused"] is True
    moment = optimizer.state[net.weight]["exp_avg"]
    assert moment.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(moment, saver.state[saved_net.weight]["exp_avg"])
    net(torch.rand(1, 3, 8, 8)).sum().backward()
    optimizer.step()  # the fused kernel accepts the resumed state

    average = WeightAverage(net, 0.9)
    average.load_state_dict(saved_average.state_dict())  # saved contiguous
    assert average.params["weight"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(average.params["weight"], saved_average.params["weight"])
    assert average.updates == 1


def test_a_weight_average_cannot_start_in_the_past(tmp_path):
    """A run past ``ema.from_step`` without ``last.ema.pt`` cannot rebuild the average: a clear
    error; a run at that very step starts it."""
    cfg, data = _setup(tmp_path)
    torch.set_num_threads(1)
    run = train_mod.train(cfg, tmp_path / "run", data, max_steps=3)
    tiny = json.loads(cfg.read_text())
    tiny["train"]["ema"] = {"decay": 0.9, "from_step": 2}
    cfg.write_text(json.dumps(tiny))
    with pytest.raises(LiifError, match="from_step to 3 or later"):
        train_mod.train(cfg, run, data)
    tiny["train"]["ema"]["from_step"] = 3  # where the shipped config starts one: at its checkpoint's step
    cfg.write_text(json.dumps(tiny))
    train_mod.train(cfg, run, data)
    assert torch.load(run / "last.ema.pt", weights_only=True)["ema"]["updates"] == 3


def test_divergence_stops_before_a_broken_checkpoint(tmp_path):
    """A run whose loss stops being finite ends with a message at the next log line and leaves
    the last good checkpoint in place, instead of saving broken weights over it."""
    cfg, data = _setup(tmp_path)
    torch.set_num_threads(1)
    train_mod.train(cfg, tmp_path / "run", data, max_steps=2)
    good = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    wild = json.loads(cfg.read_text())
    wild["train"]["lr"] = 1e30  # Adam moves every weight by about the learning rate per step
    cfg.write_text(json.dumps(wild))
    with pytest.raises(LiifError, match="diverged between steps 2 and 4"):
        train_mod.train(cfg, tmp_path / "run", data)
    kept = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert kept["step"] == 2
    assert all(torch.equal(good["model"][k], kept["model"][k]) for k in good["model"])


def test_resume_differs_from_restart_when_state_is_lost(tmp_path):
    """The exactness test above can fail: dropping the optimizer state changes the result."""
    cfg, data = _setup(tmp_path)
    torch.set_num_threads(1)
    straight = train_mod.train(cfg, tmp_path / "straight", data)
    half = train_mod.train(cfg, tmp_path / "halves", data, max_steps=3)
    opt = torch.load(half / "last.optim.pt", weights_only=True)
    opt["optimizer"]["state"] = {}
    torch.save(opt, half / "last.optim.pt")
    train_mod.train(cfg, half, data)
    a = torch.load(straight / "last.pt", weights_only=True)["model"]
    b = torch.load(half / "last.pt", weights_only=True)["model"]
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_batch_workers_give_the_same_batches_and_weights(tmp_path):
    """Batches built ahead by worker processes equal those built in place, so training is unchanged."""
    from liif_core.training.data import batches

    cfg, data = _setup(tmp_path)
    sampler, _ = train_mod.build_data(json.loads(cfg.read_text()), data, torch.device("cpu"))
    here = list(batches(sampler, 3, 2, 4, 9))
    ahead = list(batches(sampler, 3, 2, 4, 9, workers=2))
    assert len(here) == len(ahead) == 5
    for a, b in zip(here, ahead):
        for name in ("inp", "coord", "cell", "gt"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(here[0].inp, here[1].inp)  # each step is its own batch
    torch.set_num_threads(1)
    plain = train_mod.train(cfg, tmp_path / "plain", data, workers=0)
    half = train_mod.train(cfg, tmp_path / "workers", data, max_steps=3, workers=2)
    train_mod.train(cfg, half, data, workers=2)
    a = torch.load(plain / "last.pt", weights_only=True)["model"]
    b = torch.load(half / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_packed_data_gives_the_same_batches(tmp_path):
    """The folder ``training.pack`` writes (lossless WebP, generated sources rendered) trains identically."""
    from liif_core.training.data import batches
    from liif_core.training.pack import pack

    cfg_data = json.loads(json.dumps(TINY))
    cfg_data["data"]["sources"] = [
        {"path": "photos", "weight": 1.0, "holdout": 1},
        {"path": "gen/ui", "weight": 1.0, "holdout": 1, "generate": {"count": 3, "seed": 5}},
    ]
    root = tmp_path / "data"
    generate(root / "photos", count=3, seed=9)
    grey = Image.open(root / "photos" / "text_9_00000.png").convert("L")
    grey.save(root / "photos" / "zz_grey.png")  # a grey image, as some datasets have
    Image.open(root / "photos" / "icon_9_00001.png").convert("P").save(root / "photos" / "pal.png")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(cfg_data))
    size = pack(cfg, tmp_path / "packed", root)
    assert size > 0
    assert sorted(p.name for p in (tmp_path / "packed" / "photos").iterdir())[-1] == "zz_grey.webp"
    assert len(list((tmp_path / "packed" / "gen" / "ui").glob("*.webp"))) == 3
    assert not (root / "gen").exists()  # generated sources are rendered into the pack only
    generate(root / "gen" / "ui", count=3, seed=5)  # the originals, for comparison
    original, _ = train_mod.build_data(cfg_data, root, torch.device("cpu"))
    packed, _ = train_mod.build_data(cfg_data, tmp_path / "packed", torch.device("cpu"))
    for a, b in zip(batches(original, 1, 4, 0, 6), batches(packed, 1, 4, 0, 6)):
        assert torch.equal(a.inp, b.inp) and torch.equal(a.gt, b.gt)


def test_a_skipped_source_is_rendered_where_it_trains(tmp_path):
    """``pack --skip`` leaves a generated source out; training renders it into the data root."""
    from liif_core.errors import LiifError
    from liif_core.training.pack import pack

    cfg_data = json.loads(json.dumps(TINY))
    cfg_data["data"]["sources"] = [{"path": "photos", "weight": 1.0},
                                   {"path": "gen/ui", "weight": 1.0, "generate": {"count": 2, "seed": 5}}]
    root, packed = tmp_path / "data", tmp_path / "packed"
    generate(root / "photos", count=2, seed=9)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(cfg_data))
    with pytest.raises(LiifError, match="gen/iu"):
        pack(cfg, packed, root, skip=["gen/iu"])
    pack(cfg, packed, root, skip=["gen/ui"])
    assert (packed / "photos").is_dir() and not (packed / "gen").exists()
    sampler, _ = train_mod.build_data(cfg_data, packed, torch.device("cpu"))
    assert sorted(p.name for p in (packed / "gen" / "ui").iterdir()) == ["icon_5_00001.png", "text_5_00000.png"]
    assert sorted(p.name for p in (packed / "gen").iterdir()) == ["ui"]  # the partial folder was renamed
    assert [len(s.images) for s in sampler.sources] == [2, 2]


def test_structure_views_are_reproducible_in_parallel(tmp_path):
    """A building view is a pure function of its key; rendering on several processes changes nothing."""
    import random

    import numpy as np

    from liif_core.training.structures import SIZE, structure_image

    paths = generate(tmp_path, count=0, seed=4, structure_count=2)
    assert [p.name for p in paths] == ["struct_4_00000.png", "struct_4_00001.png"]
    a = np.asarray(Image.open(paths[1]))
    b = np.asarray(structure_image(random.Random("4:struct:1")))
    c = np.asarray(Image.open(paths[0]))
    assert a.shape == (SIZE, SIZE, 3) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.std() > 10  # a view with structure in it, not a flat frame


def test_signs_are_legible_and_trees_stand_in_front():
    """Lettering contrasts with what it is painted on; a tree covers part of the view, not all of it."""
    import random

    import numpy as np

    from liif_core.training import structures

    for seed in range(8):
        tex = np.full((600, 1200, 3), 0.5, np.float32)
        structures._signs(random.Random(seed), tex)
        changed = np.abs(tex - 0.5).sum(axis=-1) > 0.02
        assert changed.any(), seed
        values = tex[changed]
        assert np.abs(values.max(axis=0) - values.min(axis=0)).sum() >= 0.5, seed  # ink on its panel or wall
    canvas = np.full((300, 300, 3), 0.5, np.float32)
    covered = np.abs(structures._tree(random.Random(1), canvas) - canvas).sum(axis=-1) > 0.02
    assert 0.005 < covered.mean() < 0.8


def test_a_later_source_leaves_the_earlier_batches_unchanged(tmp_path):
    """A source added with ``from_step`` changes no batch before that step, and is drawn after it."""
    from liif_core.training.data import batches

    root = tmp_path / "data"
    generate(root / "photos", count=3, seed=9)
    generate(root / "late", count=3, seed=5)
    base = json.loads(json.dumps(TINY))
    base["data"]["sources"] = [{"path": "photos", "weight": 1.0}]
    grown = json.loads(json.dumps(base))
    grown["data"]["sources"].append({"path": "late", "weight": 5.0, "from_step": 4})
    before, _ = train_mod.build_data(base, root, torch.device("cpu"))
    after, _ = train_mod.build_data(grown, root, torch.device("cpu"))
    a, b = list(batches(before, 1, 4, 0, 10)), list(batches(after, 1, 4, 0, 10))
    for step in range(4):
        assert torch.equal(a[step].inp, b[step].inp) and torch.equal(a[step].gt, b[step].gt), step
    assert any(not torch.equal(a[step].inp, b[step].inp) for step in range(4, 10))


def test_jpeg_inputs_from_a_step_on_leave_the_earlier_batches_unchanged(tmp_path):
    """``data.jpeg`` saves a share of the small patches as JPEG from its ``from_step`` on: no batch
    before that step changes, and after it the JPEG'd patches are 8-bit pixels with JPEG's loss."""
    from liif_core.training.data import JpegInputs, batches, jpeg_round_trip

    root = tmp_path / "data"
    generate(root / "photos", count=3, seed=9)
    base = json.loads(json.dumps(TINY))
    base["data"]["sources"] = [{"path": "photos", "weight": 1.0}]
    jpeg = json.loads(json.dumps(base))
    jpeg["data"]["jpeg"] = {"share": 1.0, "quality": [30, 60], "from_step": 4}
    before, _ = train_mod.build_data(base, root, torch.device("cpu"))
    after, _ = train_mod.build_data(jpeg, root, torch.device("cpu"))
    a, b = list(batches(before, 1, 4, 0, 8)), list(batches(after, 1, 4, 0, 8))
    for step in range(4):
        assert torch.equal(a[step].inp, b[step].inp) and torch.equal(a[step].gt, b[step].gt), step
    for step in range(4, 8):
        assert torch.equal(a[step].gt, b[step].gt), step  # the same crops and queries: only the input differs
        levels = (b[step].inp * 0.5 + 0.5) * 255
        assert torch.allclose(levels, levels.round(), atol=1e-3), step  # 8-bit, as a JPEG file holds
        assert not torch.equal(a[step].inp, b[step].inp), step

    noise = torch.rand(1, 48, 48, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.avg_pool2d(noise[None], 5, 1, 2)[0].expand(3, 48, 48)  # grey: no chroma to lose
    assert (jpeg_round_trip(smooth, 95) - smooth).abs().mean() < (jpeg_round_trip(smooth, 30) - smooth).abs().mean()
    assert (jpeg_round_trip(smooth, 95) - smooth).abs().mean() < 2 / 255
    with pytest.raises(ValueError, match="data.jpeg"):
        JpegInputs(share=0.5, quality=(90, 30))


def test_min_detail_draws_crops_away_from_flat_areas():
    """A source with ``min_detail`` redraws crops that fall on flat areas (a photograph's sky): here
    the top half of the image is flat grey, and almost no sample is flat any more."""
    from liif_core.training.data import PatchSampler, Source, detail

    img = torch.full((3, 200, 200), 128, dtype=torch.uint8)
    img[:, 100:] = torch.randint(0, 256, (3, 100, 200), generator=torch.Generator().manual_seed(0))
    assert detail(img[:, :50, :50]) == 0 and detail(img[:, 100:, 100:]) > 50

    def flat_share(min_detail: float) -> float:
        sampler = PatchSampler([Source([img], 1.0, "photo", min_detail=min_detail)], patch=12, queries=50,
                               scale_max=3.0)
        inputs = torch.cat([sampler.batch(seed=1, step=step, size=16).inp for step in range(8)])
        return float((inputs.flatten(1).std(dim=1) < 1e-3).float().mean())

    assert flat_share(0.0) > 0.3
    assert flat_share(3.0) < 0.02


def test_validation_reports_each_source(tmp_path):
    """The held-out PSNR is given per source too, and the overall mean is over every image."""
    from liif_core import models

    root = tmp_path / "data"
    generate(root / "photos", count=4, seed=9)
    generate(root / "ui", count=3, seed=5)
    cfg = json.loads(json.dumps(TINY))
    cfg["data"]["sources"] = [{"path": "photos", "holdout": 2}, {"path": "ui", "holdout": 1}]
    _, val = train_mod.build_data(cfg, root, torch.device("cpu"))
    assert {k: len(v) for k, v in val.items()} == {"photos": 2, "ui": 1}
    torch.manual_seed(0)
    result = train_mod.validate(models.make(cfg["model"]), val, [2], 48, torch.device("cpu"))["x2"]
    per = result["sources"]
    assert set(per) == {"photos", "ui"} and per["photos"] != per["ui"]
    assert abs(result["psnr"] - (2 * per["photos"] + per["ui"]) / 3) < 1e-9
    assert "jpeg" not in result
    # val.jpeg_quality: the same images, their small versions saved as JPEG first: lower, for bicubic too
    torch.manual_seed(0)
    both = train_mod.validate(models.make(cfg["model"]), val, [2], 48, torch.device("cpu"), jpeg_quality=30)["x2"]
    assert both["psnr"] == result["psnr"] and both["jpeg"]["quality"] == 30
    assert both["jpeg"]["bicubic"] < result["bicubic"] - 0.5 and both["jpeg"]["psnr"] != result["psnr"]
    assert set(both["jpeg"]["sources"]) == {"photos", "ui"}


def test_hidpi_text_images_are_reproducible(tmp_path):
    """HiDPI text is a pure function of the seed, and written beside the other generated kinds."""
    import random

    import numpy as np

    pytest.importorskip("PyQt5")
    from liif_core.training.synth import SIZE, hidpi_text_image

    a = np.asarray(hidpi_text_image(random.Random("s:1")))
    b = np.asarray(hidpi_text_image(random.Random("s:1")))
    c = np.asarray(hidpi_text_image(random.Random("s:2")))
    assert a.shape[2] == 3 and max(a.shape[:2]) <= SIZE and np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 10  # antialiased text, not a flat image
    paths = generate(tmp_path, count=0, seed=4, hidpi_text_count=2)
    assert [p.name for p in paths] == ["hitext_4_00000.png", "hitext_4_00001.png"]


def test_document_images_are_reproducible(tmp_path):
    """Documentation views are a pure function of the seed, show drawn content, and are written by name."""
    import random

    import numpy as np

    pytest.importorskip("PyQt5")
    from liif_core.training.synth import SIZE, document_image

    views = [np.asarray(document_image(random.Random(f"d:{i}"))) for i in range(6)]
    again = np.asarray(document_image(random.Random("d:0")))
    assert all(v.shape[2] == 3 and max(v.shape[:2]) <= SIZE for v in views)
    assert np.array_equal(views[0], again) and not np.array_equal(views[0], views[1])
    assert all(v.std() > 5 for v in views)  # text and rules on the page, not an empty page
    assert max(len(np.unique(v.reshape(-1, 3), axis=0)) for v in views) > 50  # antialiased
    paths = generate(tmp_path, count=0, seed=4, document_count=2)
    assert [p.name for p in paths] == ["doc_4_00000.png", "doc_4_00001.png"]


def test_model_and_data_agree_on_the_largest_scale(tmp_path):
    """Inference clips the cell at the model's ``scale_max``: training on larger scales would contradict it."""
    from liif_core.errors import LiifError

    cfg_data = json.loads(json.dumps(TINY))
    del cfg_data["model"]["args"]["scale_max"]  # the default, 4, against data.scale_max 3
    generate(tmp_path / "data" / "ui", count=2, seed=7)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(cfg_data))
    with pytest.raises(LiifError, match=r"model.args.scale_max \(4\) must equal data.scale_max \(3\)"):
        train_mod.train(cfg, tmp_path / "run", tmp_path / "data")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_shipped_config_names_only_sources_it_can_make():
    """Every generated source of the shipped config is a valid call of ``generate``, every path is
    distinct, and every source joins within the schedule (a typo would surface only on a GPU)."""
    cfg = train_mod.load_config(train_mod.REPO / "weights" / "liif-edsr.train.json")
    sources = cfg["data"]["sources"]
    assert len({s["path"] for s in sources}) == len(sources)
    for spec in sources:
        if "generate" in spec:
            inspect.signature(generate).bind("out", **spec["generate"])
        assert 0 <= spec.get("from_step", 0) < train_mod.total_steps(cfg["train"])
        assert spec["weight"] > 0 and spec.get("holdout", 0) >= 0
    assert any(s["path"] == "debian-photos" and s["generate"].get("debian_photos") for s in sources)


def test_channels_last_training_resumes_exactly_and_exports(tmp_path, monkeypatch):
    """``--channels-last`` feeds the convolutions channels-last tensors; the run still resumes to
    the bit, learns what the default layout learns up to rounding, and exports (safetensors needs
    contiguous tensors, which a channels-last convolution's weight is not)."""
    from liif_core import models
    from liif_core.training.export import export
    from liif_core.weights import load_model

    cfg, data = _setup(tmp_path)
    tiny = json.loads(cfg.read_text())
    tiny["train"]["ema"] = {"decay": 0.9, "from_step": 2}
    cfg.write_text(json.dumps(tiny))
    torch.set_num_threads(1)
    layouts = []
    make = models.make

    def spying_make(spec, **kwargs):
        net = make(spec, **kwargs)
        if not hasattr(net, "encoder"):  # make() also builds the encoder and the MLP
            return net
        net.encoder.head.register_forward_pre_hook(lambda _, args: layouts.append(
            net.training and args[0].is_contiguous(memory_format=torch.channels_last)))
        return net

    monkeypatch.setattr(models, "make", spying_make)
    plain = train_mod.train(cfg, tmp_path / "plain", data)
    assert layouts and not any(layouts)
    layouts.clear()
    straight = train_mod.train(cfg, tmp_path / "straight", data, channels_last=True)
    assert layouts.count(True) == 6  # every training step; validation runs the model in eval mode
    half = train_mod.train(cfg, tmp_path / "halves", data, max_steps=3, channels_last=True)
    train_mod.train(cfg, half, data, channels_last=True)
    for name in ("last.pt", "last.ema.pt"):
        a = torch.load(straight / name, weights_only=True)
        b = torch.load(half / name, weights_only=True)
        weights_a = a["model"] if name == "last.pt" else a["ema"]["params"]
        weights_b = b["model"] if name == "last.pt" else b["ema"]["params"]
        for key, tensor in weights_a.items():
            assert torch.equal(tensor, weights_b[key]) and tensor.is_contiguous(), (name, key)
    loss = [[json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]
            for run in (plain, straight)]
    assert loss[0] == pytest.approx(loss[1], rel=1e-3)
    shipped = load_model(export(straight, tmp_path / "cl.safetensors"), device="cpu")
    assert shipped.card["training"]["steps"] == 6


def test_compiled_training_learns_the_same_and_resumes(tmp_path):
    """``--compile`` trains through ``torch.compile``: the weights equal the plain loop's up to
    rounding, the checkpoint holds the model's own parameter names (no compiler wrapper), and a
    compiled run resumes a plain one. Compiling takes about a minute on this CPU."""
    from torch._dynamo.utils import counters

    cfg, data = _setup(tmp_path)
    torch.set_num_threads(1)
    plain = train_mod.train(cfg, tmp_path / "plain", data)
    train_mod.train(cfg, tmp_path / "mixed", data, max_steps=3)
    counters.clear()
    compiled = train_mod.train(cfg, tmp_path / "mixed", data, compile_model=True)
    assert counters["stats"]["unique_graphs"] > 0  # the steps did go through the compiler
    a = torch.load(plain / "last.pt", weights_only=True)["model"]
    b = torch.load(compiled / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5


def test_profile_records_steady_steps(tmp_path, monkeypatch):
    """``--profile N`` records N steps after the first ones and writes the operator table."""
    monkeypatch.setattr(train_mod, "FIT_SKIP", 2)
    cfg, data = _setup(tmp_path)
    torch.set_num_threads(1)
    calls = []
    real = train_mod.start_profile
    monkeypatch.setattr(train_mod, "start_profile", lambda dev: calls.append(dev) or real(dev))
    run = train_mod.train(cfg, tmp_path / "run", data, max_steps=5, profile_steps=2)
    text = (run / "profile.txt").read_text()
    assert len(calls) == 1 and text.startswith("2 steps profiled")
    assert "aten::convolution" in text and "Self CPU" in text
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 5  # the run goes on after it


def test_fit_minutes_fits_the_last_cycle_and_resume_asks_for_it(tmp_path, monkeypatch):
    """``--fit-minutes`` on a schedule of cycles sets the last cycle's length from the measured
    speed, so the run ends, at the floor of its learning rate, when the time does. A resume must then
    be given that length (a changed cycle that the run has begun is refused), and the earlier
    cycles are left alone."""
    monkeypatch.setattr(train_mod, "FIT_SKIP", 1)
    monkeypatch.setattr(train_mod, "FIT_STEPS", 3)
    cfg, data = _setup(tmp_path)
    tiny = json.loads(cfg.read_text())
    del tiny["train"]["steps"], tiny["train"]["lr"]
    tiny["train"].update(lr_min=1e-6, val_every=10**6, log_every=1,
                         cycles=[{"steps": 4, "lr": 1e-3}, {"steps": 10**6, "lr": 5e-4, "warmup": 1}])
    cfg.write_text(json.dumps(tiny))
    torch.set_num_threads(1)
    run = tmp_path / "run"
    train_mod.train(cfg, run, data, max_steps=4)
    train_mod.train(cfg, run, data, fit_minutes=0.15)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    fitted = [r for r in log if "cycle_steps" in r]
    assert len(fitted) == 1 and fitted[0]["step"] == 4 + 1 + 3
    length = fitted[0]["cycle_steps"]
    assert 1 < length < 10**6 and fitted[0]["total_steps"] == 4 + length
    assert json.loads((run / "config.json").read_text())["train"]["cycles"] == [
        {"steps": 4, "lr": 1e-3}, {"steps": length, "lr": 5e-4, "warmup": 1}]
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 4 + length
    assert log[-1]["step"] == 4 + length and log[-1]["lr"] < 1e-6 + 0.01 * 5e-4  # annealed to the floor

    with pytest.raises(LiifError, match=r"cycles\[1\].*cycle_steps"):
        train_mod.train(cfg, run, data)  # the config still says 10**6
    tiny["train"]["cycles"][1]["steps"] = length
    cfg.write_text(json.dumps(tiny))
    train_mod.train(cfg, run, data)  # resumes: nothing left to do
    tiny["train"]["cycles"][0]["lr"] = 2e-3
    cfg.write_text(json.dumps(tiny))
    with pytest.raises(LiifError, match=r"cycles\[0\]"):
        train_mod.train(cfg, run, data)
    tiny["train"]["cycles"][0]["lr"] = 1e-3
    tiny["train"]["cycles"].append({"steps": 6, "lr": 1e-4})  # a further cycle may be appended
    cfg.write_text(json.dumps(tiny))
    train_mod.train(cfg, run, data, max_steps=4 + length + 2)
    text = (run / "config.json").read_text()  # the run folder says the schedule it is on
    assert json.loads(text)["train"]["cycles"][-1] == {"steps": 6, "lr": 1e-4} and text.endswith("}\n")
    with pytest.raises(LiifError, match="must not have started"):
        train_mod.train(cfg, run, data, fit_minutes=1)  # inside the last cycle now


def test_fit_minutes_spreads_a_validation_in_its_timed_window_over_the_steps_between_them():
    """A validation inside the timed window belongs to one step in ``val_every``, not to the window's
    steps: counted in full it made a CPU run fit 1964 steps where about 2500 fitted (200 steps of
    1.75 s and a 190 s validation in the window)."""
    assert train_mod.seconds_per_step(200 * 1.75 + 190, 200, 190, 1, 1000) == pytest.approx(1.75 + 0.19)
    assert train_mod.seconds_per_step(200 * 1.75, 200, 0.0, 0, 1000) == pytest.approx(1.75)  # none in the window
    assert train_mod.seconds_per_step(10 + 2 * 3, 10, 6, 2, 5) == pytest.approx(1 + 0.6)


def test_a_cycle_may_have_its_own_batch_and_resumes_exactly_across_it(tmp_path, monkeypatch):
    """``batch`` in a cycle sets the batch of that cycle's steps only (a CPU fine-tune after a GPU
    run takes smaller steps); a run stopped and resumed across the change ends with the same weights,
    and the exported card counts the samples each cycle saw (and says what the model is for)."""
    from liif_core.training.export import export

    cfg, data = _setup(tmp_path)
    tiny = json.loads(cfg.read_text())
    del tiny["train"]["steps"], tiny["train"]["lr"]
    tiny["train"]["cycles"] = [{"steps": 3, "lr": 1e-3}, {"steps": 3, "lr": 5e-4, "batch": 3}]
    cfg.write_text(json.dumps(tiny))
    assert train_mod.batch_spans(tiny["train"], 0, 6) == [(0, 3, 2), (3, 6, 3)]
    assert train_mod.batch_spans(tiny["train"], 4, 9) == [(4, 9, 3)]  # the last cycle runs on
    tiny["train"]["cycles"][1]["batch"] = 2
    assert train_mod.batch_spans(tiny["train"], 1, 6) == [(1, 6, 2)]  # one span: the workers keep going
    tiny["train"]["cycles"][1]["batch"] = 3

    sizes = []
    real_step = train_mod.train_step
    monkeypatch.setattr(train_mod, "train_step",
                        lambda f, o, b, *a: sizes.append(b.inp.shape[0]) or real_step(f, o, b, *a))
    torch.set_num_threads(1)
    straight = train_mod.train(cfg, tmp_path / "straight", data)
    assert sizes == [2, 2, 2, 3, 3, 3]
    train_mod.train(cfg, tmp_path / "halves", data, max_steps=4)
    train_mod.train(cfg, tmp_path / "halves", data)
    a = torch.load(straight / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "halves" / "last.pt", weights_only=True)
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    card = json.loads(export(straight, tmp_path / "m.safetensors", summary="For tests.", inputs="jpeg")
                      .with_suffix(".json").read_text())
    assert card["training"]["samples_seen"] == 3 * 2 + 3 * 3
    assert card["training"]["batch"] == [{"steps": [0, 3], "batch": 2}, {"steps": [3, 6], "batch": 3}]
    assert card["summary"] == "For tests." and card["inputs"] == "jpeg"
    again = json.loads(export(straight, tmp_path / "m.safetensors").with_suffix(".json").read_text())
    assert again["summary"] == "For tests." and again["inputs"] == "jpeg"  # a re-export keeps what the card says
    card_path = tmp_path / "m.json"
    card_path.write_text(json.dumps(dict(again, weights_dtype_check="measured")))
    kept = json.loads(export(straight, tmp_path / "m.safetensors").with_suffix(".json").read_text())
    assert kept["weights_dtype_check"] == "measured"  # same dtype: the earlier measurement still holds
    half = json.loads(export(straight, tmp_path / "m.safetensors", half=True).with_suffix(".json").read_text())
    assert half["weights_dtype"] == "float16" and "weights_dtype_check" not in half  # another dtype: not measured
