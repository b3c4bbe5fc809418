"""``liif-upscale``: upscale image files (one, many, folders or globs) from the command line.

Every input is handled on its own: a bad file prints one line and the batch goes on; the exit
code is 0 when all succeeded, 1 when some failed, 2 for a usage error. ``-`` as the input reads
the image from standard input, ``-o -`` writes the result to standard output, so the command
fits in a shell pipeline.
"""

from __future__ import annotations

import argparse
import glob
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from liif_core.devices import PRECISIONS
from liif_core.errors import LiifError
from liif_core.imageio import (
    READ_SUFFIXES,
    WRITE_FORMATS,
    lossy_compression,
    read_image_and_metadata,
    stored_dtype,
    suffix_of,
    write_image,
)
from liif_core.upscale import output_size, upscale
from liif_core.weights import Model, jpeg_models, list_models, load_model, model_summaries

STDIO = Path("-")  # the input read from standard input, the output written to standard output
AUTO = "auto"  # --model: the model made for each input


class Models:
    """The model each input is upscaled with: the one ``--model`` names, or with ``auto`` the one
    made for the input's kind (the bundled model made for JPEG files, if there is one, for files saved with lossy
    compression: JPEG, HEIC, AVIF, lossy WebP, lossy JPEG XL; the default for the others). Each is loaded once,
    when first needed."""

    def __init__(self, name: str, device: str, precision: str | None):
        self.name, self.device, self.precision = name, device, precision
        self.loaded: dict[str, Model] = {}
        self.for_jpeg = jpeg_models()[:1] if name == AUTO else []  # read from the cards once

    def named(self, name: str) -> Model:
        """The model called ``name``, loaded on first use (raises :class:`LiifError`)."""
        if name not in self.loaded:
            self.loaded[name] = load_model(name, self.device, self.precision)
        return self.loaded[name]

    def for_file(self, path: Path) -> Model:
        """The model for the image file ``path`` (:func:`is_lossy`)."""
        if self.name != AUTO:
            return self.named(self.name)
        return self.named(self.for_jpeg[0] if self.for_jpeg and is_lossy(path) else "default")


def is_lossy(path: Path) -> bool:
    """Whether ``path`` is a file saved with lossy compression (:func:`~liif_core.imageio.lossy_compression`;
    standard input's ``-`` is not one: its temporary file, named by its format, is)."""
    return path != STDIO and bool(lossy_compression(path))


def expand_inputs(items: list[str], recursive: bool = False,
                  exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """Files, folders (their images, sorted; with ``recursive`` those of every subfolder too) and
    glob patterns, in the order given, without duplicates, each with the path its output takes
    below ``--out-dir``: its name, or its path below the folder given. A folder's hidden files
    and subfolders (``.thumbnails``) are left out, and so are files below ``exclude`` (the output
    folder, when it lies inside an input folder), so a second run does not upscale the first
    one's results."""
    found: dict[Path, Path] = {}
    skip = exclude.resolve() if exclude is not None else None
    for item in items:
        if any(ch in item for ch in "*?["):
            pairs = [(Path(p), Path(Path(p).name)) for p in sorted(glob.glob(item)) or [item]]
        elif Path(item).is_dir():
            folder = Path(item)
            files = folder.rglob("*") if recursive else folder.iterdir()
            inside = skip is not None and skip != folder.resolve() and skip.is_relative_to(folder.resolve())
            pairs = [(p, p.relative_to(folder)) for p in sorted(files)
                     if p.suffix.lower() in READ_SUFFIXES and p.is_file()
                     and not any(part.startswith(".") for part in p.relative_to(folder).parts)
                     and not (inside and p.resolve().is_relative_to(skip))]
        else:
            pairs = [(Path(item), Path(Path(item).name))]
        for path, rel in pairs:
            found.setdefault(path, rel)
    return list(found.items())


def parse_pair(text: str, kind: type, what: str) -> tuple:
    """``"2.5"`` or ``"2x3"`` / ``"2,3"`` as a pair of numbers."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = tuple(kind(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must look like 3, 2.5 or 1920x1080, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"{what} must be one number or two joined by x, got {text!r}")
    if kind is int and min(values) < 1:
        raise argparse.ArgumentTypeError(f"{what} is in pixels, 1 or more, got {text!r}")
    return values


def pixels(text: str, what: str) -> int:
    """A length in pixels from the command line: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{what} is a whole number of pixels, 1 or more, got {text!r}")
    return value


def target(args: argparse.Namespace, hw: tuple[int, int]) -> dict:
    """The ``scale``/``size`` arguments of :func:`upscale` for one image, from the command line."""
    h, w = hw
    if args.size:
        return {"size": args.size}
    if args.width or args.height:
        if args.width and args.height:
            return {"size": (args.width, args.height)}
        if args.width:
            return {"size": (args.width, max(1, round(h * args.width / w)))}
        return {"size": (max(1, round(w * args.height / h)), args.height)}
    return {"scale": args.scale}


def output_path(args: argparse.Namespace, src: Path, rel: Path) -> Path:
    """``-o``, or ``rel`` (the input's name, or its path below a folder given with --recursive) in
    ``--out-dir`` with ``--format``'s suffix, else its own when it can be written (a .gif or .bmp
    becomes a .png; so does a .jxl, which may hold what a JPEG XL file written here cannot name: PQ, an ICC profile)."""
    if args.output:
        return Path(args.output)
    own = src.suffix.lower() in WRITE_FORMATS and src.suffix.lower() != ".jxl"
    suffix = args.format or (src.suffix if own else ".png")
    return Path(args.out_dir) / rel.parent / (src.stem + suffix)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liif-upscale", description="Upscale images to any size with LIIF.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files, folders or glob patterns; - reads one image from standard input")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="output file (one input only); - writes to standard output (PNG "
                                            "unless --format says otherwise)")
    out.add_argument("--out-dir", help="folder for the outputs (same file names)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("-s", "--scale", type=lambda t: parse_pair(t, float, "--scale"), help="factor, e.g. 3 or 2x1.5")
    size.add_argument("--size", type=lambda t: parse_pair(t, int, "--size"), help="exact WIDTHxHEIGHT")
    p.add_argument("--width", type=lambda t: pixels(t, "--width"),
                   help="output width (height keeps the aspect ratio unless given)")
    p.add_argument("--height", type=lambda t: pixels(t, "--height"),
                   help="output height (width keeps the aspect ratio unless given)")
    p.add_argument("--model", default=AUTO, help=f"auto (the default): the model made for each input, "
                   f"{(jpeg_models() or ['the JPEG model'])[0]} for files saved with lossy compression (JPEG, HEIC, "
                   f"AVIF, lossy WebP, lossy JPEG XL) and the default for the others; or a bundled model, or a "
                   f".safetensors/.pth file (bundled: {', '.join(list_models()) or 'none'})")
    p.add_argument("--device", default="auto", help="auto, cpu, gpu, cuda, cuda:N or mps")
    p.add_argument("--precision", choices=["auto", *PRECISIONS],
                   help="what the decoder computes in (default: LIIF_UPSCALE_PRECISION, else auto: bfloat16 "
                        "where the CPU multiplies it natively, 1.4-2.1 times faster; float32 elsewhere)")
    p.add_argument("--tile", type=int, help="tile side in input pixels (default: from available memory)")
    views = p.add_mutually_exclusive_group()
    views.add_argument("--self-ensemble", dest="views", action="store_const", const=8, default=1,
                       help="average 8 flipped and rotated passes: a little better, 8 times slower (--views 8)")
    views.add_argument("--views", type=int, choices=(1, 2, 4, 8), default=1,
                       help="passes averaged over flipped and rotated views: 1 (default), 2 (the half turn "
                            "added: about half of the 8's gain), 4 (the rotations: 85-91%% of it), 8; each pass "
                            "costs as much as the first")
    p.add_argument("--linear", action="store_true",
                   help="the inputs hold linear light (e.g. float TIFFs saved from a linear document) of pictures "
                        "made in sRGB form (photographs, screenshots, drawings): upscale their colour in sRGB form, "
                        "the form the model learned on. Leave it off for a render made in linear light: its values "
                        "upscale best as they are")
    p.add_argument("--format", help="output format when writing to --out-dir or to standard output: png, jpg, webp, "
                                    "avif, heic, jxl, tif, exr or hdr")
    p.add_argument("-r", "--recursive", action="store_true",
                   help="take the images of a folder's subfolders too; --out-dir repeats the subfolders")
    p.add_argument("--quality", type=int, metavar="1-100",
                   help="JPEG, AVIF and HEIC quality (default 95, 90, 90), or lossy WebP and JPEG XL at this quality "
                        "(default: lossless WebP and JPEG XL); PNG, TIFF and OpenEXR are always lossless")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--list-models", action="store_true",
                   help="print the bundled models, each with what it is for, and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Print the warnings of reading or writing a file as one line each, once it is done."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in (w for w in caught if issubclass(w.category, UserWarning)):
        print(f"liif-upscale: warning: {warning.message}", file=sys.stderr)


@contextmanager
def standard_streams(src: Path, dst: Path, suffix: str | None) -> Iterator[tuple[Path, Path]]:
    """The files to read and write instead of ``-``: standard input saved to a temporary file (its
    format recognised from its bytes), and a temporary output of ``suffix`` (default PNG) that is
    copied to standard output once it is whole. A path that is not ``-`` passes through."""
    with tempfile.TemporaryDirectory(prefix="liif-upscale-") as folder:
        if src == STDIO:
            data = sys.stdin.buffer.read()
            kind = suffix_of(data)
            if kind is None:
                raise LiifError(f"standard input holds no image that can be read ({len(data)} bytes; "
                                f"{', '.join(READ_SUFFIXES)} files can)")
            src = Path(folder) / f"stdin{kind}"
            src.write_bytes(data)
        if dst == STDIO:
            dst = Path(folder) / f"stdout{suffix or '.png'}"
            yield src, dst
            with open(dst, "rb") as result:
                shutil.copyfileobj(result, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            yield src, dst


def upscale_file(args: argparse.Namespace, src: Path, rel: Path, models: Models,
                 written: dict[Path, Path]) -> None:
    """Upscale one input (``rel``: its output's path below --out-dir) into its output file as the
    command line asks, and record it in ``written`` (output -> input, this run's). Raises
    :class:`LiifError` or ``OSError`` with what to fix; the output is then left as it was."""
    dst = output_path(args, src, rel)
    if src == STDIO and dst != STDIO and dst.exists() and not args.overwrite:
        raise LiifError(f"{dst} exists; pass --overwrite to replace it")
    if STDIO in (src, dst):
        with standard_streams(src, dst, args.format) as (read, write):
            _upscale(args, read, write, models, "<stdin>" if src == STDIO else str(src),
                     "<stdout>" if dst == STDIO else str(dst))
        if dst != STDIO:
            written[dst.resolve()] = src
        return
    if dst.resolve() == src.resolve():
        raise LiifError(f"{dst}: refusing to overwrite the input; choose another output")
    if dst.resolve() in written:
        raise LiifError(f"{src}: its output {dst} already holds the result of {written[dst.resolve()]}; "
                        "upscale inputs of the same name into different --out-dir folders (or use --recursive "
                        "on their common folder)")
    if dst.exists() and not args.overwrite:
        raise LiifError(f"{dst} exists; pass --overwrite to replace it")
    _upscale(args, src, dst, models, str(src), str(dst))
    written[dst.resolve()] = src


def _upscale(args: argparse.Namespace, src: Path, dst: Path, models: Models, src_name: str, dst_name: str) -> None:
    """Read ``src``, upscale it, write ``dst``; the names are what the messages call them."""
    try:
        with warnings_as_lines():
            image, metadata = read_image_and_metadata(src)
        stored_dtype(dst, image.shape[2], image.dtype, metadata)
    except (LiifError, OSError) as e:  # the temporary file of standard input or output: say which stream
        raise type(e)(str(e).replace(str(src), src_name).replace(str(dst), dst_name)) from None
    model = models.for_file(src)  # standard input's temporary file has its format's suffix
    kwargs = target(args, image.shape[:2])
    oh, ow = output_size(image.shape[:2], **kwargs)
    with tqdm(total=1, desc=f"{Path(src_name).name} -> {ow}x{oh}", unit="px", unit_scale=True, leave=False,
              disable=args.quiet or None) as bar:  # None: bars only on a terminal, not in a log
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        result = upscale(image, model=model, tile=args.tile, progress=progress,
                         self_ensemble=args.views, linear=args.linear, **kwargs)
    with warnings_as_lines():
        write_image(dst, result, metadata, args.quality)
    if not args.quiet:  # standard output may hold the image itself; with auto, the model each input got
        chosen = f", {model.name}" if models.name == AUTO else ""
        tqdm.write(f"{src_name} -> {dst_name} ({ow}x{oh}{chosen})",
                   file=sys.stderr if dst_name == "<stdout>" else None)


def model_note(name: str, sources: list[Path]) -> str:
    """Which bundled model suits the inputs better than the one chosen (``name``), or '': for files saved with
    lossy compression (:func:`is_lossy`), the model made for JPEG files; for inputs that are all other files, the
    default, when the one chosen is made for JPEG files (standard input's format is not known: no note)."""
    for_jpeg, default = jpeg_models(), next(iter(list_models()), None)
    from_jpeg = [is_lossy(Path(src)) for src in sources]
    if for_jpeg and name not in for_jpeg and any(from_jpeg):
        return (f"JPEG, HEIC, AVIF, lossy WebP or lossy JPEG XL inputs; --model {for_jpeg[0]} is made for images "
                "saved as JPEG and scores higher on the others too (without --model, each input gets the model made "
                "for it)")
    known = bool(sources) and STDIO not in sources
    if name in for_jpeg and default and default not in for_jpeg and known and not any(from_jpeg):
        return (f"no JPEG, HEIC, AVIF, lossy WebP or lossy JPEG XL inputs; the default model ({default}, without "
                "--model) is sharper on them")
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_models:  # a name per line, then what it is for (a script can cut the first column)
        summaries = model_summaries()
        print("\n".join(f"{name}\t{summaries[name]}".rstrip() for name in summaries))
        return 0
    if not args.inputs:
        parser.error("give at least one INPUT")
    if args.size and (args.width or args.height):
        parser.error("--size cannot be combined with --width/--height")
    if not (args.scale or args.size or args.width or args.height):
        parser.error("give --scale, --size, --width or --height")
    if not (args.output or args.out_dir):
        parser.error("give -o OUTPUT (one input) or --out-dir DIR")
    if args.format:
        suffix = f".{args.format.lstrip('.')}"
        if suffix.lower() not in WRITE_FORMATS:
            parser.error(f"--format must be one of {', '.join(f.lstrip('.') for f in WRITE_FORMATS)}, "
                         f"got {args.format!r}")
        args.format = suffix  # the output suffix, worked out once
    if args.quality is not None and not 1 <= args.quality <= 100:
        parser.error(f"--quality must be 1 to 100, got {args.quality}")
    inputs = expand_inputs(args.inputs, args.recursive, Path(args.out_dir) if args.out_dir else None)
    if not inputs:
        parser.error(f"no images in {', '.join(args.inputs)} (folders give their {', '.join(READ_SUFFIXES)} files"
                     f"{'' if args.recursive else '; --recursive takes subfolders too'})")
    if args.output and len(inputs) != 1:
        parser.error(f"-o takes exactly one input, got {len(inputs)}; use --out-dir for batches")
    if STDIO in (src for src, _ in inputs) and not args.output:
        parser.error("- (standard input) takes -o OUTPUT, or -o - for standard output")
    models = Models(args.model, args.device, args.precision)
    try:  # the model named (with auto, the default): a model that cannot load is a usage error
        model = models.named("default" if args.model == AUTO else args.model)
    except LiifError as e:
        print(f"liif-upscale: {e}", file=sys.stderr)
        return 2
    if not args.quiet and args.model != AUTO:
        note = model_note(model.name, [src for src, _ in inputs])
        if note:
            print(f"liif-upscale: note: {note} (--list-models says what each model is for)", file=sys.stderr)
    failures = 0
    written: dict[Path, Path] = {}  # this run's outputs: a later input of the same name must not replace one
    try:
        for src, rel in tqdm(inputs, desc="images", unit="img", disable=args.quiet or len(inputs) < 2 or None):
            try:
                upscale_file(args, src, rel, models, written)
            except (LiifError, OSError) as e:
                failures += 1
                message = str(e) if str(src) in str(e) else f"{src}: {e}"
                print(f"liif-upscale: error: {message}", file=sys.stderr)
    except KeyboardInterrupt:  # Ctrl-C: a line, not a traceback; every file written so far is whole
        print(f"\nliif-upscale: interrupted; {len(written)} of {len(inputs)} images written", file=sys.stderr)
        return 130
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
