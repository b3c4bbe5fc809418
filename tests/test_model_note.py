"""The line under the plug-ins' model choice (plugin/common/model_note.py)."""

from __future__ import annotations

from plugin.common.model_note import model_note

INFO = {"models": ["liif-edsr", "liif-edsr-jpeg", "mine"], "jpeg_models": ["liif-edsr-jpeg"],
        "summaries": {"liif-edsr": "For clean images.", "liif-edsr-jpeg": "For JPEG photographs.", "mine": ""}}
HINT = "This image was opened from a JPEG file: the model liif-edsr-jpeg is made for those."


def test_the_chosen_models_summary_and_the_jpeg_hint():
    for default in (None, "", "default", "liif-edsr"):
        assert model_note(default, INFO, "/a/b.png") == ["For clean images."]
        assert model_note(default, INFO, "/a/Photo.JPEG") == ["For clean images.", HINT]
    assert model_note("liif-edsr-jpeg", INFO, "/a/b.jpg") == ["For JPEG photographs."]  # chosen: no hint
    assert model_note("mine", INFO, "b.jfif") == [HINT]  # no summary in its card
    assert model_note("/models/x.safetensors", INFO, "") == []
    assert model_note(None, INFO, None) == ["For clean images."]  # never saved: no file name


def test_an_older_worker_or_none_yet_says_nothing():
    assert model_note(None, {}, "/a/b.jpg") == []
    assert model_note(None, {"models": ["liif-edsr"]}, "/a/b.jpg") == []  # no summaries, no JPEG models
    assert model_note(None, dict(INFO, jpeg_models=[]), "/a/b.jpg") == ["For clean images."]
