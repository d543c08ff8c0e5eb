"""Which llama-cpp-python chat handler serves a vision model, and whether a model sees at all.

`llama_cpp.server` (0.3.36) wires these `chat_format` names to a multimodal handler (read
from llama_cpp/server/model.py, `load_llama_from_model_settings`):

    llava-1-5, llava-1-6, obsidian, moondream, nanollava, llama-3-vision-alpha,
    minicpm-v-2.6, qwen2.5-vl   fixed prompt formats written for those families
    mtmd, gemma4                libmtmd with the model's own tokenizer.chat_template

There is no 'gemma3' or 'moondream2': Gemma 3 goes through 'mtmd' (its GGUF carries its
template), Moondream 2 through 'moondream'. 'mtmd' is the default for any family not named
here, as long as the model has a chat template (MTMD refuses to run without one); a
projector beside a template-less model gets LLaVA 1.5's fixed format instead.

Facts come from GGUF metadata: the text model's general.architecture, general.name and
tokenizer.chat_template, and the projector's clip.projector_type, clip.has_vision_encoder
and clip.minicpmv_version (older projectors say clip.has_llava_projector /
clip.has_minicpmv_projector instead of a projector type).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.models.gguf_info import PROJECTOR_ARCHITECTURE, InvalidModelError, read_header

SERVER_VISION_FORMATS = frozenset({
    "llava-1-5", "llava-1-6", "obsidian", "moondream", "nanollava", "llama-3-vision-alpha",
    "minicpm-v-2.6", "qwen2.5-vl", "mtmd", "gemma4",
})
"""Every chat_format that llama_cpp.server 0.3.36 pairs with --clip_model_path."""

GENERIC_FORMAT = "mtmd"
TEMPLATELESS_FORMAT = "llava-1-5"

_AUDIO_ONLY_PROJECTORS = frozenset({
    "ultravox", "qwen2a", "qwen3a", "voxtral", "glma", "meralion", "musicflamingo", "lfm2a",
    "gemma3na", "gemma4a", "gemma4ua", "granite_speech", "mimo_audio", "parakeet",
})

# (pattern searched in the model's and projector's names, chat_format); first match wins,
# so the more specific names come first.
_NAME_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"llama[-_ ]?3[-_ ]?vision[-_ ]?alpha"), "llama-3-vision-alpha"),
    (re.compile(r"nano[-_ ]?llava"), "nanollava"),
    (re.compile(r"moondream"), "moondream"),
    (re.compile(r"obsidian"), "obsidian"),
    (re.compile(r"llava.*(1[._-]?6|next)|llava[-_ ]?v?1[._-]6"), "llava-1-6"),
    (re.compile(r"llava|bakllava"), "llava-1-5"),
)


class _ModelLike(Protocol):
    """What is used of engine.models.gguf_info.ModelInfo."""

    path: Path
    name: str
    architecture: str
    chat_template: str | None
    mmproj_path: Path | None


@dataclass(frozen=True)
class ProjectorFacts:
    projector_type: str
    has_vision: bool
    minicpmv_version: int | None
    name: str


def projector_facts(mmproj_path: Path | str) -> ProjectorFacts:
    """Read what a projector is from its header; InvalidModelError when it is not one."""
    meta = read_header(Path(mmproj_path)).metadata
    if meta.get("general.architecture") != PROJECTOR_ARCHITECTURE:
        raise InvalidModelError(
            f"{Path(mmproj_path).name} is not a vision projector (its architecture is "
            f"'{meta.get('general.architecture')}', not 'clip')."
        )
    projector_type = meta.get("clip.projector_type") or meta.get("clip.vision.projector_type")
    if not isinstance(projector_type, str):
        if meta.get("clip.has_minicpmv_projector"):
            projector_type = "resampler"
        elif meta.get("clip.has_qwen2vl_merger"):
            projector_type = "qwen2vl_merger"
        else:
            projector_type = "mlp"  # clip.has_llava_projector, or older still
    has_vision = meta.get("clip.has_vision_encoder")
    if not isinstance(has_vision, bool):
        has_vision = projector_type not in _AUDIO_ONLY_PROJECTORS
    version = meta.get("clip.minicpmv_version")
    name = meta.get("general.name")
    return ProjectorFacts(
        projector_type=projector_type.lower(),
        has_vision=has_vision,
        minicpmv_version=version if isinstance(version, int) else None,
        name=name if isinstance(name, str) else "",
    )


def model_accepts_images(model: _ModelLike | Mapping[str, Any] | None, mmproj_path: Path | str | None = None) -> bool:
    """A model sees images iff it has a projector with a vision encoder.

    `mmproj_path` wins; otherwise a ModelInfo's own mmproj_path is used. An audio-only
    projector (Ultravox, Voxtral…) does not make a model see; an unreadable one neither.
    """
    projector = mmproj_path if mmproj_path is not None else getattr(model, "mmproj_path", None)
    if projector is None:
        return False
    try:
        return projector_facts(projector).has_vision
    except InvalidModelError:
        return False


def chat_format_for(model: _ModelLike | Mapping[str, Any], mmproj_path: Path | str | None = None) -> str:
    """The `--chat_format` for serving `model` with its projector through llama_cpp.server.

    `model` is a ModelInfo or the text model's GGUF metadata. Raises InvalidModelError when
    the projector cannot be read or is not a projector.
    """
    projector = mmproj_path if mmproj_path is not None else getattr(model, "mmproj_path", None)
    architecture, name, template, path = _text_model_facts(model)
    facts = projector_facts(projector) if projector is not None else None
    projector_type = facts.projector_type if facts else ""
    names = " ".join(
        part.lower()
        for part in (name, path.name if path else "", facts.name if facts else "",
                     Path(projector).name if projector is not None else "")
        if part
    )

    if projector_type == "qwen2.5vl_merger":
        return "qwen2.5-vl"
    if projector_type.startswith("gemma4") or architecture.startswith("gemma4"):
        return "gemma4"
    if projector_type == "resampler" and facts and facts.minicpmv_version == 3:
        return "minicpm-v-2.6"
    if projector_type in ("", "mlp", "mlp_norm", "ldp", "ldpv2"):  # the LLaVA-style families
        for pattern, chat_format in _NAME_RULES:
            if pattern.search(names):
                return chat_format
    return GENERIC_FORMAT if template else TEMPLATELESS_FORMAT


def _text_model_facts(model: _ModelLike | Mapping[str, Any]) -> tuple[str, str, str | None, Path | None]:
    if isinstance(model, Mapping):
        architecture = model.get("general.architecture")
        name = " ".join(
            str(model[key]) for key in ("general.name", "general.basename", "general.finetune")
            if isinstance(model.get(key), str)
        )
        template = model.get("tokenizer.chat_template")
        return (
            architecture.lower() if isinstance(architecture, str) else "",
            name,
            template if isinstance(template, str) and template else None,
            None,
        )
    return (
        (model.architecture or "").lower(),
        model.name or "",
        model.chat_template or None,
        Path(model.path) if getattr(model, "path", None) else None,
    )
