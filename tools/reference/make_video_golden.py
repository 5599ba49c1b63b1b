#!/usr/bin/env python3
"""transformers' SmolVLM2 video processing of the test video's sampled frames, for
tests/loader/test_video_golden.cpp (VideoGolden.MatchesTransformers).

    python3 tools/reference/make_video_golden.py --out tests/data/video/golden

Run from the repository root on a machine with transformers 5.17, torch 2.11, torchvision
0.26, PIL and num2words (SmolVLMProcessor refuses to start without it). No network. Where
num2words is not installed, Debian's python3-num2words extracted under .pydeps/ is used:
    mkdir -p .pydeps && cd .pydeps && apt-get download python3-num2words python3-docopt \
      && for f in *.deb; do dpkg -x "$f" root; done
(the script adds .pydeps/root/usr/lib/python3/dist-packages to sys.path; --pydeps names
another folder). It stops if num2words cannot be imported.

What it does:
1. Builds SmolVLMProcessor.from_pretrained on a temporary folder holding
   tests/data/video/processor/ (the published SmolVLM2 preprocessor_config.json layout with a
   `video_sampling` object, scaled to the smolvlm_f32_s3 fixture: 36-pixel frames, 9 tokens
   per frame) and the smolvlm_f32_s3 tokenizer files, so the video processor is read the way a
   downloaded SmolVLM2 folder is read (no video_preprocessor_config.json, no "video_processor"
   in processor_config.json: preprocessor_config.json). Prints its settings.
2. Samples frames with the video processor's own sample_frames on the decoded video's
   metadata (tests/data/video/frames/frames.json: what smolvk's torchcodec-like scan measures)
   and checks that the committed frames are those.
3. Renders the chat template for one user message [video, text] (apply_chat_template switches
   to DEFAULT_CHAT_TEMPLATE for a video) and calls the processor on that text with the frames
   as PIL images, the metadata (fps, duration, frames_indices) and do_sample_frames=False.
4. Writes input_ids.npy (int64 [1, seq]), pixel_values.npy (float32 [1, frames, 3, 36, 36]),
   pixel_attention_mask.npy (uint8 [1, frames, 36, 36]) and video_golden.json (versions, settings,
   indices, timestamps, the chat text and the expanded prompt), and prints what it wrote.
"""
import argparse
import glob
import json
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")
VIDEO = os.path.join(DATA, "video")
PROMPT = "What happens in this video?"


def num2words_version(module):
    try:
        from importlib.metadata import version
        return version("num2words")
    except Exception:
        return getattr(module, "__version__", "?")


def committed_frames():
    """tests/data/video/frames/frames.json: the committed frames and the metadata smolvk measures."""
    with open(os.path.join(VIDEO, "frames", "frames.json")) as f:
        return json.load(f)


def video_inputs(processor, frames_info, prompt):
    """transformers' SmolVLM processor on the committed frames of the test video
    (tests/data/video/frames, `frames_info` its frames.json): its video processor's own
    sample_frames on the metadata smolvk measures must pick those frames (else SystemExit); then
    the chat text of one user message [video, `prompt`] and the processor's output on the frames
    (do_sample_frames=False). Returns (sampled, messages, text, metadata, processor output).
    Also used by video_full_check.py."""
    from PIL import Image
    from transformers.video_utils import VideoMetadata

    vp = processor.video_processor
    meta = VideoMetadata(total_num_frames=frames_info["total_num_frames"], fps=frames_info["fps"],
                         duration=frames_info["duration"], width=frames_info["width"], height=frames_info["height"])
    sampled = [int(i) for i in vp.sample_frames(meta, num_frames=vp.num_frames, fps=vp.fps)]
    if sampled != frames_info["frames_indices"]:
        sys.exit(f"transformers samples {sampled}, the committed frames are {frames_info['frames_indices']}")
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    frames = [Image.open(os.path.join(VIDEO, "frames", f)).convert("RGB") for f in frames_info["frames"]]
    metadata = {k: frames_info[k] for k in ("total_num_frames", "fps", "duration", "frames_indices", "width", "height")}
    out = processor(text=[text], videos=[[frames]], video_metadata=[[metadata]], do_sample_frames=False,
                    return_tensors="pt")
    return sampled, messages, text, metadata, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for the golden files")
    ap.add_argument("--pydeps", default=os.path.join(ROOT, ".pydeps"),
                    help="a folder of extracted Debian packages (num2words) to use when not installed")
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(ROOT, "tools", "goldens"))
    import hf_env
    num2words = hf_env.import_real_num2words(args.pydeps)  # stops here without it: the processor needs it

    import numpy as np
    import PIL
    import torch
    import torchvision
    import transformers
    from transformers.models.smolvlm.processing_smolvlm import SmolVLMProcessor
    from transformers.video_utils import VideoMetadata

    versions = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "num2words": num2words_version(num2words),
        "num2words_path": os.path.dirname(num2words.__file__),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    for k, v in versions.items():
        print(f"{k}: {v}")

    frames_info = committed_frames()
    with tempfile.TemporaryDirectory() as tmp:
        for f in glob.glob(os.path.join(VIDEO, "processor", "*.json")):
            shutil.copy(f, tmp)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(DATA, "smolvlm_f32_s3", f), tmp)
        processor = SmolVLMProcessor.from_pretrained(tmp)
    vp = processor.video_processor

    def as_dict(size):  # a dict, or transformers' SizeDict
        if size is None or isinstance(size, dict):
            return size
        keys = ("height", "width", "longest_edge", "shortest_edge", "max_height", "max_width")
        return {k: getattr(size, k) for k in keys if getattr(size, k, None) is not None}

    settings = {
        "video_processor": type(vp).__name__,
        "fps": vp.fps,
        "num_frames": vp.num_frames,
        "size": as_dict(vp.size),
        "max_image_size": as_dict(vp.max_image_size),
        "resample": int(vp.resample) if vp.resample is not None else None,
        "do_sample_frames": vp.do_sample_frames,
        "do_resize": vp.do_resize,
        "do_rescale": vp.do_rescale,
        "rescale_factor": vp.rescale_factor,
        "do_normalize": vp.do_normalize,
        "image_mean": list(vp.image_mean),
        "image_std": list(vp.image_std),
        "image_seq_len": processor.image_seq_len,
        "image_processor": type(processor.image_processor).__name__,
    }
    print("video processor:", json.dumps(settings))

    # 2. transformers' own sampling on the metadata smolvk measured; 3. the chat text, then the
    # processor on the frames.
    sampled, messages, text, metadata, out = video_inputs(processor, frames_info, PROMPT)
    print("sample_frames:", sampled)
    input_ids = out["input_ids"].numpy().astype(np.int64)
    pixel_values = out["pixel_values"].numpy().astype(np.float32)
    mask = out["pixel_attention_mask"].numpy().astype(np.uint8)
    # (SmolVLMProcessor drops video_metadata from its output: unused_input_names)
    md = VideoMetadata(**metadata)
    timestamps = [float(t) for t in md.timestamps]
    expanded = processor.tokenizer.decode(input_ids[0].tolist(), skip_special_tokens=False)
    print("chat text:", repr(text))
    print("frames_indices:", list(md.frames_indices), "timestamps:", timestamps, "duration:", md.duration)
    print("input_ids:", input_ids.shape, "pixel_values:", pixel_values.shape, "pixel_attention_mask:", mask.shape)

    os.makedirs(args.out, exist_ok=True)
    written = []
    for name, arr in (("input_ids", input_ids), ("pixel_values", pixel_values), ("pixel_attention_mask", mask)):
        path = os.path.join(args.out, name + ".npy")
        np.save(path, np.ascontiguousarray(arr))
        written.append(path)
    golden = {
        "versions": versions,
        "settings": settings,
        "video": frames_info["video"],
        "metadata": metadata,
        "sampled_by_transformers": sampled,
        "timestamps": timestamps,
        "prompt": PROMPT,
        "messages": messages,
        "chat_text": text,
        "expanded_text": expanded,
        "input_ids_shape": list(input_ids.shape),
        "pixel_values_shape": list(pixel_values.shape),
    }
    path = os.path.join(args.out, "video_golden.json")
    with open(path, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    written.append(path)
    for p in written:
        print("wrote", p, os.path.getsize(p), "bytes")


if __name__ == "__main__":
    main()
