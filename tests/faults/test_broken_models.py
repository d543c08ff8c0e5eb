"""Broken or hostile model files are refused with a reason the user can act on, never a crash."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from engine.models.gguf_info import InvalidModelError, inspect_gguf
from engine.models.library import ModelLibrary
from tests.support.gguf_factory import (
    lying_array_kv,
    lying_string_kv,
    string_kv,
    write_model,
    write_random_bytes,
    write_raw_header,
    write_truncated,
)


def refusal(path: Path) -> str:
    with pytest.raises(InvalidModelError) as caught:
        inspect_gguf(path)
    return str(caught.value)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    assert "empty" in refusal(path)


def test_random_bytes_named_gguf_are_not_a_model(tmp_path: Path) -> None:
    assert "not a GGUF" in refusal(write_random_bytes(tmp_path / "noise.gguf"))


def test_a_text_file_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "readme.gguf"
    path.write_text("This is where the model would be, if the download had worked.\n")
    assert "not a GGUF" in refusal(path)


def test_a_tiny_file_that_starts_like_gguf_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "stub.gguf"
    path.write_bytes(b"GGUF\x03\x00")
    assert "truncated" in refusal(path)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.6, 0.95])
def test_an_interrupted_download_is_refused_as_truncated(tmp_path: Path, fraction: float) -> None:
    assert "truncated" in refusal(write_truncated(tmp_path / "half.gguf", fraction))


def test_an_unknown_architecture_is_refused_by_name(tmp_path: Path) -> None:
    message = refusal(write_model(tmp_path / "odd.gguf", arch="frobnicator"))
    assert "frobnicator" in message and "not supported" in message


def test_a_file_without_an_architecture_is_refused(tmp_path: Path) -> None:
    path = write_raw_header(tmp_path / "m.gguf", tensor_count=0, kv_count=1, body=string_kv("general.name", "x"))
    assert "architecture" in refusal(path)


def test_an_absurd_context_length_is_refused(tmp_path: Path) -> None:
    message = refusal(write_model(tmp_path / "m.gguf", context_length=4_000_000_000))
    assert "absurd context length" in message


def test_an_old_gguf_version_is_refused(tmp_path: Path) -> None:
    path = write_raw_header(tmp_path / "v1.gguf", tensor_count=0, kv_count=0, version=1, body=b"\0" * 64)
    assert "version 1" in refusal(path)


def test_a_big_endian_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "be.gguf"
    path.write_bytes(b"GGUF" + struct.pack(">IQQ", 3, 0, 0) + b"\0" * 64)
    assert "big-endian" in refusal(path)


@pytest.mark.parametrize(
    ("tensor_count", "kv_count", "expected"),
    [(0, 2**40, "metadata entries"), (2**62, 0, "tensors"), (2**64 - 1, 2**64 - 1, "more than it can hold")],
)
def test_counts_beyond_what_the_file_can_hold_are_refused(
    tmp_path: Path, tensor_count: int, kv_count: int, expected: str
) -> None:
    path = write_raw_header(tmp_path / "m.gguf", tensor_count=tensor_count, kv_count=kv_count, body=b"\0" * 256)
    assert expected in refusal(path)


def test_a_string_longer_than_the_file_is_refused(tmp_path: Path) -> None:
    path = write_raw_header(
        tmp_path / "m.gguf", tensor_count=0, kv_count=1, body=lying_string_kv("general.name", 2**63)
    )
    assert "runs past the end" in refusal(path)


def test_an_array_longer_than_the_file_is_refused(tmp_path: Path) -> None:
    body = lying_array_kv("tokenizer.ggml.token_type", 2**61) + b"\0" * 64
    path = write_raw_header(tmp_path / "m.gguf", tensor_count=0, kv_count=1, body=body)
    assert "more than the file can contain" in refusal(path)


def test_a_tensor_claiming_more_data_than_the_file_is_refused(tmp_path: Path) -> None:
    body = string_kv("general.architecture", "llama")
    name = b"token_embd.weight"
    body += struct.pack("<Q", len(name)) + name + struct.pack("<IQQIQ", 2, 2**31, 2**31, 0, 0)
    path = write_raw_header(tmp_path / "m.gguf", tensor_count=1, kv_count=1, body=body + b"\0" * 64)
    assert "more data than the whole file" in refusal(path)


def test_a_repeated_metadata_key_is_refused(tmp_path: Path) -> None:
    body = string_kv("general.architecture", "llama") + string_kv("general.architecture", "llama")
    path = write_raw_header(tmp_path / "m.gguf", tensor_count=0, kv_count=2, body=body)
    assert "repeats" in refusal(path)


def test_the_library_lists_broken_files_as_unusable_with_their_reason(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_random_bytes(models / "noise.gguf")
    write_truncated(models / "half.gguf")
    write_model(models / "good.gguf")

    entries = {e.display_name: e for e in ModelLibrary(models, home=tmp_path / "home").scan() if e.source == "hearth"}

    assert entries["good"].usable
    assert not entries["noise"].usable and "not a GGUF" in (entries["noise"].error or "")
    assert not entries["half"].usable and "truncated" in (entries["half"].error or "")


def test_adding_a_broken_file_raises_a_clear_error(tmp_path: Path) -> None:
    library = ModelLibrary(tmp_path / "models", home=tmp_path / "home")
    with pytest.raises(InvalidModelError, match="not a GGUF"):
        library.add_user_file(write_random_bytes(tmp_path / "download.gguf"))
    assert library.extra_files == []


def run_cli(argv: list[str]) -> int:
    import argparse

    from app.cli.models import add_parser

    parser = argparse.ArgumentParser(prog="hearth")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_inspecting_a_broken_file_from_the_command_line_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(["models", "inspect", str(write_random_bytes(tmp_path / "noise.gguf"))])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "not a GGUF" in err and "Traceback" not in err


def test_inspecting_a_missing_file_from_the_command_line_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["models", "inspect", str(tmp_path / "nope.gguf")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_called_gguf_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    path = tmp_path / "pipe.gguf"
    os.mkfifo(path)
    assert "not a regular file" in refusal(path)


def test_a_damaged_projector_blob_makes_the_model_unusable_rather_than_reaching_the_engine(tmp_path: Path) -> None:
    model = write_model(tmp_path / "blobs" / "sha256-model")
    projector = write_random_bytes(tmp_path / "blobs" / "sha256-projector")

    with pytest.raises(InvalidModelError, match="vision projector cannot be used"):
        inspect_gguf(model, projector=projector)
