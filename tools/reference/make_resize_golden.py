#!/usr/bin/env python3
"""Pillow's resize of large patterned images, as FNV-1a 64 hashes of the RGB bytes, for
tests/loader/test_image_resize.cpp (Resize.LargeImagesMatchPillow): sizes large enough that
smolvk's resize splits its passes across threads. Run with Debian's python3-pil:
    /usr/bin/python3 tools/reference/make_resize_golden.py
The input pattern is the test's: channel c of pixel (x, y) = (x*7 + y*13 + (x*y) % 31 + 85*c) % 256."""
from PIL import Image

CASES = [  # (in_w, in_h, out_w, out_h, PIL filter id)
    (320, 240, 1024, 768, Image.LANCZOS),
    (1024, 768, 383, 257, Image.BICUBIC),
    (300, 1000, 300, 517, Image.LANCZOS),
    (1000, 300, 517, 300, Image.BILINEAR),
]


def pattern(w, h):
    data = bytearray(w * h * 3)
    i = 0
    for y in range(h):
        for x in range(w):
            base = x * 7 + y * 13 + (x * y) % 31
            for c in range(3):
                data[i] = (base + 85 * c) % 256
                i += 1
    return Image.frombytes("RGB", (w, h), bytes(data))


def fnv1a64(b):
    h = 0xcbf29ce484222325
    for v in b:
        h = ((h ^ v) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


import PIL
print("# Pillow", PIL.__version__)
for (iw, ih, ow, oh, f) in CASES:
    out = pattern(iw, ih).resize((ow, oh), f).tobytes()
    print("{%d, %d, %d, %d, %d, 0x%016xull}," % (iw, ih, ow, oh, f, fnv1a64(out)))
