"""Hearth asks llama.cpp what it can run on, and explains a failed GPU load in one sentence."""
from __future__ import annotations

import pytest

from engine.models.gpu import GpuDevice, GpuSupport, default_gpu_layers, explain_gpu_failure, gpu_backends


def test_the_installed_llama_cpp_reports_its_backends_without_loading_a_model() -> None:
    support = gpu_backends()

    assert support.error is None
    assert "CPU" in support.backends
    assert any(d.kind == "cpu" for d in support.devices)
    if not support.offload:  # a CPU-only build, as on the test machine
        assert default_gpu_layers(support) == 0


def test_all_layers_go_to_the_gpu_when_one_is_present() -> None:
    cuda = GpuDevice("CUDA0", "NVIDIA GeForce RTX 4090", "gpu", 24 << 30, 20 << 30)
    with_gpu = GpuSupport(offload=True, backends=("CUDA", "CPU"), devices=(cuda,))
    cpu_only = GpuSupport(offload=False, backends=("CPU",))

    assert default_gpu_layers(with_gpu) == -1 and with_gpu.gpu_memory_total == 24 << 30
    assert default_gpu_layers(cpu_only) == 0 and cpu_only.gpu_memory_total is None


def test_metal_on_apple_silicon_counts_as_a_gpu() -> None:
    metal = GpuSupport(offload=True, backends=("Metal", "BLAS", "CPU"))
    assert metal.gpu_backends == ("Metal",) and default_gpu_layers(metal) == -1


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4096.00 MiB on device 0: cudaMalloc failed: "
         "out of memory", "ran out of memory"),
        ("ggml_vulkan: Device memory allocation of size 123 failed. vk::Device::allocateMemory: "
         "ErrorOutOfDeviceMemory", "ran out of memory"),
        ("ggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected", "driver"),
        ("llama_model_load: error loading model: make sure to load a backend", "no usable compute backend"),
        ("something nobody has seen before", "could not be loaded on the graphics card"),
    ],
)
def test_gpu_failures_are_explained_in_one_user_sentence(log: str, expected: str) -> None:
    sentence = explain_gpu_failure(log)
    assert expected in sentence and "\n" not in sentence
