"""Rendered photographs of regular man-made structure: facades, window grids, brick, glass, railings,
signs, with now and then a street tree in front.

Our photo scores trail the paper most on urban scenes. The paper trained on DIV2K, which is full
of buildings; our natural images (T91, BSD200) are mostly animals, people and landscapes. These
images supply what they lack: straight edges at every angle, repeated elements down to the pixel
pitch, and the perspective that turns a regular grid into a gradient of frequencies.

A plane of facade texture (drawn axis-aligned, in "texel" units) is seen through a pinhole camera
with a random yaw, pitch and roll, against a sky or a second facade, sometimes under the straight
edge of a cast shadow or behind a tree, and rendered supersampled and area-averaged so that the
high-resolution image itself is free of aliasing. Each image is a pure function of
``(seed, index)`` and needs only numpy and Pillow, so a machine without Qt (a lent GPU) renders the
set itself. Urban100 and the other benchmarks are never looked at here.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 512  # side of each rendered image
SS = 3  # supersampling factor of the canvas
TEX = 2048  # side of the facade texture, in texels

Colour = tuple[float, float, float]
WALLS: list[Colour] = [(0.62, 0.62, 0.6), (0.78, 0.76, 0.72), (0.82, 0.72, 0.55), (0.56, 0.27, 0.19),
                       (0.9, 0.9, 0.88), (0.3, 0.3, 0.32), (0.7, 0.58, 0.45), (0.55, 0.6, 0.66)]
GLASS: list[Colour] = [(0.1, 0.13, 0.17), (0.2, 0.28, 0.27), (0.05, 0.05, 0.06), (0.45, 0.55, 0.66),
                       (0.3, 0.33, 0.38)]
FRAMES: list[Colour] = [(0.92, 0.92, 0.9), (0.18, 0.18, 0.19), (0.35, 0.22, 0.12), (0.62, 0.64, 0.66)]
SIGNS: list[Colour] = [(0.75, 0.1, 0.1), (0.1, 0.25, 0.55), (0.95, 0.95, 0.92), (0.1, 0.1, 0.1), (0.1, 0.45, 0.2),
                       (0.95, 0.75, 0.1)]
LEAVES: list[Colour] = [(0.2, 0.35, 0.12), (0.3, 0.45, 0.15), (0.15, 0.25, 0.1), (0.45, 0.5, 0.2), (0.55, 0.35, 0.1)]
WORDS = ["HOTEL", "CAFE", "BANK", "PHARMACY", "Bakery", "OPEN", "EXIT", "PARKING", "MARKET", "Books", "STATION",
         "RESTAURANT", "Office", "Apotheke", "Galerie", "Tabac", "POST", "Bar", "SHOES", "Fashion", "Pizza", "Metro",
         "Bus Stop", "Cinema", "GARAGE", "Library", "Museum", "Kiosk", "FLOWERS", "Dental", "Sale", "TAXI"]
SKIES: list[tuple[Colour, Colour]] = [((0.35, 0.55, 0.85), (0.75, 0.85, 0.95)), ((0.7, 0.72, 0.75), (0.9, 0.9, 0.9)),
                                      ((0.55, 0.65, 0.8), (0.95, 0.85, 0.7)), ((0.25, 0.3, 0.4), (0.5, 0.5, 0.55))]


def _jitter(rng: random.Random, c: Colour, amount: float = 0.06) -> np.ndarray:
    shade = rng.uniform(0.75, 1.1)
    return np.clip([v * shade + rng.uniform(-amount, amount) for v in c], 0, 1).astype(np.float32)


def _field(gen: np.random.Generator, h: int, w: int, cells_y: int, cells_x: int) -> np.ndarray:
    """A smooth random field with zero mean and unit-order amplitude, ``cells`` bumps per side."""
    coarse = Image.fromarray(gen.standard_normal((cells_y + 1, cells_x + 1)).astype(np.float32), mode="F")
    return np.asarray(coarse.resize((w, h), Image.BICUBIC), dtype=np.float32)


def _wall(rng: random.Random, gen: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Plaster or concrete: a base colour with stains, streaks and grain."""
    tex = np.empty((h, w, 3), np.float32)
    tex[:] = _jitter(rng, rng.choice(WALLS))
    shade = 1 + 0.06 * _field(gen, h, w, rng.randint(3, 10), rng.randint(3, 10))
    if rng.random() < 0.5:  # rain streaks: a field stretched vertically
        shade += 0.05 * _field(gen, h, w, 2, rng.randint(20, 60))
    return tex * shade[..., None] + gen.normal(0, rng.uniform(0.005, 0.03), (h, w, 1)).astype(np.float32)


def _brick(rng: random.Random, gen: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Staggered bricks or a square tile grid, each unit its own shade, in mortar."""
    bh = rng.randint(6, 28)
    bw = bh if rng.random() < 0.3 else round(bh * rng.uniform(2.0, 3.5))
    mortar = rng.randint(1, max(1, bh // 5))
    y, x = np.mgrid[0:h, 0:w]
    row = y // bh
    xs = x + (row % 2) * (bw // 2) * (bw != bh)
    col = xs // bw
    shades = gen.normal(0, rng.uniform(0.03, 0.1), (h // bh + 1, w // bw + 2)).astype(np.float32)
    tex = _jitter(rng, rng.choice(WALLS[:4] + WALLS[6:7])) * (1 + shades[row, col])[..., None]
    joint = (y % bh < mortar) | (xs % bw < mortar)
    tex[joint] = _jitter(rng, (0.72, 0.7, 0.66), 0.08)
    return tex


def _curtain(rng: random.Random, gen: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A glass curtain wall: panels in a grid of thin mullions, reflecting a soft sky."""
    ph, pw = rng.randint(20, 160), rng.randint(18, 120)
    t = rng.randint(1, 6)
    y, x = np.mgrid[0:h, 0:w]
    glass = _jitter(rng, rng.choice(GLASS), 0.04) * rng.uniform(1.0, 2.5)  # tinted, lit by the sky
    panel = gen.normal(0, 0.08, (h // ph + 1, w // pw + 1)).astype(np.float32)[y // ph, x // pw]
    tex = glass * (1 + panel + 0.35 * _field(gen, h, w, 3, 4))[..., None]
    tex[(y % ph < t) | (x % pw < t)] = _jitter(rng, rng.choice(FRAMES), 0.03)
    return tex


def _windows(rng: random.Random, gen: np.random.Generator, tex: np.ndarray) -> None:
    """Punched windows in floors and bays, with frames, mullions, sills, blinds and reveal shadows."""
    h, w = tex.shape[:2]
    fh, bw = rng.randint(50, 220), rng.randint(40, 220)
    ww, wh = round(bw * rng.uniform(0.35, 0.8)), round(fh * rng.uniform(0.4, 0.8))
    t = rng.randint(2, 9)
    glass, frame = _jitter(rng, rng.choice(GLASS), 0.04), _jitter(rng, rng.choice(FRAMES), 0.03)
    sill = rng.random() < 0.6
    cornice = rng.random() < 0.4
    bars_v, bars_h = rng.choice([0, 0, 1, 2]), rng.choice([0, 1])
    reveal = rng.randint(0, 8)
    y0, x0 = rng.randrange(fh), rng.randrange(bw)
    sky = 0.2 * _field(gen, h, w, 2, 3)
    for top in range(y0 - fh, h, fh):
        if cornice:  # a projecting band per floor, lit from above, shadow below
            ch = rng.randint(3, 12)
            tex[max(top, 0):max(top + ch, 0)] *= 1.15
            tex[max(top + ch, 0):max(top + ch + ch // 2 + 1, 0)] *= 0.7
        for left in range(x0 - bw, w, bw):
            wy, wx = top + (fh - wh) // 2, left + (bw - ww) // 2
            ys, xs = slice(max(wy, 0), max(wy + wh, 0)), slice(max(wx, 0), max(wx + ww, 0))
            tex[ys, xs] = frame
            gy, gx = slice(max(wy + t, 0), max(wy + wh - t, 0)), slice(max(wx + t, 0), max(wx + ww - t, 0))
            tex[gy, gx] = glass * (1 + sky[gy, gx, None]) * rng.uniform(0.8, 1.2)
            if rng.random() < 0.2:  # a blind pulled part way down: dense slats
                pitch = rng.randint(3, 7)
                stop = max(wy + t + round((wh - 2 * t) * rng.uniform(0.2, 1.0)), 0)
                slats = np.arange(max(wy + t, 0), min(stop, h))
                tex[slats, gx] = (0.85 - 0.25 * ((slats - wy) % pitch < pitch // 2))[:, None, None]
            for i in range(1, bars_v + 1):
                mx = wx + i * ww // (bars_v + 1)
                tex[ys, max(mx - t // 2, 0):max(mx + (t + 1) // 2, 0)] = frame
            if bars_h:
                my = wy + wh // 3
                tex[max(my - t // 2, 0):max(my + (t + 1) // 2, 0), xs] = frame
            if reveal:  # the wall's thickness shades the glass along the top and one side
                tex[gy.start:min(gy.start + reveal, gy.stop), gx] *= 0.55
                tex[gy, gx.start:min(gx.start + reveal, gx.stop)] *= 0.7
            if sill:
                tex[max(wy + wh, 0):max(wy + wh + t + 2, 0), max(wx - t, 0):max(wx + ww + t, 0)] = frame * 1.05


def _stripes(rng: random.Random, gen: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Louvres, cladding or corrugated sheet: a shaded profile repeated at a fixed pitch."""
    pitch = rng.uniform(4, 30)
    pos = np.arange(h if rng.random() < 0.6 else w, dtype=np.float32) / pitch % 1
    profile = np.sin(2 * np.pi * pos) if rng.random() < 0.5 else np.where(pos < rng.uniform(0.2, 0.7), 1.0, -1.0)
    tex = np.empty((h, w, 3), np.float32)
    tex[:] = _jitter(rng, rng.choice(WALLS + FRAMES))
    shade = 1 + rng.uniform(0.1, 0.35) * profile.astype(np.float32)
    return tex * (shade[:, None, None] if len(pos) == h else shade[None, :, None])


def _railing(rng: random.Random, tex: np.ndarray) -> None:
    """Vertical bars (a balcony railing or a fence) with top and bottom rails, over the texture."""
    h, w = tex.shape[:2]
    gap, bar = rng.randint(8, 48), rng.randint(1, 6)
    colour = _jitter(rng, rng.choice(FRAMES), 0.03)
    top = rng.randrange(h // 2)
    bottom = min(h, top + rng.randint(h // 6, h))
    x = np.arange(w)
    tex[top:bottom, (x % gap) < bar] = colour
    rail = rng.randint(3, 10)
    tex[top:top + rail] = colour
    tex[max(bottom - rail, 0):bottom] = colour


def _sign_text(rng: random.Random) -> str:
    """A shop name, a word, a house number or a run of random capitals and digits."""
    kind = rng.random()
    if kind < 0.5:
        return " ".join(rng.sample(WORDS, rng.randint(1, 2)))
    if kind < 0.7:
        return str(rng.randint(1, 999)) if rng.random() < 0.6 else f"No. {rng.randint(1, 99)}"
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))


def _signs(rng: random.Random, tex: np.ndarray) -> None:
    """Lettering: shop signs on a panel, house numbers and names painted straight on the wall,
    now and then running down a vertical sign."""
    h, w = tex.shape[:2]
    for _ in range(rng.randint(1, 3)):
        size = rng.randint(20, 180)
        font = ImageFont.load_default(size)
        text = _sign_text(rng)
        left, top, right, bottom = font.getbbox(text)
        pad = rng.randint(size // 8, size // 2)
        mask = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad))
        ImageDraw.Draw(mask).text((pad - left, pad - top), text, font=font, fill=255)
        if rng.random() < 0.15:
            mask = mask.transpose(Image.Transpose.ROTATE_270)
        mw, mh = mask.size
        if mw >= w or mh >= h:
            continue
        x, y = rng.randrange(w - mw), rng.randrange(h - mh)
        region = tex[y:y + mh, x:x + mw]
        panel = rng.random() < 0.7
        if panel:
            region[:] = _jitter(rng, rng.choice(SIGNS), 0.04)
            if rng.random() < 0.5:  # a frame round the panel
                b = rng.randint(2, max(2, pad // 2))
                edge = _jitter(rng, rng.choice(FRAMES), 0.03)
                region[:b], region[-b:], region[:, :b], region[:, -b:] = edge, edge, edge, edge
        ink = _jitter(rng, rng.choice(SIGNS + FRAMES), 0.04)
        if np.abs(ink - region.mean(axis=(0, 1))).sum() < 0.5:  # legible: ink far from what it is on
            ink = 1 - ink
        alpha = np.asarray(mask, np.float32)[..., None] / 255
        region[:] = region * (1 - alpha) + ink * alpha


def _tree(rng: random.Random, canvas: np.ndarray) -> np.ndarray:
    """A street tree in front of the building: branching limbs and, unless it is winter, leaves."""
    side = canvas.shape[0]
    layer = Image.new("RGBA", (side, side))
    draw = ImageDraw.Draw(layer)
    bark = tuple(int(v * 255) for v in _jitter(rng, (0.3, 0.25, 0.2), 0.05)) + (255,)
    leafy = rng.random() < 0.7
    depth = rng.randint(5, 7) if leafy else rng.randint(7, 9)
    spread = rng.uniform(0.3, 0.6)
    tips: list[tuple[float, float]] = []

    def grow(x: float, y: float, angle: float, length: float, width: float, level: int) -> None:
        x1, y1 = x + length * math.cos(angle), y - length * math.sin(angle)
        draw.line([(x, y), (x1, y1)], fill=bark, width=max(1, round(width)))
        if level == depth:
            tips.append((x1, y1))
            return
        for turn in (-1, 1):
            if level < 2 or rng.random() < 0.85:
                grow(x1, y1, angle + turn * spread * rng.uniform(0.5, 1.3), length * rng.uniform(0.62, 0.8),
                     width * 0.68, level + 1)

    grow(rng.uniform(0, side), side, math.pi / 2 + rng.uniform(-0.15, 0.15), side * rng.uniform(0.15, 0.35),
         side * rng.uniform(0.01, 0.035), 0)
    if leafy:
        shades = [_jitter(rng, rng.choice(LEAVES), 0.05) for _ in range(4)]
        for x, y in tips:
            for _ in range(rng.randint(60, 150)):
                r = rng.uniform(3, 14)
                cx, cy = x + rng.gauss(0, side * 0.03), y + rng.gauss(0, side * 0.03)
                colour = rng.choice(shades) * rng.uniform(0.7, 1.2)
                fill = tuple(int(min(v, 1) * 255) for v in colour) + (255,)
                draw.ellipse([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=fill)
    rgba = np.asarray(layer, np.float32) / 255
    alpha = rgba[..., 3:]
    return canvas * (1 - alpha) + rgba[..., :3] * alpha


def facade(rng: random.Random, gen: np.random.Generator) -> np.ndarray:
    """A ``TEX`` x ``TEX`` x 3 float texture of one building face (0..1, not yet clipped)."""
    kind = rng.choices(["windows", "brick", "curtain", "stripes"], [0.45, 0.2, 0.2, 0.15])[0]
    if kind == "brick" or (kind == "windows" and rng.random() < 0.35):
        tex = _brick(rng, gen, TEX, TEX)
    elif kind == "curtain":
        tex = _curtain(rng, gen, TEX, TEX)
    elif kind == "stripes":
        tex = _stripes(rng, gen, TEX, TEX)
    else:
        tex = _wall(rng, gen, TEX, TEX)
    if kind in ("windows", "brick") and rng.random() < 0.8:
        _windows(rng, gen, tex)
    if rng.random() < 0.3:  # a ground floor or a band of another material
        cut = rng.randrange(TEX // 4, TEX)
        tex[cut:] = _stripes(rng, gen, TEX - cut, TEX) if rng.random() < 0.5 else _brick(rng, gen, TEX - cut, TEX)
    if rng.random() < 0.25:
        _railing(rng, tex)
    if rng.random() < 0.3:
        _signs(rng, tex)
    return tex


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def view(rng: random.Random, side: int) -> np.ndarray | None:
    """A homography from canvas pixels to texels for a random camera, or None if the plane's
    horizon would cross the canvas (the camera would see behind itself)."""
    frontal, steep = rng.random() < 0.3, rng.random() < 0.15  # steep: a pavement, or a tower from its foot
    yaw = 0.0 if frontal else math.radians(rng.uniform(-60, 60))
    tilt = rng.uniform(40, 70) * rng.choice([-1, 1]) if steep else rng.uniform(-30, 30)
    pitch = math.radians(rng.uniform(-5, 5) if frontal else tilt)
    roll = math.radians(rng.uniform(-4, 4))
    f = side * rng.uniform(0.7, 1.8)
    mag = rng.uniform(0.5, 1.6)  # canvas pixels per texel where the optical axis meets the plane
    dist = f / mag
    r = _rotation(yaw, pitch, roll)
    k = np.array([[f, 0, side / 2 + rng.uniform(-0.2, 0.2) * side], [0, f, side / 2 + rng.uniform(-0.2, 0.2) * side],
                  [0, 0, 1]])
    # texel (u, v, 1) -> plane point (u - TEX/2, v - TEX/2, 0) -> camera r @ p + (0, 0, dist)
    to_plane = np.array([[1, 0, -TEX / 2], [0, 1, -TEX / 2]])
    h = k @ (r[:, :2] @ to_plane + np.array([[0, 0, 0], [0, 0, 0], [0, 0, dist]]))
    inv = np.linalg.inv(h)
    corners = np.array([[0, 0, 1], [side, 0, 1], [0, side, 1], [side, side, 1]], dtype=float).T
    depth = (inv @ corners)[2]
    if np.any(depth * np.sign(depth[0]) <= 1e-6 * np.abs(depth).max()):
        return None
    return inv / inv[2, 2]


def _project(tex: Image.Image, inv: np.ndarray, side: int) -> tuple[Image.Image, Image.Image]:
    """The texture as the camera sees it, and the mask of where the plane covers the canvas."""
    coeffs = tuple(inv.flatten()[:8])
    img = tex.transform((side, side), Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    mask = Image.new("L", tex.size, 255).transform((side, side), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    return img, mask


def _sky(rng: random.Random, side: int) -> np.ndarray:
    top, horizon = (np.array(c, np.float32) for c in rng.choice(SKIES))
    t = np.linspace(0, 1, side, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top + (horizon - top) * t, (side, side, 3)).copy()


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8))


def structure_image(rng: random.Random) -> Image.Image:
    """One ``SIZE`` x ``SIZE`` photograph-like view of one or two building faces."""
    gen = np.random.default_rng(rng.getrandbits(64))
    side = SIZE * SS
    canvas = _sky(rng, side)
    for plane in range(1 if rng.random() < 0.65 else 2):
        inv = None
        while inv is None:
            inv = view(rng, side)
        light = rng.uniform(0.6, 1.15)
        img, mask = _project(_to_image(facade(rng, gen) * light), inv, side)
        alpha = np.asarray(mask, np.float32)[..., None] / 255
        if plane:  # the second face meets the first at a vertical corner, left or right of it
            cut = rng.randrange(side // 5, 4 * side // 5)
            if rng.random() < 0.5:
                alpha[:, :cut] = 0
            else:
                alpha[:, cut:] = 0
        canvas = canvas * (1 - alpha) + np.asarray(img, np.float32) / 255 * alpha
    if rng.random() < 0.3:  # the shadow of something out of view: a straight, slightly soft edge
        y, x = np.mgrid[0:side, 0:side].astype(np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        dist = (x - rng.uniform(0, side)) * math.cos(angle) + (y - rng.uniform(0, side)) * math.sin(angle)
        soft = rng.uniform(1, 8)
        shade = 1 - rng.uniform(0.25, 0.5) / (1 + np.exp(-np.clip(dist / soft, -30, 30)))
        canvas = canvas * shade[..., None]
    if rng.random() < 0.2:
        canvas = _tree(rng, canvas)
    out = _to_image(canvas).resize((SIZE, SIZE), Image.BOX)
    if rng.random() < 0.5:  # a lens that is not perfectly sharp
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.6)))
    if rng.random() < 0.5:  # sensor noise
        noisy = np.asarray(out, np.float32) + gen.normal(0, rng.uniform(0.5, 2.0), (SIZE, SIZE, 3))
        out = Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    return out
