"""Which model a plug-in job runs with, and the text under the plug-ins' model choice
(plugin/common/model_choice.py)."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import imagecodecs
import numpy as np

from plugin.common import model_choice as plugin_choice
from plugin.common.model_choice import AUTO_CLEAN, AUTO_JPEG, chosen_model, model_note, shown_name

JXL_DATA = Path(__file__).resolve().parent / "data" / "jxl"
INFO = {"models": ["liif-edsr", "liif-edsr-jpeg", "mine"], "jpeg_models": ["liif-edsr-jpeg"],
        "summaries": {"liif-edsr": "For clean images.", "liif-edsr-jpeg": "For JPEG <photos> & scans.", "mine": ""}}
JPEG_MODEL, DEFAULT = "liif\u2011edsr\u2011jpeg", "liif\u2011edsr"  # as shown: hyphens that do not break
HINT = f"This image was opened from a JPEG file: the model {JPEG_MODEL} is made for lossy compression."
BACK = (f"This image was not opened from a JPEG, HEIC, AVIF, lossy WebP or lossy JPEG XL file: the default model, "
        f"{DEFAULT}, is sharper on it.")


def as_read(markup: str) -> str:
    """The note as a screen reader reads it: the markup's text."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_the_chosen_models_summary_and_the_jpeg_hint():
    for default in (None, "", "default", "liif-edsr"):
        assert model_note(default, INFO, "/a/b.png") == "For clean images."
        assert as_read(model_note(default, INFO, "/a/Photo.JPEG")) == f"For clean images.\n{HINT}"
    assert model_note("liif-edsr-jpeg", INFO, "/a/b.jpg") == "For JPEG &lt;photos&gt; &amp; scans."  # no hint
    assert as_read(model_note("mine", INFO, "b.jfif", "<br>")) == HINT  # no summary in its card
    assert model_note("/models/x.safetensors", INFO, "") == ""
    assert model_note(None, INFO, None) == "For clean images."  # never saved: no file name


def test_the_suggested_models_name_is_a_link_to_it():
    """The link's target is the model's name, which the dialogs choose when it is activated; the
    markup is well formed (Qt's rich text and GTK's Pango both read it)."""
    markup = model_note(None, dict(INFO, summaries={"liif-edsr": "Clean & <sharp>"}), "/a/b.jpg", "<br/>")
    root = ET.fromstring(f"<small>{markup}</small>")
    links = [(a.get("href"), a.text) for a in root.iter("a")]
    assert links == [("liif-edsr-jpeg", JPEG_MODEL)], markup
    assert as_read(markup.replace("<br/>", "\n")) == f"Clean & <sharp>\n{HINT}"
    assert "<a " not in model_note("liif-edsr-jpeg", INFO, "/a/b.jpg")  # chosen: nothing to offer


def test_a_model_name_in_the_note_is_never_split_at_a_line_end():
    """Qt and Pango may wrap a line after a plain hyphen, which split "liif-" from "edsr-jpeg" in a
    narrow dialog; the names are shown with U+2011 (the non-breaking hyphen) instead."""
    assert shown_name("liif-edsr-jpeg") == JPEG_MODEL and shown_name("mine") == "mine"
    for model, file_name in (("auto", "/a/b.jpg"), ("auto", "/a/b.png"), (None, "/a/b.jpg"),
                             ("liif-edsr-jpeg", "/a/b.png")):
        note = as_read(model_note(model, INFO, file_name))
        assert "liif-edsr" not in note and DEFAULT in note, (model, file_name, note)


def test_an_older_worker_or_none_yet_says_nothing():
    assert model_note(None, {}, "/a/b.jpg") == ""
    assert model_note(None, {"models": ["liif-edsr"]}, "/a/b.jpg") == ""  # no summaries, no JPEG models
    assert model_note(None, dict(INFO, jpeg_models=[]), "/a/b.jpg") == "For clean images."


def test_a_model_for_jpeg_files_chosen_for_another_file_points_back_to_the_default():
    """The JPEG model chosen for a PNG (or any file not saved as JPEG): the note offers the default,
    linked as 'default' (the dialogs' name for it); an image never saved gets no hint either way."""
    for other in ("/a/b.png", "/a/painting.kra", "/a/scan.TIFF", "/a/shot.xcf"):
        markup = model_note("liif-edsr-jpeg", INFO, other)
        assert as_read(markup) == f"For JPEG <photos> & scans.\n{BACK}", (other, markup)
        root = ET.fromstring(f"<small>{markup}</small>")
        assert [(a.get("href"), a.text) for a in root.iter("a")] == [("default", DEFAULT)], markup
    assert as_read(model_note("liif-edsr-jpeg", INFO, None)) == "For JPEG <photos> & scans."
    assert as_read(model_note("liif-edsr-jpeg", INFO, "")) == "For JPEG <photos> & scans."
    for chosen in (None, "default", "liif-edsr", "mine", "/models/x.safetensors"):  # not made for JPEG
        assert "<a " not in model_note(chosen, INFO, "/a/b.png"), chosen
    # a default made for JPEG files itself (a user's own install) has nothing better to offer
    assert "<a " not in model_note("liif-edsr-jpeg", dict(INFO, models=["liif-edsr-jpeg"]), "/a/b.png")


def lossy_and_lossless_files(folder: Path) -> dict[str, str]:
    """Image files saved with and without lossy compression, written here by Pillow, each with the kind of
    lossy compression it was saved with ('' for none)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 256, (24, 32, 4), dtype=np.uint8))
    frames = [rgb, Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))]
    icc = b"\x00" * 70001  # an odd size: a chunk's padding byte, and the image chunk beyond the first 64 KiB
    saved = {"photo.webp": (rgb, {"quality": 80}, "lossy WebP"),
             "shot.webp": (rgb, {"lossless": True}, ""),
             "alpha.webp": (rgba, {"quality": 80}, "lossy WebP"),  # VP8X, ALPH, then VP8
             "alpha-lossless.WEBP": (rgba, {"lossless": True}, ""),
             "profile.webp": (rgb, {"quality": 80, "icc_profile": icc, "exif": b"Exif\x00\x00" + b"\x00" * 9},
                              "lossy WebP"),
             "profile-lossless.webp": (rgb, {"lossless": True, "icc_profile": icc}, ""),
             "anim.webp": (rgb, {"save_all": True, "append_images": frames, "quality": 70}, "lossy WebP"),
             "anim-lossless.webp": (rgb, {"save_all": True, "append_images": frames, "lossless": True}, ""),
             "photo.avif": (rgb, {"quality": 60}, "AVIF"),
             "photo.jpg": (rgb, {"quality": 90}, "JPEG"),
             "phone.HEIC": (rgb, {"quality": 90}, "HEIC"),
             "shot.png": (rgb, {}, ""),
             "named.webp.png": (rgb, {}, ""),
             "not-a-webp.webp": (rgb, {"format": "PNG"}, "")}  # a PNG misnamed: no VP8 chunk
    kinds = {}
    for name, (image, options, kind) in saved.items():
        image.save(folder / name, **options)
        kinds[name] = kind
    # lossless AVIF stores RGB with the identity matrix (avifenc --lossless, libheif's lossless): Pillow writes no
    # lossless AVIF, so its file's colour properties are given that matrix (what is read is the header only)
    data = (folder / "photo.avif").read_bytes()
    at = data.index(b"colrnclx")
    (folder / "lossless.avif").write_bytes(data[:at + 12] + b"\x00\x00" + data[at + 14:])
    kinds["lossless.avif"] = ""
    (folder / "empty.webp").write_bytes(b"")
    kinds["empty.webp"] = ""
    (folder / "cut.webp").write_bytes((folder / "photo.webp").read_bytes()[:15])  # cut in the first chunk's name
    kinds["cut.webp"] = ""
    kinds["missing.webp"], kinds["missing.avif"], kinds["missing.jpg"] = "", "AVIF", "JPEG"  # not there
    # JPEG XL: cjxl's files (tests/data/jxl: a recompressed JPEG, lossy and lossless ones with an ICC profile, an
    # orientation, 12 bits, an animation) and libjxl's through imagecodecs (lossless and lossy, alpha, grey, float)
    jxl = {"jpeg.jxl": "recompressed JPEG", "icc_lossy.jxl": "lossy JPEG XL", "turned_lossy.jxl": "lossy JPEG XL",
           "icc_lossy_dark.jxl": "lossy JPEG XL",
           "icc.jxl": "", "p3.jxl": "", "gamma_grey.jxl": "", "pq.jxl": "", "twelve_bits.jxl": "", "animation.jxl": ""}
    for name, kind in jxl.items():
        (folder / name).write_bytes((JXL_DATA / name).read_bytes())
        kinds[name] = kind
    pixels = np.asarray(rgb)
    rgba_pixels = np.dstack([pixels, pixels[..., :1]])
    for name, arr, options, kind in (("rgba.jxl", rgba_pixels, {"lossless": True}, ""),
                                     ("rgba-lossy.jxl", rgba_pixels, {"distance": 1.0}, "lossy JPEG XL"),
                                     ("grey-lossy.jxl", pixels[..., 0], {"distance": 2.0}, "lossy JPEG XL"),
                                     ("float.jxl", pixels.astype(np.float32) / 255, {"lossless": True}, ""),
                                     ("float-lossy.jxl", pixels.astype(np.float32) / 255, {"distance": 1.0},
                                      "lossy JPEG XL")):
        (folder / name).write_bytes(imagecodecs.jpegxl_encode(arr, **options))
        kinds[name] = kind
    (folder / "cut.jxl").write_bytes((JXL_DATA / "p3.jxl").read_bytes()[:5])
    kinds["cut.jxl"] = kinds["missing.jxl"] = ""
    return kinds


def test_the_cli_and_the_plugins_take_the_same_files_for_jpeg(tmp_path):
    """The rule is written twice (editor Pythons cannot import liif_core): both copies must agree,
    or the CLI and the dialogs would suggest different models for the same file. Lossy WebP and lossless
    AVIF are told by the files themselves: their names do not say."""
    from liif_core import cli, imageio

    assert imageio.LOSSY_SUFFIXES == plugin_choice.LOSSY_SUFFIXES
    assert cli.AUTO == plugin_choice.AUTO
    for name, kind in lossy_and_lossless_files(tmp_path).items():
        path = tmp_path / name
        assert plugin_choice.lossy_kind(str(path)) == kind, name
        assert imageio.lossy_compression(path) == kind, name
        assert cli.is_lossy(path) == bool(kind) == plugin_choice.from_lossy_file(str(path)), name
    assert not cli.is_lossy(cli.STDIO)


def test_a_webp_file_known_by_name_only_counts_as_lossless(tmp_path, monkeypatch):
    """A layer's name is no path: a WebP file named so is not read, even where a file of that name lies in
    the editor's working folder; an AVIF one counts as lossy, as most are. Krita's note of a lossy WebP file
    a document was opened from stands for one by a name of its own."""
    lossy_and_lossless_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert plugin_choice.lossy_kind("photo.webp") == "" and plugin_choice.lossy_kind(str(tmp_path / "photo.webp"))
    assert plugin_choice.lossy_kind("lossless.avif") == "AVIF"
    assert plugin_choice.lossy_kind(plugin_choice.LOSSY_NAMES[".webp"]) == "lossy WebP"
    # JPEG XL alike: a name is not read (the file beside it is lossy), Krita's note stands for a lossy one
    assert plugin_choice.lossy_kind("turned_lossy.jxl") == ""
    assert plugin_choice.lossy_kind(str(tmp_path / "turned_lossy.jxl")) == "lossy JPEG XL"
    assert plugin_choice.lossy_kind(plugin_choice.LOSSY_NAMES[".jxl"]) == "lossy JPEG XL"
    assert chosen_model("auto", INFO, plugin_choice.origin("/a/shot.png", "photo.webp copy")) is None
    # GIMP names an opened file's layer after it: such a layer goes by the image's file, which is read
    image_file = str(tmp_path / "photo.webp")
    for layer in ("photo.webp", "Photo.WEBP copy"):
        assert plugin_choice.origin(image_file, layer) == image_file, layer
    assert chosen_model("auto", INFO, plugin_choice.origin(image_file, "photo.webp")) == "liif-edsr-jpeg"
    assert chosen_model("auto", INFO, plugin_choice.origin("/a/shot.png", "photo.avif copy")) == "liif-edsr-jpeg"


def test_the_notes_name_the_lossy_compression_the_file_was_saved_with(tmp_path):
    kinds = lossy_and_lossless_files(tmp_path)
    for name in ("photo.webp", "photo.avif", "phone.HEIC", "photo.jpg", "shot.webp", "lossless.avif"):
        path, kind = str(tmp_path / name), kinds[name]
        assert chosen_model("auto", INFO, path) == ("liif-edsr-jpeg" if kind else None), name
        auto, chosen = as_read(model_note("auto", INFO, path)), as_read(model_note("liif-edsr", INFO, path))
        if kind:
            assert auto.endswith(f"\n{AUTO_JPEG.format(JPEG_MODEL, kind=kind)}"), auto
            assert chosen.endswith(f"\nThis image was opened from a {kind} file: the model {JPEG_MODEL} is made for "
                                   "lossy compression."), chosen
        else:
            assert auto.endswith(f"\n{AUTO_CLEAN.format(DEFAULT, JPEG_MODEL)}") and chosen == "For clean images.", name
            assert as_read(model_note("liif-edsr-jpeg", INFO, path)).endswith(f"\n{BACK}"), name
    webp = as_read(model_note("auto", INFO, "/a/shot.png", layer="File Layer 1", shows=str(tmp_path / "photo.webp")))
    assert webp.endswith(plugin_choice.FILE_LAYER_AUTO_JPEG.format(JPEG_MODEL, kind="lossy WebP")), webp


def test_automatic_takes_the_jpeg_model_for_an_image_opened_from_a_jpeg_file():
    for name in ("/a/b.jpg", "/a/Photo.JPEG", "c.jpe", "d.jfif", plugin_choice.JPEG_NAME_UNKNOWN,
                 "/phone/IMG_0001.HEIC", "e.heif"):  # HEIC too: the JPEG model scored higher on those
        assert chosen_model("auto", INFO, name) == "liif-edsr-jpeg", name
    for name in ("/a/b.png", "/a/b.kra", "/a/jpg", "/a/b.jpg.xcf", "", None):
        assert chosen_model("auto", INFO, name) is None, name  # the default
    assert chosen_model("auto", dict(INFO, jpeg_models=[]), "/a/b.jpg") is None  # no JPEG model bundled
    assert chosen_model("auto", {}, "/a/b.jpg") is None
    for model in (None, "", "default", "liif-edsr", "mine", "/m/x.pth"):  # a choice stands for itself
        assert chosen_model(model, INFO, "/a/b.jpg") == model


def test_automatic_says_why_under_the_model_list_with_no_link():
    jpeg = model_note("auto", INFO, "/a/holiday.jpg")
    why = AUTO_JPEG.format(JPEG_MODEL, kind='JPEG')
    assert as_read(jpeg) == f"For JPEG <photos> & scans.\n{why}" and "<a " not in jpeg
    for other in ("/a/b.png", None):  # also an image never saved
        note = model_note("auto", INFO, other)
        why = AUTO_CLEAN.format(DEFAULT, JPEG_MODEL)
        assert as_read(note) == f"For clean images.\n{why}" and "<a " not in note
    assert model_note("auto", dict(INFO, jpeg_models=[]), "/a/b.jpg") == "For clean images."  # nothing to choose
    assert model_note("auto", {}, "/a/b.jpg") == ""  # no info yet


def test_the_typed_model_field_gets_links_to_its_other_values():
    """GIMP's Model field is typed in: under it, links to ``auto``, ``default`` and each bundled model but
    the default (names with non-breaking hyphens), the value in the field left out; each link's target is
    what it puts in the field. Nothing before the worker's info came."""
    def links(model):
        root = ET.fromstring(f"<small>{plugin_choice.other_models(INFO, model)}</small>")
        return [(a.get("href"), a.text) for a in root.iter("a")]

    everything = [("auto", "auto"), ("default", "default"), ("liif-edsr-jpeg", JPEG_MODEL), ("mine", "mine")]
    assert links("auto") == everything[1:]
    for default in (None, "default"):
        assert links(default) == [everything[0], *everything[2:]]
    assert links("liif-edsr-jpeg") == [*everything[:2], everything[3]]
    assert links("/models/x.safetensors") == everything  # a file: every bundled choice
    assert as_read(plugin_choice.other_models(INFO, "auto")) == f"Other models: default, {JPEG_MODEL}, mine"
    assert plugin_choice.other_models({}, "auto") == ""


def test_a_layer_named_after_an_image_file_goes_by_that_file():
    """A file brought into another image as a layer (GIMP's Open as Layers or a drop, Krita's Import Layer)
    names the layer after itself, and copies keep the name with a word added: such a layer goes by its
    file; any other layer by the image's file."""
    for name, file_name in (("holiday.jpg", "holiday.jpg"), ("IMG_0042.JPEG copy", "IMG_0042.JPEG"),
                            ("holiday.jpg ×2 (LIIF)", "holiday.jpg"), ("Copy of scan.jfif #1", "scan.jfif"),
                            ("mockup.png", "mockup.png"), ("render.v2.exr", "render.v2.exr"),
                            ("/home/me/My Photos/cat.jpe", "cat.jpe")):  # a Krita file layer's path
        assert plugin_choice.layer_file(name) == file_name, name
        assert plugin_choice.origin("/a/b.xcf", name) == file_name, name
    for name in ("Background", "Layer 1", "Paint Layer 3", "v2.0 final", "photo.jpg.bak", "notes.txt", "jpg",
                 "www.example.com", "", None):
        assert plugin_choice.layer_file(name) == "", name
        assert plugin_choice.origin("/a/b.jpg", name) == "/a/b.jpg", name
        assert plugin_choice.origin(None, name) == "", name
    assert chosen_model("auto", INFO, plugin_choice.origin("/a/shot.png", "holiday.jpg")) == "liif-edsr-jpeg"
    assert chosen_model("auto", INFO, plugin_choice.origin("/a/holiday.jpg", "shot.png copy")) is None


def test_the_note_of_a_layer_named_after_a_file_says_the_layer_decides():
    layer_auto = plugin_choice.LAYER_AUTO_JPEG.format(JPEG_MODEL, kind='JPEG')
    assert as_read(model_note("auto", INFO, "/a/shot.png", layer="holiday.jpg")) == (
        f"For JPEG <photos> & scans.\n{layer_auto}")
    why = plugin_choice.LAYER_AUTO_CLEAN.format(DEFAULT, JPEG_MODEL)
    assert as_read(model_note("auto", INFO, "/a/holiday.jpg", layer="shot.png")) == f"For clean images.\n{why}"
    hint = plugin_choice.LAYER_JPEG_HINT.format(JPEG_MODEL, kind='JPEG')
    markup = model_note(None, INFO, "/a/shot.png", layer="holiday.jpg copy")
    assert as_read(markup) == f"For clean images.\n{hint}" and 'href="liif-edsr-jpeg"' in markup
    back = plugin_choice.LAYER_CLEAN_HINT.format(DEFAULT)
    markup = model_note("liif-edsr-jpeg", INFO, "/a/holiday.jpg", layer="shot.png")
    assert as_read(markup) == f"For JPEG <photos> & scans.\n{back}" and 'href="default"' in markup
    # a layer not named after a file, or after the image's own (GIMP names an opened file's layer so): the
    # image's note, word for word
    for model, file_name in (("auto", "/a/b.jpg"), ("auto", "/a/b.png"), (None, "/a/b.jpg"),
                             ("liif-edsr-jpeg", "b.png")):
        for layer in ("Background", file_name.rpartition("/")[2], file_name.rpartition("/")[2].upper() + " copy"):
            assert model_note(model, INFO, file_name, layer=layer) == model_note(model, INFO, file_name), layer


def test_a_file_layer_goes_by_the_file_it_shows():
    """Krita's file layer shows a file kept outside the document (its name is "File Layer 1", not the file's):
    a job on it goes by that file, whatever the layer is called, and the note says the file layer decides."""
    for shows in ("/home/me/Photos/holiday.jpg", "holiday.jpg", "C:\\Users\\me\\holiday.jpg"):
        assert plugin_choice.origin("/a/shot.png", "File Layer 1", shows) == shows  # the path: it may be read
        assert plugin_choice.origin("/a/shot.png", "mockup.png", shows) == shows
        assert chosen_model("auto", INFO, plugin_choice.origin("/a/shot.png", "mockup.png", shows)) == "liif-edsr-jpeg"
    assert plugin_choice.origin("/a/holiday.jpg", "File Layer 1", "/b/shot.png") == "/b/shot.png"
    assert plugin_choice.origin("/a/holiday.jpg", "File Layer 1", "") == "/a/holiday.jpg"
    why = plugin_choice.FILE_LAYER_AUTO_JPEG.format(JPEG_MODEL, kind='JPEG')
    note = model_note("auto", INFO, "/a/shot.png", layer="File Layer 1", shows="/b/holiday.jpg")
    assert as_read(note) == f"For JPEG <photos> & scans.\n{why}", note
    why = plugin_choice.FILE_LAYER_AUTO_CLEAN.format(DEFAULT, JPEG_MODEL)
    note = model_note("auto", INFO, "/a/holiday.jpg", layer="holiday.jpg", shows="/b/shot.png")
    assert as_read(note) == f"For clean images.\n{why}", note
    hint = plugin_choice.FILE_LAYER_JPEG_HINT.format(JPEG_MODEL, kind='JPEG')
    markup = model_note(None, INFO, "/a/shot.png", layer="File Layer 1", shows="/b/holiday.jpg")
    assert as_read(markup) == f"For clean images.\n{hint}" and 'href="liif-edsr-jpeg"' in markup
    back = plugin_choice.FILE_LAYER_CLEAN_HINT.format(DEFAULT)
    markup = model_note("liif-edsr-jpeg", INFO, "/a/holiday.jpg", layer="File Layer 1", shows="/b/shot.png")
    assert as_read(markup) == f"For JPEG <photos> & scans.\n{back}" and 'href="default"' in markup
    # a file layer showing the image's own file: the image's note
    assert (model_note("auto", INFO, "/a/holiday.jpg", layer="File Layer 1", shows="/b/holiday.jpg")
            == model_note("auto", INFO, "/a/holiday.jpg"))


def test_automatic_on_the_whole_image_names_the_layers_that_get_another_model():
    """A whole-image job gives each layer the model its own file calls for: the note names those whose model
    is not the image's (up to three, then a count); with a model chosen by hand, every layer gets it."""
    layers = ["Background", "<b>.jpg", "shot.png", "b.jpeg", "c.jpg", "d.jpg copy"]
    note = as_read(model_note("auto", INFO, "/a/mockup.png", layers=layers))
    why = AUTO_CLEAN.format(DEFAULT, JPEG_MODEL)
    assert note == (f"For clean images.\n{why}\n"
                    f"{plugin_choice.LAYERS_JPEG.format(JPEG_MODEL, '<b>.jpg, b.jpeg, c.jpg and 1 more')}"), note
    note = as_read(model_note("auto", INFO, "/a/holiday.jpg", layers=layers))
    assert note.endswith(f"\n{plugin_choice.LAYERS_CLEAN.format(DEFAULT, 'shot.png')}"), note
    assert model_note("auto", INFO, "/a/b.png", layers=["Background", "x.png"]) == model_note("auto", INFO, "/a/b.png")
    assert model_note(None, INFO, "/a/b.png", layers=layers) == "For clean images."
    assert "<b>" not in model_note("auto", INFO, "/a/b.png", layers=layers)  # a layer's name is text, not markup
