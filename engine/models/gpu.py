"""Which compute backends llama.cpp was built with here, asked of llama.cpp itself.

No model is loaded: `llama_supports_gpu_offload()` plus ggml's device registry (CPU, CUDA,
Metal, Vulkan…, with each device's memory) answer in milliseconds. llama-cpp-python 0.3.36
binds neither the registry nor the device calls, so they are declared here with ctypes on
the libggml it already loaded.
"""
from __future__ import annotations

import ctypes
import functools
import re
from dataclasses import dataclass

# enum ggml_backend_dev_type (ggml-backend.h)
_DEVICE_TYPES = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel", 4: "meta"}


@dataclass(frozen=True)
class GpuDevice:
    name: str  # ggml's device name: "CUDA0", "Metal", "Vulkan0", "CPU"
    description: str  # e.g. "NVIDIA GeForce RTX 4090"
    kind: str  # "cpu", "gpu", "igpu", "accel"
    memory_total: int | None
    memory_free: int | None


@dataclass(frozen=True)
class GpuSupport:
    offload: bool  # llama_supports_gpu_offload()
    backends: tuple[str, ...]  # registered backends, e.g. ("CUDA", "CPU")
    devices: tuple[GpuDevice, ...] = ()
    error: str | None = None  # why detection could not run (llama_cpp missing…)

    @property
    def gpu_backends(self) -> tuple[str, ...]:
        return tuple(b for b in self.backends if b not in ("CPU", "BLAS", "RPC"))

    @property
    def has_gpu(self) -> bool:
        return self.offload and bool(self.gpu_backends or self.gpu_devices)

    @property
    def gpu_devices(self) -> tuple[GpuDevice, ...]:
        return tuple(d for d in self.devices if d.kind in ("gpu", "igpu"))

    @property
    def gpu_memory_total(self) -> int | None:
        sizes = [d.memory_total for d in self.gpu_devices if d.memory_total]
        return sum(sizes) if sizes else None

    @property
    def gpu_memory_free(self) -> int | None:
        sizes = [d.memory_free for d in self.gpu_devices if d.memory_free]
        return sum(sizes) if sizes else None


@functools.lru_cache(maxsize=1)
def gpu_backends() -> GpuSupport:
    """Ask the installed llama.cpp what it can run on. Cached: the answer cannot change while running."""
    try:
        import llama_cpp
    except Exception as exc:  # ImportError, or OSError from a library that will not load
        return GpuSupport(offload=False, backends=(), error=f"llama.cpp is not available: {exc}")
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    try:
        backends, devices = _registry()
    except (OSError, AttributeError, ImportError) as exc:
        return GpuSupport(offload=offload, backends=(), error=f"llama.cpp's device list is unavailable: {exc}")
    return GpuSupport(offload=offload, backends=backends, devices=devices)


def _registry() -> tuple[tuple[str, ...], tuple[GpuDevice, ...]]:
    import llama_cpp._ctypes_extensions as ctypes_ext
    import llama_cpp._ggml as ggml_module

    ggml = ggml_module.libggml
    base = ctypes_ext.load_shared_library("ggml-base", ggml_module.libggml_base_path)
    p, size = ctypes.c_void_p, ctypes.c_size_t
    _declare(ggml, "ggml_backend_reg_count", size, [])
    _declare(ggml, "ggml_backend_reg_get", p, [size])
    _declare(ggml, "ggml_backend_dev_count", size, [])
    _declare(ggml, "ggml_backend_dev_get", p, [size])
    _declare(base, "ggml_backend_reg_name", ctypes.c_char_p, [p])
    _declare(base, "ggml_backend_dev_name", ctypes.c_char_p, [p])
    _declare(base, "ggml_backend_dev_description", ctypes.c_char_p, [p])
    _declare(base, "ggml_backend_dev_type", ctypes.c_int, [p])
    _declare(base, "ggml_backend_dev_memory", None, [p, ctypes.POINTER(size), ctypes.POINTER(size)])

    backends = []
    for i in range(ggml.ggml_backend_reg_count()):
        reg = ggml.ggml_backend_reg_get(i)
        if reg:
            backends.append(_text(base.ggml_backend_reg_name(reg)))
    devices = []
    for i in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(i)
        if not dev:
            continue
        free, total = size(0), size(0)
        base.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        devices.append(
            GpuDevice(
                name=_text(base.ggml_backend_dev_name(dev)),
                description=_text(base.ggml_backend_dev_description(dev)),
                kind=_DEVICE_TYPES.get(base.ggml_backend_dev_type(dev), "unknown"),
                memory_total=total.value or None,
                memory_free=free.value or None,
            )
        )
    return tuple(backends), tuple(devices)


def _declare(lib: ctypes.CDLL, name: str, restype: object, argtypes: list[object]) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", errors="replace") if raw else ""


def default_gpu_layers(support: GpuSupport) -> int:
    """-1 offloads every layer when a GPU backend exists; 0 keeps the model on the CPU."""
    return -1 if support.has_gpu else 0


_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"out of memory|cudaMalloc failed|failed to allocate .*buffer|ErrorOutOfDeviceMemory|"
                   r"insufficient memory|kIOGPUCommandBufferCallbackErrorOutOfMemory", re.I),
        "The graphics card ran out of memory for this model. Hearth will run it on the CPU instead; "
        "a smaller model, a smaller context size or fewer GPU layers would let it use the GPU.",
    ),
    (
        re.compile(r"no (usable )?(CUDA|GPU)[- ]capable device|no CUDA devices|CUDA driver version is insufficient|"
                   r"ggml_cuda_init: failed|failed to initialize (CUDA|Vulkan|Metal)|vk::.*Error|"
                   r"failed to create Metal device", re.I),
        "The graphics card could not be used (its driver did not respond as expected). "
        "Hearth will run the model on the CPU instead; updating the graphics driver may help.",
    ),
    (
        re.compile(r"no backends? (are )?(loaded|available|found)|make sure to load a backend|"
                   r"ggml_backend_.*: (no|failed)", re.I),
        "This build of the engine has no usable compute backend. Reinstalling Hearth should fix it.",
    ),
)


def explain_gpu_failure(log_text: str) -> str:
    """Turn llama.cpp's log from a failed load into one sentence for the user."""
    for pattern, sentence in _FAILURES:
        if pattern.search(log_text):
            return sentence
    return "The model could not be loaded on the graphics card. Hearth will run it on the CPU instead."
