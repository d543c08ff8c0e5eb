"""A tiny random-weight vision model (text GGUF + mmproj), written in the test session.

It proves the real llama.cpp multimodal path (libmtmd, llama_cpp.server) end to end in
well under a second, without shipping or downloading a real vision model. The recipe is
DESIGN.md's "A tiny vision model for tests"; the facts that matter are repeated where
they are used. The output is noise, but deterministic noise that depends on the image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import pytest

# Text model
N_EMBD = 64
N_LAYERS = 2
N_HEADS = 4
N_FF = 128  # must differ from N_EMBD, or the loader may take ffn_up for ffn_down
CONTEXT = 512

# Vision encoder (CLIP-style) and its MLP projector
IMAGE_SIZE = 32
PATCH_SIZE = 8
V_EMBD = 32
V_FF = 48
V_LAYERS = 2
V_HEADS = 2
N_PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML that walks list content: libmtmd turns each image part into a text part holding
its media marker, so a template that ignored list content would drop the image."""

MODEL_NAME = "Hearth Tiny Vision (random weights)"


@dataclass(frozen=True)
class TinyVisionModel:
    model_path: Path
    mmproj_path: Path


def _weights(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random weights of scale ~4/sqrt(fan_in): ~0.02 gives one repeated token, this gives variety."""
    fan_in = shape[-1] if len(shape) > 1 else shape[0]
    return (rng.standard_normal(shape) * (4.0 / math.sqrt(fan_in))).astype(np.float32)


def _copy_tokenizer(writer: gguf.GGUFWriter, tokenizer_source: Path) -> int:
    """Copy every tokenizer.ggml.* key from a real GGUF (SmolLM2); returns the vocabulary size."""
    reader = gguf.GGUFReader(tokenizer_source)
    vocab = 0
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.ggml."):
            continue
        kind = gguf.GGUFValueType(field.types[0])
        sub = gguf.GGUFValueType(field.types[1]) if kind == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        writer.add_key_value(key, value, kind, sub_type=sub)
        if key == "tokenizer.ggml.tokens":
            vocab = len(value)
    if not vocab:
        raise RuntimeError(f"{tokenizer_source} has no tokenizer.ggml.tokens to copy")
    return vocab


def write_text_model(path: Path, tokenizer_source: Path, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(MODEL_NAME)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYERS)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEADS)
    writer.add_head_count_kv(N_HEADS)
    writer.add_rope_dimension_count(N_EMBD // N_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    vocab = _copy_tokenizer(writer, tokenizer_source)
    writer.add_vocab_size(vocab)
    writer.add_chat_template(CHATML_TEMPLATE)

    # numpy shapes are ggml's ne reversed: (rows=out, cols=in). No output.weight: tied head.
    writer.add_tensor("token_embd.weight", _weights(rng, vocab, N_EMBD).astype(np.float16))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    for layer in range(N_LAYERS):
        block = f"blk.{layer}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{block}.{name}.weight", _weights(rng, N_EMBD, N_EMBD))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", _weights(rng, N_FF, N_EMBD))
        writer.add_tensor(f"{block}.ffn_up.weight", _weights(rng, N_FF, N_EMBD))
        writer.add_tensor(f"{block}.ffn_down.weight", _weights(rng, N_EMBD, N_FF))
    _finish(writer)
    return path


def write_projector(path: Path, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(path, "clip")
    writer.add_name(f"{MODEL_NAME} projector")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.has_text_encoder", False)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", V_EMBD)
    writer.add_uint32("clip.vision.feed_forward_length", V_FF)
    writer.add_uint32("clip.vision.block_count", V_LAYERS)
    writer.add_uint32("clip.vision.attention.head_count", V_HEADS)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    writer.add_uint32("clip.vision.projection_dim", N_EMBD)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])

    writer.add_tensor("v.patch_embd.weight", _weights(rng, V_EMBD, 3, PATCH_SIZE, PATCH_SIZE))
    writer.add_tensor("v.patch_embd.bias", _weights(rng, V_EMBD) * 0.1)
    writer.add_tensor("v.position_embd.weight", _weights(rng, N_PATCHES, V_EMBD))  # no class token
    writer.add_tensor("v.pre_ln.weight", np.ones(V_EMBD, dtype=np.float32))
    writer.add_tensor("v.pre_ln.bias", np.zeros(V_EMBD, dtype=np.float32))
    for layer in range(V_LAYERS):
        block = f"v.blk.{layer}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(f"{block}.{name}.weight", _weights(rng, V_EMBD, V_EMBD))
            writer.add_tensor(f"{block}.{name}.bias", np.zeros(V_EMBD, dtype=np.float32))
        for name in ("ln1", "ln2"):
            writer.add_tensor(f"{block}.{name}.weight", np.ones(V_EMBD, dtype=np.float32))
            writer.add_tensor(f"{block}.{name}.bias", np.zeros(V_EMBD, dtype=np.float32))
        writer.add_tensor(f"{block}.ffn_up.weight", _weights(rng, V_FF, V_EMBD))
        writer.add_tensor(f"{block}.ffn_up.bias", np.zeros(V_FF, dtype=np.float32))
        writer.add_tensor(f"{block}.ffn_down.weight", _weights(rng, V_EMBD, V_FF))
        writer.add_tensor(f"{block}.ffn_down.bias", np.zeros(V_EMBD, dtype=np.float32))
    # The projector: vision width -> text width (mm.2's output must equal the text n_embd).
    writer.add_tensor("mm.0.weight", _weights(rng, N_EMBD, V_EMBD))
    writer.add_tensor("mm.0.bias", np.zeros(N_EMBD, dtype=np.float32))
    writer.add_tensor("mm.2.weight", _weights(rng, N_EMBD, N_EMBD))
    writer.add_tensor("mm.2.bias", np.zeros(N_EMBD, dtype=np.float32))
    _finish(writer)
    return path


def _finish(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_tiny_vision_model(folder: Path, tokenizer_source: Path) -> TinyVisionModel:
    """Write the pair into `folder` (a few MB, a fraction of a second)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = write_text_model(folder / "tiny-vision.gguf", tokenizer_source)
    projector = write_projector(folder / "mmproj-tiny-vision.gguf")
    return TinyVisionModel(model, projector)


@pytest.fixture(scope="session")
def tiny_vision_model(tmp_path_factory: pytest.TempPathFactory, starter_model: Path) -> TinyVisionModel:
    return write_tiny_vision_model(tmp_path_factory.mktemp("tiny-vision"), starter_model)
