#!/usr/bin/python3
"""Decode goldens for #17 "images as users have them": files in the formats and JPEG / WebP
variants users send, and the RGB bytes PIL gives for each after the conversion transformers'
SmolVLM processor applies (PIL convert("RGB"): alpha dropped, palette applied; 16-bit samples
become their high byte). smolvk's decoders (libjpeg-turbo, libwebp, stb) must give the same
bytes (tests/loader/test_decode_golden.cpp).

Run with Debian 12's python3-pil (Pillow 9.4, on Debian's libjpeg-turbo 2.1.5 and libwebp
1.2.4, the libraries smolvk links):
    /usr/bin/python3 tools/reference/make_decode_golden.py
Writes tests/data/images/decode/: the files, <file>.rgb (width*height*3 bytes) and cases.json.
"""
import io
import json
import math
import os
import struct
import zlib

import PIL
from PIL import Image, features

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "images", "decode")


def scene(w, h, alpha=False):
    """Smooth gradients, hard colour edges and fine texture: chroma subsampling and the IDCT
    both show on it. Deterministic."""
    img = Image.new("RGBA" if alpha else "RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            r = int(255 * x / max(1, w - 1))
            g = int(128 + 127 * math.sin(x * 0.35 + y * 0.21))
            b = int(255 * y / max(1, h - 1))
            if (x // 7 + y // 5) % 3 == 0:  # saturated blocks with sharp edges
                r, g, b = 230, 20, 40
            if (x * 31 + y * 17) % 23 == 0:  # sparse single-pixel noise
                r, g, b = 255 - r, 255 - g, 255 - b
            if alpha:
                a = 0 if x < w // 6 else (255 if y > h // 2 else int(255 * x / (w - 1)))
                px[x, y] = (r, g, b, a)
            else:
                px[x, y] = (r, g, b)
    return img


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16_rgb(w, h):
    """A 16-bit RGB PNG (PIL cannot write one): low bytes that differ from the high bytes."""
    raw = b""
    for y in range(h):
        raw += b"\0"
        for x in range(w):
            for c in range(3):
                v = (x * 1031 + y * 517 + c * 9001) % 65536
                raw += struct.pack(">H", v)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}
    w, h = 67, 45  # odd sides: partial MCUs and chroma blocks at the right and bottom edges
    rgb, rgba = scene(w, h), scene(w, h, alpha=True)

    def save(name, img, **kw):
        buf = io.BytesIO()
        img.save(buf, **kw)
        files[name] = buf.getvalue()

    save("baseline_420.jpg", rgb, format="JPEG", quality=85, subsampling=2)
    save("baseline_444.jpg", rgb, format="JPEG", quality=92, subsampling=0)
    save("baseline_422.jpg", rgb, format="JPEG", quality=80, subsampling=1)
    save("progressive_420.jpg", rgb, format="JPEG", quality=85, subsampling=2, progressive=True)
    save("optimized_q50.jpg", rgb, format="JPEG", quality=50, optimize=True)
    save("grey.jpg", rgb.convert("L"), format="JPEG", quality=90)
    save("lossy.webp", rgb, format="WEBP", quality=80)
    save("lossy_alpha.webp", rgba, format="WEBP", quality=75)
    save("lossless.webp", rgb, format="WEBP", lossless=True)
    save("lossless_alpha.webp", rgba, format="WEBP", lossless=True)
    save("palette.png", rgb.quantize(colors=37), format="PNG")
    pal_t = rgb.quantize(colors=16)
    save("palette_transparent.png", pal_t, format="PNG", transparency=3)
    save("grey_alpha.png", rgba.convert("LA"), format="PNG")
    files["rgb16.png"] = png16_rgb(23, 11)

    cases = []
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        im = Image.open(io.BytesIO(data))
        mode = im.mode
        out = im.convert("RGB")  # what transformers' convert_rgb does (alpha dropped)
        with open(os.path.join(OUT, name + ".rgb"), "wb") as f:
            f.write(out.tobytes())
        cases.append({"file": name, "mode": mode, "width": out.width, "height": out.height})
    meta = {"pillow": PIL.__version__, "libjpeg_api": features.version("jpg"), "libwebp": features.version("webp"),
            "cases": cases}
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{len(cases)} cases in {OUT} (Pillow {PIL.__version__}, libjpeg API {meta['libjpeg_api']}, "
          f"libwebp {meta['libwebp']})")


if __name__ == "__main__":
    main()
