"""Import helpers for transformers on the GPU machine.

SmolVLMProcessor refuses to start without the `num2words` package (only its video prompts use
it), and the machine has no internet, so a stand-in package is put on sys.path before
transformers is imported. Class look-ups tolerate classes moving between 5.x modules.
"""
import importlib
import os
import sys
import tempfile


def install_num2words_stub():
    try:
        import num2words  # noqa: F401
        return
    except ImportError:
        pass
    root = tempfile.mkdtemp(prefix="num2words_stub_")
    os.makedirs(os.path.join(root, "num2words"))
    with open(os.path.join(root, "num2words", "__init__.py"), "w") as f:
        f.write("def num2words(n, **kw):\n    return str(n)\n")
    meta = os.path.join(root, "num2words-0.5.14.dist-info")
    os.makedirs(meta)
    with open(os.path.join(meta, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: num2words\nVersion: 0.5.14\n")
    sys.path.insert(0, root)
    importlib.invalidate_caches()


def import_real_num2words(pydeps):
    """The real num2words (the video prompt spells the frame count with it): the installed one,
    else Debian's python3-num2words extracted under `pydeps` (tools/reference/make_video_golden.py
    says how: `pydeps`/root/usr/lib/python3/dist-packages, or `pydeps` itself). ImportError when
    neither has it. Returns the module."""
    try:
        import num2words
        return num2words
    except ImportError:
        pass
    for d in (os.path.join(pydeps, "root", "usr", "lib", "python3", "dist-packages"), pydeps):
        if os.path.isdir(os.path.join(d, "num2words")):
            sys.path.insert(0, d)
            break
    import num2words
    return num2words


def find_class(name, modules=()):
    """transformers.<name>, else the first of `modules` that defines it."""
    import transformers

    errors = []
    try:
        return getattr(transformers, name)
    except Exception as e:  # lazy-import failures surface here
        errors.append(f"transformers.{name}: {e!r}")
    for mod in modules:
        try:
            return getattr(importlib.import_module(mod), name)
        except Exception as e:
            errors.append(f"{mod}.{name}: {e!r}")
    raise ImportError(f"cannot find {name}: " + "; ".join(errors))


def image_processor_class(arch):
    if arch == "smolvlm":
        return find_class(
            "SmolVLMImageProcessorPil",
            ["transformers.models.smolvlm.image_processing_pil_smolvlm"],
        )
    return find_class(
        "Idefics3ImageProcessorPil",
        ["transformers.models.idefics3.image_processing_pil_idefics3"],
    )


def processor_class(arch):
    if arch == "smolvlm":
        return find_class("SmolVLMProcessor", ["transformers.models.smolvlm.processing_smolvlm"])
    return find_class("Idefics3Processor", ["transformers.models.idefics3.processing_idefics3"])


def video_processor():
    cls = find_class(
        "SmolVLMVideoProcessor",
        [
            "transformers.models.smolvlm.video_processing_smolvlm",
            "transformers.models.smolvlm.video_processing_smolvlm_fast",
        ],
    )
    return cls()


def model_class(arch):
    if arch == "smolvlm":
        return find_class(
            "SmolVLMForConditionalGeneration", ["transformers.models.smolvlm.modeling_smolvlm"]
        )
    return find_class(
        "Idefics3ForConditionalGeneration", ["transformers.models.idefics3.modeling_idefics3"]
    )


def config_class(arch):
    if arch == "smolvlm":
        return find_class("SmolVLMConfig", ["transformers.models.smolvlm.configuration_smolvlm"])
    return find_class("Idefics3Config", ["transformers.models.idefics3.configuration_idefics3"])


def fast_tokenizer_class():
    try:
        return find_class("PreTrainedTokenizerFast", ["transformers.tokenization_utils_fast"])
    except ImportError:
        return find_class("TokenizersBackend", ["transformers.tokenization_utils_tokenizers"])
