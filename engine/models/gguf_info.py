"""What a GGUF file is, read from its header alone, before any engine sees it.

llama.cpp trusts the header: a hostile or damaged file can crash it natively. So Hearth reads
the header itself, every count and length bounded by the file size and by sane limits, and
rejects anything odd with a sentence a user can act on. Tensor *data* is never read: only the metadata and the
tensor table are parsed (a few kilobytes to a few megabytes even for a 70B model).

Why not `gguf.GGUFReader`: it materialises every tokenizer string as a numpy view (1.5 s for
the 135M starter model, far more for a 150k-token vocabulary) and trusts the counts it reads.
The `gguf` package still provides the vocabulary: value types, quantization block sizes,
file-type names and the list of architectures llama.cpp knows.
"""
from __future__ import annotations

import os
import re
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import gguf

from engine.models.records import ModelInfo

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_KV_COUNT = 1 << 20
MAX_TENSOR_COUNT = 1 << 20
MAX_KEY_LENGTH = 1 << 16
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_CONTEXT_LENGTH = 1 << 27  # 134M tokens; the largest real models claim ~10M
MAX_ARRAY_ITEMS = 1 << 23  # real vocabularies and merge lists stay under a million
MAX_STRING_LENGTH = 1 << 24  # chat templates are tens of kilobytes
KEPT_ARRAY_ITEMS = 256  # longer arrays (vocabularies, merges) are skipped, not stored
DEFAULT_ALIGNMENT = 32

KNOWN_ARCHITECTURES = frozenset(gguf.MODEL_ARCH_NAMES.values())
PROJECTOR_ARCHITECTURE = "clip"

_TOOLS_HINTS = ("tools", "tool_calls")
_REASONING_HINTS = ("<think>", "reasoning", "enable_thinking")
_SPLIT_RE = re.compile(r"-(\d{5})-of-(\d{5})$")

_SCALAR_FORMATS: dict[gguf.GGUFValueType, str] = {
    gguf.GGUFValueType.UINT8: "<B",
    gguf.GGUFValueType.INT8: "<b",
    gguf.GGUFValueType.UINT16: "<H",
    gguf.GGUFValueType.INT16: "<h",
    gguf.GGUFValueType.UINT32: "<I",
    gguf.GGUFValueType.INT32: "<i",
    gguf.GGUFValueType.FLOAT32: "<f",
    gguf.GGUFValueType.BOOL: "<?",
    gguf.GGUFValueType.UINT64: "<Q",
    gguf.GGUFValueType.INT64: "<q",
    gguf.GGUFValueType.FLOAT64: "<d",
}


class InvalidModelError(Exception):
    """A file Hearth will not hand to the engine; the message is fit for the UI."""


@dataclass(frozen=True)
class TensorEntry:
    name: str
    shape: tuple[int, ...]
    ggml_type: gguf.GGMLQuantizationType
    offset: int
    n_bytes: int

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass(frozen=True)
class GgufHeader:
    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorEntry, ...]
    data_offset: int
    file_size: int


class _Cursor:
    """Reads little-endian values through a window on the file, refusing to step past its end.

    Plain reads, not mmap: a file that shrinks while mapped kills the process with SIGBUS.
    """

    WINDOW = 1 << 20

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size
        self.pos = 0
        self._base = 0
        self._buf = b""

    def remaining(self) -> int:
        return self.size - self.pos

    def need(self, n: int, what: str) -> None:
        if n < 0 or n > self.remaining():
            raise InvalidModelError(f"The file is truncated or damaged: {what} runs past the end of the file.")

    def _view(self, n: int, what: str) -> int:
        """Make bytes [pos, pos+n) readable; return their index in the window."""
        self.need(n, what)
        start = self.pos - self._base
        if 0 <= start and start + n <= len(self._buf):
            return start
        self.f.seek(self.pos)
        self._buf = self.f.read(min(max(n, self.WINDOW), self.remaining()))
        self._base = self.pos
        if len(self._buf) < n:
            raise InvalidModelError("The file changed while Hearth was reading it; try again once it is complete.")
        return 0

    def scalar(self, fmt: str, what: str) -> Any:
        n = struct.calcsize(fmt)
        start = self._view(n, what)
        (value,) = struct.unpack_from(fmt, self._buf, start)
        self.pos += n
        return value

    def string_length(self, what: str) -> int:
        length = self.scalar("<Q", what)
        self.need(length, what)
        return length

    def string(self, what: str) -> str:
        length = self.string_length(what)
        if length > MAX_STRING_LENGTH:
            raise InvalidModelError(f"The file holds absurdly long text in {what} ({length:,} bytes).")
        start = self._view(length, what)
        raw = self._buf[start : start + length]
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self, what: str) -> None:
        length = self.string_length(what)
        self.pos += length


def _value_type(raw: int, key: str) -> gguf.GGUFValueType:
    try:
        return gguf.GGUFValueType(raw)
    except ValueError:
        raise InvalidModelError(f"The file's metadata entry '{key}' has an unknown value type ({raw}).") from None


def _read_value(cur: _Cursor, vtype: gguf.GGUFValueType, key: str) -> Any:
    if vtype == gguf.GGUFValueType.STRING:
        return cur.string(f"the text of '{key}'")
    if vtype == gguf.GGUFValueType.ARRAY:
        item_type = _value_type(cur.scalar("<I", f"the item type of '{key}'"), key)
        count = cur.scalar("<Q", f"the length of '{key}'")
        if item_type == gguf.GGUFValueType.ARRAY:
            raise InvalidModelError(f"The file's metadata entry '{key}' nests arrays, which GGUF readers do not accept.")
        min_item = 8 if item_type == gguf.GGUFValueType.STRING else struct.calcsize(_SCALAR_FORMATS[item_type])
        if count * min_item > cur.remaining():
            raise InvalidModelError(
                f"The file is truncated or damaged: '{key}' claims {count:,} items, more than the file can contain."
            )
        if count > MAX_ARRAY_ITEMS:
            raise InvalidModelError(f"The file's metadata entry '{key}' claims an absurd {count:,} items.")
        if count > KEPT_ARRAY_ITEMS:
            if item_type == gguf.GGUFValueType.STRING:
                what = f"an item of '{key}'"
                for _ in range(count):
                    cur.skip_string(what)
            else:
                cur.pos += count * min_item
            return _SkippedArray(count)
        return [_read_value(cur, item_type, key) for _ in range(count)]
    return cur.scalar(_SCALAR_FORMATS[vtype], f"the value of '{key}'")


@dataclass(frozen=True)
class _SkippedArray:
    """A long array (a vocabulary, merges) whose length was checked but whose items were not kept."""

    count: int


def _tensor_bytes(shape: tuple[int, ...], ggml_type: gguf.GGMLQuantizationType, name: str) -> int:
    block_size, type_size = gguf.GGML_QUANT_SIZES[ggml_type]
    if shape and shape[0] % block_size:
        raise InvalidModelError(f"Tensor '{name}' has a row size that does not fit its quantization.")
    n_elements = 1
    for dim in shape:
        n_elements *= dim
    return n_elements // block_size * type_size


def read_header(path: Path) -> GgufHeader:
    """Parse and bound-check the metadata and tensor table of a GGUF file."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise InvalidModelError("That is a folder, not a model file.")
        if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
            raise InvalidModelError("That is not a regular file, so it cannot be a model file.")
        with open(path, "rb") as f:
            size = _file_size(f)
            if size == 0:
                raise InvalidModelError("The file is empty.")
            if size < 24:
                _check_magic(f.read(4))
                raise InvalidModelError("The file is truncated: it ends inside the GGUF header.")
            return _parse(f, size)
    except InvalidModelError:
        raise
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidModelError("The file does not exist (it may have been moved or deleted).") from None
    except PermissionError:
        raise InvalidModelError("Hearth is not allowed to read the file.") from None
    except (OSError, ValueError) as exc:
        raise InvalidModelError(f"The file could not be read: {exc}") from None


def _file_size(f: Any) -> int:
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    return size


def _check_magic(magic: bytes) -> None:
    if magic != MAGIC:
        raise InvalidModelError("This is not a GGUF model file (it does not start with the GGUF signature).")


def _parse(f: BinaryIO, size: int) -> GgufHeader:
    cur = _Cursor(f, size)
    _check_magic(f.read(4))
    cur.pos = 4
    version = cur.scalar("<I", "the version")
    if version not in SUPPORTED_VERSIONS:
        if struct.unpack(">I", struct.pack("<I", version))[0] in SUPPORTED_VERSIONS:
            raise InvalidModelError("This GGUF file is big-endian; Hearth's engine reads only little-endian files.")
        if version == 1:
            raise InvalidModelError("This is an old GGUF version 1 file; download a newer conversion of the model.")
        raise InvalidModelError(f"This GGUF file has version {version}, which Hearth does not understand.")
    tensor_count = cur.scalar("<Q", "the tensor count")
    kv_count = cur.scalar("<Q", "the metadata count")
    # The smallest metadata entry takes 13 bytes and the smallest tensor entry 32.
    if kv_count > MAX_KV_COUNT or kv_count * 13 > cur.remaining():
        raise InvalidModelError(f"The file is truncated or damaged: it claims {kv_count:,} metadata entries, more than it can hold.")
    if tensor_count > MAX_TENSOR_COUNT or tensor_count * 32 > cur.remaining():
        raise InvalidModelError(f"The file is truncated or damaged: it claims {tensor_count:,} tensors, more than it can hold.")

    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key_length = cur.string_length("a metadata key")
        if key_length > MAX_KEY_LENGTH:
            raise InvalidModelError("The file holds an absurdly long metadata key.")
        cur.pos -= 8
        key = cur.string("a metadata key")
        vtype = _value_type(cur.scalar("<I", f"the type of '{key}'"), key)
        if key in metadata:
            raise InvalidModelError(f"The file repeats the metadata entry '{key}'.")
        metadata[key] = _read_value(cur, vtype, key)

    tensors: list[TensorEntry] = []
    names: set[str] = set()
    for _ in range(tensor_count):
        if cur.scalar("<Q", "a tensor name") > MAX_KEY_LENGTH:
            raise InvalidModelError("The file holds an absurdly long tensor name.")
        cur.pos -= 8
        name = cur.string("a tensor name")
        if name in names:
            raise InvalidModelError(f"The file repeats the tensor '{name}'.")
        names.add(name)
        n_dims = cur.scalar("<I", f"the shape of '{name}'")
        if n_dims > MAX_DIMS:
            raise InvalidModelError(f"Tensor '{name}' claims {n_dims} dimensions; llama.cpp allows at most {MAX_DIMS}.")
        shape = tuple(cur.scalar("<Q", f"the shape of '{name}'") for _ in range(n_dims))
        raw_type = cur.scalar("<I", f"the type of '{name}'")
        try:
            ggml_type = gguf.GGMLQuantizationType(raw_type)
            gguf.GGML_QUANT_SIZES[ggml_type]
        except (ValueError, KeyError):
            raise InvalidModelError(f"Tensor '{name}' uses an unknown data type ({raw_type}).") from None
        offset = cur.scalar("<Q", f"the position of '{name}'")
        tensors.append(TensorEntry(name, shape, ggml_type, offset, _tensor_bytes(shape, ggml_type, name)))

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0 or alignment & (alignment - 1):
        raise InvalidModelError("The file declares an invalid data alignment.")
    data_offset = -(-cur.pos // alignment) * alignment
    data_size = size - data_offset
    for tensor in tensors:
        if tensor.offset % alignment:
            raise InvalidModelError(f"Tensor '{tensor.name}' is misaligned in the file.")
        if tensor.n_bytes > size:
            raise InvalidModelError(f"The file is truncated or damaged: tensor '{tensor.name}' claims more data than the whole file holds.")
        if tensor.offset + tensor.n_bytes > data_size:
            raise InvalidModelError(
                "The file is truncated: its tensor data is missing or incomplete (an interrupted download?)."
            )
    return GgufHeader(version, metadata, tuple(tensors), data_offset, size)


def inspect_gguf(path: Path | str, *, projector: Path | None = None, find_projector: bool = True) -> ModelInfo:
    """Describe a GGUF file without loading its weights, or raise InvalidModelError saying why not.

    `projector` names a known vision projector (Ollama keeps it as a separate blob); otherwise a
    matching `mmproj` file is looked for in the same folder unless `find_projector` is False.
    """
    path = Path(path)
    header = read_header(path)
    meta = header.metadata
    architecture = meta.get("general.architecture")
    if not isinstance(architecture, str) or not architecture:
        raise InvalidModelError("The file does not say which model architecture it holds.")
    if architecture not in KNOWN_ARCHITECTURES:
        raise InvalidModelError(
            f"The model architecture '{architecture}' is not supported by Hearth's engine (llama.cpp)."
        )
    is_projector = architecture == PROJECTOR_ARCHITECTURE
    context_length = _checked_int(meta, f"{architecture}.context_length", MAX_CONTEXT_LENGTH, "context length")
    embedding_length = _checked_int(meta, f"{architecture}.embedding_length", 1 << 20, "embedding size")
    projection_dim = _checked_int(meta, "clip.vision.projection_dim", 1 << 20, "projection size")
    templates = _chat_templates(meta)
    chat_template = templates.get("") if templates else None
    all_templates = "\n".join(templates.values())

    mmproj_path: Path | None = None
    if not is_projector:
        if projector is not None:
            _check_projector(projector)
            mmproj_path = projector
        elif find_projector:
            mmproj_path = find_matching_projector(path, embedding_length)

    name = meta.get("general.name")
    return ModelInfo(
        path=path,
        name=name.strip() if isinstance(name, str) and name.strip() else _stem(path),
        architecture=architecture,
        parameter_count=_parameter_count(meta, header.tensors),
        quantization=_quantization(meta, header.tensors),
        file_size=_total_size(path, header.file_size, meta),
        context_length=context_length,
        chat_template=chat_template,
        has_vision=mmproj_path is not None,
        mmproj_path=mmproj_path,
        supports_tools=any(h in all_templates for h in _TOOLS_HINTS),
        supports_reasoning=any(h in all_templates for h in _REASONING_HINTS),
        is_projector=is_projector,
        embedding_length=embedding_length,
        projection_dim=projection_dim,
    )


def _check_projector(projector: Path) -> None:
    try:
        header = read_header(projector)
    except InvalidModelError as exc:
        raise InvalidModelError(f"The model's vision projector cannot be used. {exc}") from None
    if header.metadata.get("general.architecture") != PROJECTOR_ARCHITECTURE:
        raise InvalidModelError("The model's vision projector is not a projector (its architecture is not clip).")


def _stem(path: Path) -> str:
    return path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name


def _checked_int(meta: dict[str, Any], key: str, limit: int, what: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidModelError(f"The file's {what} ('{key}') is not a whole number.")
    if value <= 0 or value > limit:
        raise InvalidModelError(f"The file claims an absurd {what} of {value:,}.")
    return value


def _chat_templates(meta: dict[str, Any]) -> dict[str, str]:
    """The default template under key '' and named ones (tool_use, rag…) under their names."""
    found: dict[str, str] = {}
    for key, value in meta.items():
        if not isinstance(value, str):
            continue
        if key == "tokenizer.chat_template":
            found[""] = value
        elif key.startswith("tokenizer.chat_template."):
            found[key.removeprefix("tokenizer.chat_template.")] = value
    return found


def _parameter_count(meta: dict[str, Any], tensors: tuple[TensorEntry, ...]) -> int:
    declared = meta.get("general.parameter_count")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared > 0:
        return declared
    return sum(t.n_elements for t in tensors)


def _quantization(meta: dict[str, Any], tensors: tuple[TensorEntry, ...]) -> str:
    file_type = meta.get("general.file_type")
    if isinstance(file_type, int) and not isinstance(file_type, bool):
        try:
            name = gguf.LlamaFileType(file_type & ~gguf.LlamaFileType.GUESSED).name
        except ValueError:
            name = None
        if name:
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    weights: dict[str, int] = {}
    for tensor in tensors:
        if len(tensor.shape) >= 2:
            weights[tensor.ggml_type.name] = weights.get(tensor.ggml_type.name, 0) + tensor.n_bytes
    if not weights:
        return "unknown"
    return max(weights, key=lambda k: weights[k])


def _total_size(path: Path, own_size: int, meta: dict[str, Any]) -> int:
    """A split model (`-00001-of-00003.gguf`) counts all of its parts that are present."""
    match = _SPLIT_RE.search(_stem(path))
    count = meta.get("split.count")
    if not match or not isinstance(count, int) or count <= 1 or count > 1000:
        return own_size
    total = own_size
    prefix = _stem(path)[: match.start()]
    for number in range(2, count + 1):
        part = path.with_name(f"{prefix}-{number:05d}-of-{count:05d}.gguf")
        try:
            total += part.stat().st_size
        except OSError:
            pass
    return total


def is_secondary_split(path: Path) -> bool:
    """True for parts 2…n of a split GGUF: llama.cpp loads those through part 1."""
    match = _SPLIT_RE.search(_stem(path))
    return bool(match) and int(match.group(1)) > 1


def _projector_score(model: Path, candidate: Path) -> int:
    """Length of the common prefix of the two names once 'mmproj' and separators are dropped."""

    def norm(p: Path) -> str:
        return re.sub(r"[-_. ]+", "", re.sub("mmproj", "", _stem(p).lower()))

    a, b = norm(model), norm(candidate)
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def find_matching_projector(model: Path, embedding_length: int | None = None) -> Path | None:
    """A vision projector beside the model: an `mmproj` GGUF of architecture clip.

    One whose projection size equals the model's embedding size is preferred (older LLaVA
    projectors store CLIP's own projection size there, so a mismatch does not exclude), then
    the one sharing the longest name prefix with the model.
    """
    try:
        candidates = sorted(
            p
            for p in model.parent.iterdir()
            if "mmproj" in p.name.lower() and p.name.lower().endswith(".gguf") and p != model
        )
    except OSError:
        return None
    best: tuple[tuple[bool, int], Path] | None = None
    for candidate in candidates:
        try:
            header = read_header(candidate)
        except InvalidModelError:
            continue
        if header.metadata.get("general.architecture") != PROJECTOR_ARCHITECTURE:
            continue
        projection = header.metadata.get("clip.vision.projection_dim")
        score = (bool(embedding_length) and projection == embedding_length, _projector_score(model, candidate))
        if best is None or score > best[0]:
            best = (score, candidate)
    return best[1] if best else None
