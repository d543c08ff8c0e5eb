"""Whatever bytes a file holds, the header reader answers ModelInfo or InvalidModelError, nothing else."""
from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.models.gguf_info import InvalidModelError, inspect_gguf
from engine.models.records import ModelInfo
from tests.support.gguf_factory import THINKING_TEMPLATE, model_bytes

_SEED_DIR = Path(tempfile.mkdtemp(prefix="hearth-fuzz-seed-"))
SEED = model_bytes(_SEED_DIR, chat_template=THINKING_TEMPLATE, extra={"general.languages": ["en", "fr"]})
# Fuzzing spends its effort in the header, where the parser is; the tensor data is the tail.
HEADER_END = SEED.index(b"output_norm.weight") + 64

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def answer(tmp: Path, data: bytes) -> ModelInfo | InvalidModelError:
    path = tmp / "fuzzed.gguf"
    path.write_bytes(data)
    try:
        return inspect_gguf(path, find_projector=False)
    except InvalidModelError as exc:
        assert str(exc), "a refusal must say why"
        return exc


def test_the_seed_itself_is_valid(tmp_path: Path) -> None:
    assert isinstance(answer(tmp_path, SEED), ModelInfo)


@FUZZ
@given(data=st.binary(max_size=512))
def test_random_bytes_never_crash_the_reader(tmp_path: Path, data: bytes) -> None:
    answer(tmp_path, data)


@FUZZ
@given(data=st.binary(max_size=256))
def test_random_bytes_after_a_valid_signature_never_crash_the_reader(tmp_path: Path, data: bytes) -> None:
    answer(tmp_path, b"GGUF" + struct.pack("<I", 3) + data)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, HEADER_END - 1), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_headers_never_crash_the_reader(tmp_path: Path, edits: list[tuple[int, int]]) -> None:
    data = bytearray(SEED)
    for position, value in edits:
        data[position] = value
    answer(tmp_path, bytes(data))


@FUZZ
@given(
    position=st.integers(0, HEADER_END - 8),
    value=st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1]),
)
def test_absurd_numbers_written_anywhere_in_the_header_never_crash_the_reader(
    tmp_path: Path, position: int, value: int
) -> None:
    data = bytearray(SEED)
    data[position : position + 8] = struct.pack("<Q", value)
    answer(tmp_path, bytes(data))


@FUZZ
@given(cut=st.integers(0, len(SEED) - 1))
def test_every_truncation_is_refused(tmp_path: Path, cut: int) -> None:
    assert isinstance(answer(tmp_path, SEED[:cut]), InvalidModelError)
