#!/usr/bin/env python3
"""transformers' pixel_values for the decode goldens (tests/data/images/decode): each file
opened with PIL and given to the SmolVLM image processor of tests/data/smolvlm_f32_s3 (a
processor transformers wrote). Run on the GPU machine (transformers + PIL):
    python3 tools/reference/make_decode_pixel_values.py
Writes tests/data/images/decode/pixel_values/<file>.npy (float32 [tiles, 3, H, W]) and
pixel_values.json (versions, and whether this PIL decodes each file to the same RGB bytes as
the Debian PIL that wrote the .rgb goldens). tests/loader/test_decode_golden.cpp checks
smolvk's decode + preprocessing against them."""
import json
import os

import numpy as np
import PIL
import transformers
from PIL import Image, features

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEC = os.path.join(ROOT, "tests", "data", "images", "decode")
MODEL = os.path.join(ROOT, "tests", "data", "smolvlm_f32_s3")


def main():
    # The image processor alone (AutoProcessor would also want num2words for SmolVLM's video
    # prompts), built from the processor_config.json transformers wrote.
    # The PIL backend (SmolVLMImageProcessorPil), as the model goldens use: transformers 5.17's
    # default torchvision backend approximates LANCZOS with BICUBIC below torchvision 0.27.
    cfg = json.load(open(os.path.join(MODEL, "processor_config.json")))["image_processor"]
    cfg.pop("image_processor_type")
    from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil
    proc = SmolVLMImageProcessorPil(**cfg)
    out_dir = os.path.join(DEC, "pixel_values")
    os.makedirs(out_dir, exist_ok=True)
    cases = json.load(open(os.path.join(DEC, "cases.json")))["cases"]
    report = {"transformers": transformers.__version__, "pillow": PIL.__version__,
              "libjpeg_turbo": features.version("libjpeg_turbo"), "libwebp": features.version("webp"),
              "image_processor": type(proc).__name__, "files": []}
    for c in cases:
        name = c["file"]
        im = Image.open(os.path.join(DEC, name))
        im.load()
        rgb = im.convert("RGB").tobytes()
        same_rgb = rgb == open(os.path.join(DEC, name + ".rgb"), "rb").read()
        pv = proc([[im]], return_tensors="np")["pixel_values"][0].astype(np.float32)
        np.save(os.path.join(out_dir, name + ".npy"), pv)
        report["files"].append({"file": name, "shape": list(pv.shape), "rgb_same_as_debian_pil": same_rgb})
        print(name, pv.shape, "rgb same as Debian PIL:", same_rgb)
    json.dump(report, open(os.path.join(out_dir, "pixel_values.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
