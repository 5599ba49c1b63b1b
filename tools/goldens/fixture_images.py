"""Procedural, deterministic test images (numpy + PIL only)."""
import os

import numpy as np
from PIL import Image, ImageDraw


def _gradient(w, h, seed):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 24, size=(h, w, 3))
    r = 255.0 * x / max(w - 1, 1)
    g = 255.0 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / 7.0)
    img = np.stack([r, g, b], axis=-1) * 0.85 + noise
    return np.clip(img, 0, 255).astype(np.uint8)


def gradient_shapes(w, h, seed=0):
    im = Image.fromarray(_gradient(w, h, seed), "RGB")
    d = ImageDraw.Draw(im)
    d.ellipse([w * 0.1, h * 0.15, w * 0.45, h * 0.6], fill=(230, 40, 40))
    d.rectangle([w * 0.55, h * 0.2, w * 0.9, h * 0.5], fill=(30, 200, 60))
    d.polygon([(w * 0.2, h * 0.9), (w * 0.5, h * 0.65), (w * 0.8, h * 0.92)], fill=(20, 40, 220))
    d.line([(0, h - 1), (w - 1, 0)], fill=(255, 255, 0), width=max(1, w // 60))
    return im


def checkerboard(w, h, cell=25):
    y, x = np.mgrid[0:h, 0:w]
    on = ((x // cell) + (y // cell)) % 2 == 0
    img = np.zeros((h, w, 3), np.uint8)
    img[on] = (240, 230, 200)
    img[~on] = (40, 60, 90)
    img[..., 0] = np.clip(img[..., 0].astype(int) + (x * 15 // max(w, 1)), 0, 255)
    return Image.fromarray(img, "RGB")


def noise_rgb(w, h, seed):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8), "RGB")


def rgba(w, h, seed):
    rgb = _gradient(w, h, seed)
    y, x = np.mgrid[0:h, 0:w]
    alpha = ((x * 255) // max(w - 1, 1)).astype(np.uint8)
    alpha[: h // 4, :] = 255
    alpha[h // 4 : h // 2, : w // 3] = 0
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def grey(w, h, seed):
    g = _gradient(w, h, seed)[..., 1]
    return Image.fromarray(g, "L")


# name -> factory; every fixture image lives in tests/data/images/
TEST_IMAGES = {
    "wide_100x60.png": lambda: gradient_shapes(100, 60, seed=1),
    "rgba_48x40.png": lambda: rgba(48, 40, seed=2),
    "square_40x40.png": lambda: noise_rgb(40, 40, seed=3),
    "tall_30x70.png": lambda: gradient_shapes(30, 70, seed=4),
    "tiny_20x12.png": lambda: gradient_shapes(20, 12, seed=5),
    "grey_33x21.png": lambda: grey(33, 21, seed=6),
    "strip_120x40.png": lambda: gradient_shapes(120, 40, seed=7),
    "patch_26x18.png": lambda: noise_rgb(26, 18, seed=8),
}

EXAMPLE_IMAGES = {
    "gradient_shapes_320x240.png": lambda: gradient_shapes(320, 240, seed=10),
    "checkerboard_200x300.png": lambda: checkerboard(200, 300),
}

FULL_SIZE_IMAGES = {
    "photo_1000x700.png": lambda: gradient_shapes(1000, 700, seed=20),
    # 4:1, so that 1456 / 364 tiling gives 1 x 4 tiles + the global one (the 8B case)
    "wide_1000x250.png": lambda: gradient_shapes(1000, 250, seed=21),
}


def write_images(table, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, make in table.items():
        make().save(os.path.join(out_dir, name), format="PNG")
