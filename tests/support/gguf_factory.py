"""Small GGUF files for tests, valid and deliberately broken, written with the `gguf` package.

The valid ones hold a few tiny tensors: enough for Hearth's header reader, not for an engine.
"""
from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
TOOLS_TEMPLATE = CHATML_TEMPLATE + "{% if tools %}{{ tools | tojson }}{% endif %}"
THINKING_TEMPLATE = CHATML_TEMPLATE + "{% if enable_thinking %}<think>{% endif %}"


def write_model(
    path: Path,
    *,
    arch: str = "llama",
    name: str | None = "Tiny Test Model",
    context_length: int | None = 2048,
    embedding_length: int = 16,
    chat_template: str | None = CHATML_TEMPLATE,
    file_type: gguf.LlamaFileType | None = gguf.LlamaFileType.MOSTLY_F16,
    parameter_count: int | None = None,
    extra: dict[str, object] | None = None,
) -> Path:
    """A small valid GGUF chat model (F16 weights, F32 norms)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    if name is not None:
        writer.add_name(name)
    if context_length is not None:
        writer.add_context_length(context_length)
    writer.add_embedding_length(embedding_length)
    writer.add_block_count(1)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    if file_type is not None:
        writer.add_file_type(int(file_type))
    if parameter_count is not None:
        writer.add_uint64("general.parameter_count", parameter_count)
    for key, value in (extra or {}).items():
        _add_value(writer, key, value)
    writer.add_tensor("token_embd.weight", np.ones((32, embedding_length), dtype=np.float16))
    writer.add_tensor("blk.0.attn_q.weight", np.ones((embedding_length, embedding_length), dtype=np.float16))
    writer.add_tensor("output_norm.weight", np.ones((embedding_length,), dtype=np.float32))
    _finish(writer)
    return path


def write_projector(path: Path, *, projection_dim: int = 16) -> Path:
    """A small vision projector (mmproj): architecture clip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name("Tiny Projector")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_uint32("clip.vision.projection_dim", projection_dim)
    writer.add_tensor("mm.0.weight", np.ones((projection_dim, 8), dtype=np.float32))
    _finish(writer)
    return path


def _add_value(writer: gguf.GGUFWriter, key: str, value: object) -> None:
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint64(key, value) if value >= 1 << 32 else writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    else:
        writer.add_array(key, list(value))  # type: ignore[call-overload]


def _finish(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def model_bytes(tmp_dir: Path, **kwargs: object) -> bytes:
    """The bytes of a small valid model (a seed for fuzzing)."""
    return write_model(tmp_dir / "seed.gguf", **kwargs).read_bytes()  # type: ignore[arg-type]


def write_truncated(path: Path, keep_fraction: float = 0.5) -> Path:
    """A valid model cut short, as an interrupted download leaves it."""
    data = write_model(path).read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep_fraction))])
    return path


def write_random_bytes(path: Path, size: int = 4096, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def _gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def write_raw_header(path: Path, *, tensor_count: int, kv_count: int, body: bytes = b"", version: int = 3) -> Path:
    """A hand-built header, for lies the `gguf` writer refuses to tell."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", version, tensor_count, kv_count) + body)
    return path


def string_kv(key: str, value: str) -> bytes:
    return _gguf_string(key) + struct.pack("<I", gguf.GGUFValueType.STRING) + _gguf_string(value)


def lying_string_kv(key: str, claimed_length: int) -> bytes:
    """A string entry that claims far more bytes than follow it."""
    return _gguf_string(key) + struct.pack("<IQ", gguf.GGUFValueType.STRING, claimed_length) + b"short"


def lying_array_kv(key: str, claimed_items: int) -> bytes:
    """An array entry that claims far more items than the file holds."""
    return _gguf_string(key) + struct.pack("<IIQ", gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.UINT32, claimed_items)
