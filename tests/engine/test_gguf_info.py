"""A user picks a GGUF file: Hearth tells what it is from its header, without loading weights."""
from __future__ import annotations

from pathlib import Path

import gguf
import pytest

from engine.models.gguf_info import InvalidModelError, inspect_gguf, is_secondary_split
from tests.support.gguf_factory import THINKING_TEMPLATE, TOOLS_TEMPLATE, write_model, write_projector


def test_the_starter_model_is_a_small_llama_with_a_chat_template(starter_model: Path) -> None:
    info = inspect_gguf(starter_model)

    assert info.architecture == "llama"
    assert 130_000_000 < info.parameter_count < 140_000_000
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.chat_template and "<|im_start|>" in info.chat_template
    assert info.file_size == starter_model.stat().st_size
    assert not info.is_projector and not info.has_vision and info.mmproj_path is None


def test_a_small_model_reports_its_metadata(tmp_path: Path) -> None:
    path = write_model(tmp_path / "tiny.gguf", name="Tiny Chat", context_length=4096)

    info = inspect_gguf(path)

    assert info.name == "Tiny Chat"
    assert info.path == path
    assert info.context_length == 4096
    assert info.quantization == "F16"
    assert info.parameter_count == 32 * 16 + 16 * 16 + 16  # counted from tensor shapes


def test_a_model_without_a_name_is_called_by_its_file_name(tmp_path: Path) -> None:
    info = inspect_gguf(write_model(tmp_path / "my-model-Q4_K_M.gguf", name=None))
    assert info.name == "my-model-Q4_K_M"


def test_declared_parameter_count_wins_over_the_estimate(tmp_path: Path) -> None:
    info = inspect_gguf(write_model(tmp_path / "m.gguf", parameter_count=7_241_732_096))
    assert info.parameter_count == 7_241_732_096


def test_without_a_file_type_the_dominant_tensor_type_names_the_quantization(tmp_path: Path) -> None:
    info = inspect_gguf(write_model(tmp_path / "m.gguf", file_type=None))
    assert info.quantization == "F16"


def test_guessed_file_type_flag_is_ignored(tmp_path: Path) -> None:
    guessed = gguf.LlamaFileType.MOSTLY_Q8_0 | gguf.LlamaFileType.GUESSED
    info = inspect_gguf(write_model(tmp_path / "m.gguf", file_type=guessed))
    assert info.quantization == "Q8_0"


def test_templates_reveal_tools_and_reasoning(tmp_path: Path) -> None:
    plain = inspect_gguf(write_model(tmp_path / "plain.gguf"))
    tools = inspect_gguf(write_model(tmp_path / "tools.gguf", chat_template=TOOLS_TEMPLATE))
    thinking = inspect_gguf(write_model(tmp_path / "thinking.gguf", chat_template=THINKING_TEMPLATE))
    none = inspect_gguf(write_model(tmp_path / "none.gguf", chat_template=None))

    assert (plain.supports_tools, plain.supports_reasoning) == (False, False)
    assert tools.supports_tools and not tools.supports_reasoning
    assert thinking.supports_reasoning
    assert none.chat_template is None


def test_a_projector_beside_the_model_gives_it_vision(tmp_path: Path) -> None:
    model = write_model(tmp_path / "Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf")
    projector = write_projector(tmp_path / "mmproj-Qwen2.5-VL-3B-Instruct-f16.gguf")

    info = inspect_gguf(model)

    assert info.has_vision and info.mmproj_path == projector


def test_the_projector_sharing_the_models_name_is_preferred(tmp_path: Path) -> None:
    model = write_model(tmp_path / "gemma-3-4b-it-Q4_K_M.gguf")
    write_projector(tmp_path / "mmproj-aaa-other-model.gguf")
    mine = write_projector(tmp_path / "mmproj-gemma-3-4b-it-f16.gguf")

    assert inspect_gguf(model).mmproj_path == mine


def test_a_file_named_mmproj_that_is_no_projector_is_ignored(tmp_path: Path) -> None:
    model = write_model(tmp_path / "model.gguf")
    write_model(tmp_path / "MMPROJ-model.gguf")  # a llama, not a clip projector

    assert inspect_gguf(model).has_vision is False


def test_a_projector_itself_is_marked_as_one(tmp_path: Path) -> None:
    info = inspect_gguf(write_projector(tmp_path / "mmproj-x.gguf"))
    assert info.is_projector and info.architecture == "clip" and not info.has_vision


def test_an_explicit_projector_is_used_as_given(tmp_path: Path) -> None:
    projector = write_projector(tmp_path / "blobs" / "sha256-abc")
    info = inspect_gguf(write_model(tmp_path / "blobs" / "sha256-def"), projector=projector)
    assert info.mmproj_path == projector


def test_split_models_list_only_their_first_part(tmp_path: Path) -> None:
    assert not is_secondary_split(tmp_path / "big-00001-of-00003.gguf")
    assert is_secondary_split(tmp_path / "big-00002-of-00003.gguf")
    assert not is_secondary_split(tmp_path / "plain.gguf")


def test_a_split_model_counts_the_size_of_all_its_parts(tmp_path: Path) -> None:
    first = write_model(tmp_path / "big-00001-of-00002.gguf", extra={"split.count": 2, "split.no": 0})
    second = tmp_path / "big-00002-of-00002.gguf"
    second.write_bytes(b"x" * 1000)

    assert inspect_gguf(first).file_size == first.stat().st_size + 1000


def test_a_missing_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="does not exist"):
        inspect_gguf(tmp_path / "gone.gguf")


def test_a_folder_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="folder"):
        inspect_gguf(tmp_path)
