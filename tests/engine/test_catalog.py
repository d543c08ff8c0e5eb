"""The catalog suggests models, and tells honestly whether each will run on this computer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.models.catalog import CatalogError, fit, load_catalog, memory_needed
from engine.models.hardware import Hardware, detect_hardware, parse_nvidia_smi, system_memory

GIB = 1 << 30


def entry(entry_id: str):  # type: ignore[no-untyped-def]
    return next(e for e in load_catalog() if e.id == entry_id)


def test_the_catalog_offers_chat_vision_and_speech_models() -> None:
    catalog = load_catalog()
    ids = {e.id for e in catalog}

    assert len(ids) == len(catalog), "ids are unique"
    assert {"qwen2.5-0.5b-instruct", "llama-3.2-1b-instruct", "gemma-3-4b-it", "whisper-tiny.en"} <= ids
    assert {"whisper-large-v3-turbo", "smolvlm-256m-instruct", "qwen2.5-vl-3b-instruct"} <= ids
    for item in catalog:
        assert item.size_bytes > 0 and item.parameter_count > 0 and item.repo_id.count("/") == 1
        if item.kind == "chat":
            assert item.file and item.file.endswith(".gguf") and item.context_length
        if item.has_vision:
            assert "vision" in item.capabilities and item.mmproj_file and "mmproj" in item.mmproj_file
        if item.kind == "speech":
            assert item.file is None and "speech" in item.capabilities


def test_a_small_model_fits_a_laptop_and_a_big_one_does_not_fit_a_tiny_machine() -> None:
    laptop = Hardware(ram_total=16 * GIB, ram_available=12 * GIB)
    tiny = Hardware(ram_total=4 * GIB, ram_available=2 * GIB)

    assert fit(entry("qwen2.5-0.5b-instruct"), laptop) == "fits"
    assert fit(entry("qwen2.5-7b-instruct"), laptop) == "fits"
    assert fit(entry("qwen2.5-7b-instruct"), tiny) == "won't fit"
    assert fit(entry("whisper-tiny.en"), tiny) == "fits"


def test_close_to_the_limit_is_tight() -> None:
    model = entry("llama-3.2-3b-instruct")
    needed = memory_needed(model)
    assert fit(model, Hardware(ram_total=None, ram_available=int(needed / 0.9))) == "tight"


def test_with_a_gpu_the_graphics_memory_decides() -> None:
    model = entry("qwen2.5-7b-instruct")
    big_gpu = Hardware(ram_total=8 * GIB, ram_available=4 * GIB, vram_total=24 * GIB, vram_free=23 * GIB,
                       gpu_backend="CUDA")
    small_gpu = Hardware(ram_total=32 * GIB, ram_available=28 * GIB, vram_total=4 * GIB, vram_free=4 * GIB,
                         gpu_backend="CUDA")
    no_backend = Hardware(ram_total=8 * GIB, ram_available=4 * GIB, vram_total=24 * GIB, vram_free=23 * GIB)

    assert fit(model, big_gpu) == "fits"
    assert fit(model, small_gpu) == "tight"  # split between GPU and CPU
    assert fit(model, no_backend) == "won't fit"  # a CPU-only engine cannot use that GPU


def test_the_kv_cache_grows_with_the_context_but_not_past_the_models_limit() -> None:
    model = entry("smollm2-1.7b-instruct")  # 8192-token model
    assert memory_needed(model, 8192) > memory_needed(model, 2048)
    assert memory_needed(model, 100_000) == memory_needed(model, 8192)


def test_a_broken_catalog_file_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": [{"id": "x"}]}))
    with pytest.raises(CatalogError, match="could not be read"):
        load_catalog(path)


def test_this_computers_memory_is_known() -> None:
    total, available = system_memory()
    hardware = detect_hardware()

    assert total and total > 256 << 20
    assert available is None or 0 < available <= total
    assert hardware.ram_total == total


def test_nvidia_smi_output_is_summed_over_gpus() -> None:
    out = "NVIDIA GeForce RTX 3090, 24576, 20000\nNVIDIA GeForce RTX 3090, 24576, 24000\n"
    assert parse_nvidia_smi(out) == ("NVIDIA GeForce RTX 3090", 49152 << 20, 44000 << 20)
    assert parse_nvidia_smi("") is None
