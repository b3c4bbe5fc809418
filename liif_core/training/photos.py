"""Photographs from Debian's wallpaper packages, made into clean high-resolution training images.

T91 and BSD200 hold about 30 megapixels of photographs, the paper's DIV2K about 2,200; the
benchmark gap is largest on Urban100's fine, regular detail. Debian ships some sharp photographs
as desktop wallpapers (MATE, Plasma, Lomiri), which a package registry may serve us. They are
JPEGs of 1280 to 6028 pixels: each is reduced by the smallest whole factor of at least 2 that
brings its long side to at most :data:`MAX_SIDE`, with MATLAB's antialiased bicubic
(:func:`liif_core.imresize.imresize`). That removes the JPEG blocks and ringing, as DIV2K's
high-resolution images are free of them, and gives a DIV2K-like pixel scale.

The selection (:data:`PHOTOS`) is by eye (photographs only, no renders or illustrations, none
mostly sky) and by detail: a wallpaper that is almost all blur once reduced is left out. Even so,
most are smoother than BSD200, so a config gives this source ``min_detail``
(:class:`liif_core.training.data.Source`). Each file is pinned by its SHA-256, so every machine
trains on the same pixels and a changed package stops the run with a clear error instead of
silently changing the data. None of these packages is reserved for evaluation
(:mod:`liif_core.eval_sets`).
"""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from liif_core.errors import LiifError
from liif_core.imresize import imresize

MAX_SIDE = 2048  # DIV2K's HR images are 2040 pixels on their long side

# (Debian package, path in the package, SHA-256). Ordered so the last few, which a config holds out
# for validation, are of different kinds: a pier, an animal indoors, boats. Left out: wallpapers
# that are renders or illustrations, mostly sky, or (once reduced) almost all blur: fewer than 10%
# of random crops reach a detail of 3 (FreshFlower, Storm, YellowFlower, LadyBird and
# free_by_Peter_Nerlich; see liif_core.training.data.detail).
Photos = tuple[tuple[str, str, str], ...]
PHOTOS: Photos = (
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg",
     "bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/Dragonfly_by_Bolly.jpg",
     "af5af17841009732def24b09bb1e669a1b09d2b4bdeee7812c371101c30d2bb3"),
    ("lomiri-wallpapers-20.04", "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
     "6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/Picture_0B_by_freespace.jpg",
     "c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/Picture_1A_by_freespace.jpg",
     "89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg",
     "d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg",
     "66268e7b48f8854d36a28765fac6e23ec1aee251daa6da1f64715f201020ad36"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg",
     "4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
     "414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg",
     "a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg",
     "474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/Aqua.jpg",
     "5c30118205982da441bf7e6a1ada636a8a0be879408140b3148280c665ed6bce"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/Blinds.jpg",
     "f7aac0dcc2e06d0491643e84df3da1d9db7c4610f58806a880d56e074799f600"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/Dune.jpg",
     "8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/Garden.jpg",
     "d3095ee09d425ef23d27155412136cf14fc3c9af76ca58b452f55e23da324e78"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/GreenMeadow.jpg",
     "8fa0de0aa4089f7319c9fb7a6d006d4cab6023e8c8853731557cff53567b4832"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/RainDrops.jpg",
     "3e4ea9671c28c90a86cf67b3db9daf18c4741587c596333a7529ca589aaa0c16"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/TwoWings.jpg",
     "665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb"),
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature/Wood.jpg",
     "19c78500ac00a622e19907ab9cc7d06d46fe08c4a6142759a84195696150ec07"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg",
     "c272434ef39f2abf1ed48a15a8910088020f3165329a5092f3940ec9464bc05f"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
     "6e0f3a72feb5a4a9fec191b77e34874c3c69e2d93040deb3f07773e73385023d"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg",
     "95603a6560c7e8d50e0e03b3f4adbe39c5258c72528e74e4ecaea1daf4e499de"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/Grey/contents/images/2560x1600.jpg",
     "88c31d8944b7e6935d1b9a296654c692f0772cb512491713eb30a972a604c0ed"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg",
     "cb507baf1dafdcae362264f3aba9483ed4be5f6c9fdd770f0ec0920c6d9e80fd"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
     "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg",
     "05bef6722fc0ed81292cceb3ed026c38d17e510f3c84be7d68610c2b1a723c3f"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg",
     "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d"),
    ("plasma-workspace-wallpapers", "usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg",
     "586682dcb362b9f620068f10138f87d0d3649939aef238adc5807cb951976a7a"),
)

Download = Callable[[list[str], Path], None]


def apt_download(packages: list[str], dest: Path) -> None:
    """Fetch the packages' ``.deb`` files into ``dest`` with ``apt-get download`` (no root needed)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise LiifError("the debian_photos training source needs Debian's apt-get and dpkg-deb; on another "
                        "system, make it on a Debian machine (python -m liif_core.training.pack) and bring the folder")
    proc = subprocess.run(["apt-get", "download", *packages], cwd=dest, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LiifError(f"apt-get download {' '.join(packages)} failed (run apt-get update, and check that a "
                        "Debian mirror is reachable):\n" + proc.stderr.strip())


def photo_name(index: int, path: str) -> str:
    """The training file's name: its place in :data:`PHOTOS` (so the held-out ones are the last),
    then a readable stem."""
    parts = Path(path).parts
    stem = parts[-4] if "wallpapers" in parts and parts[-2] == "images" else Path(path).stem  # Plasma: the folder
    return f"photo_{index:02d}_{stem}.png"


def fetch(dest: str | Path, photos: Photos | None = None, download: Download | None = None) -> list[Path]:
    """The original JPEGs of ``photos`` (default :data:`PHOTOS`), checked against their SHA-256,
    extracted under ``dest``; ``download`` (default :func:`apt_download`) brings the packages."""
    dest, photos, download = Path(dest), photos or PHOTOS, download or apt_download
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    packages = sorted({pkg for pkg, _, _ in photos})
    download(packages, debs)
    for pkg in packages:
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not found:
            raise LiifError(f"no .deb of {pkg} was downloaded")
        _extract(found[-1], {path for owner, path, _ in photos if owner == pkg}, dest)
    paths = []
    for pkg, path, digest in photos:
        target = dest / path
        if not target.is_file():
            raise LiifError(f"{path} is not in the package {pkg} any more; update liif_core/training/photos.py")
        actual = hashlib.sha256(target.read_bytes()).hexdigest()
        if actual != digest:
            raise LiifError(f"{path} of {pkg} has changed (SHA-256 {actual[:12]}..., expected {digest[:12]}...); "
                            "the training data would no longer be the one pinned in liif_core/training/photos.py")
        paths.append(target)
    return paths


def _extract(deb: Path, paths: set[str], dest: Path) -> None:
    """Copy the files ``paths`` (as named in the package, without ``./``) out of ``deb`` to under ``dest``."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if member.isfile() and name in paths:
                        target = dest / name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(tar.extractfile(member).read())
        except tarfile.TarError as e:
            proc.kill()  # it may be blocked writing the rest of the archive
            raise LiifError(f"cannot read {deb.name}: {proc.stderr.read().decode().strip() or e}") from e
    if proc.returncode != 0:
        raise LiifError(f"cannot read {deb.name}: dpkg-deb exited with status {proc.returncode}")


def reduce(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """``image`` reduced by the smallest whole factor of at least 2 that brings its long side to
    ``max_side`` or less."""
    factor = max(2, math.ceil(max(image.shape[:2]) / max_side))
    h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    return imresize(image[:h, :w], 1 / factor)


def write_debian_photos(out_dir: str | Path, photos: Photos | None = None,
                        download: Download | None = None) -> list[Path]:
    """Write the reduced photographs as PNG to ``out_dir``; the downloads go to a temporary folder."""
    out_dir, photos = Path(out_dir), photos or PHOTOS
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="liif-photos-") as tmp:
        for i, source in enumerate(fetch(tmp, photos, download)):
            with Image.open(source) as im:
                pixels = np.asarray(im.convert("RGB"))
            target = out_dir / photo_name(i, photos[i][1])
            Image.fromarray(reduce(pixels)).save(target)
            written.append(target)
    return written
