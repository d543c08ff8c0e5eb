"""How much memory this computer has for a model: RAM always, GPU memory when it can be known.

Best effort on every OS; an unknown figure is None, never a guess dressed as a fact.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hardware:
    ram_total: int | None
    ram_available: int | None
    vram_total: int | None = None
    vram_free: int | None = None
    gpu_name: str | None = None
    gpu_backend: str | None = None  # the llama.cpp GPU backend that will be used ("CUDA", "Metal"), if any


def detect_hardware(*, ask_llama_cpp: bool = True) -> Hardware:
    """RAM from the OS; GPU backend and memory from llama.cpp, else nvidia-smi."""
    ram_total, ram_available = system_memory()
    vram_total = vram_free = None
    gpu_name = backend = None
    if ask_llama_cpp:
        from engine.models.gpu import gpu_backends

        support = gpu_backends()
        if support.has_gpu:
            backend = (support.gpu_backends or ("GPU",))[0]
            vram_total, vram_free = support.gpu_memory_total, support.gpu_memory_free
            if support.gpu_devices:
                gpu_name = support.gpu_devices[0].description or support.gpu_devices[0].name
    if vram_total is None:
        nvidia = nvidia_memory()
        if nvidia is not None:
            gpu_name, vram_total, vram_free = gpu_name or nvidia[0], nvidia[1], nvidia[2]
    return Hardware(ram_total, ram_available, vram_total, vram_free, gpu_name, backend)


def system_memory() -> tuple[int | None, int | None]:
    """(total, available) bytes of RAM, bounded by a container's memory limit on Linux."""
    if sys.platform.startswith("linux"):
        total, available = _proc_meminfo(Path("/proc/meminfo"))
        limit, used = _cgroup_memory()
        if limit is not None:
            total = min(total, limit) if total else limit
            if used is not None:
                room = max(0, limit - used)
                available = min(available, room) if available is not None else room
        return total, available
    if sys.platform == "win32":
        return _windows_memory()
    return _sysconf_memory()


def _proc_meminfo(path: Path) -> tuple[int | None, int | None]:
    try:
        text = path.read_text()
    except OSError:
        return _sysconf_memory()
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    return values.get("MemTotal"), values.get("MemAvailable", values.get("MemFree"))


def _cgroup_memory() -> tuple[int | None, int | None]:
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            raw = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if not raw.isdigit() or int(raw) >= 1 << 60:  # "max" or the v1 "no limit" sentinel
            return None, None
        try:
            used: int | None = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            used = None
        return int(raw), used
    return None, None


def _sysconf_memory() -> tuple[int | None, int | None]:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return None, None
    try:
        available: int | None = os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        available = None  # macOS has no such figure; callers fall back to the total
    return total, available


class _MemoryStatusEx(ctypes.Structure):
    _fields_ = [
        ("dwLength", ctypes.c_ulong),
        ("dwMemoryLoad", ctypes.c_ulong),
        ("ullTotalPhys", ctypes.c_ulonglong),
        ("ullAvailPhys", ctypes.c_ulonglong),
        ("ullTotalPageFile", ctypes.c_ulonglong),
        ("ullAvailPageFile", ctypes.c_ulonglong),
        ("ullTotalVirtual", ctypes.c_ulonglong),
        ("ullAvailVirtual", ctypes.c_ulonglong),
        ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
    ]


def _windows_memory() -> tuple[int | None, int | None]:
    try:
        status = _MemoryStatusEx()
        status.dwLength = ctypes.sizeof(_MemoryStatusEx)
        if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return None, None
        return int(status.ullTotalPhys), int(status.ullAvailPhys)
    except (AttributeError, OSError):
        return None, None


def nvidia_memory(timeout: float = 3.0) -> tuple[str, int, int] | None:
    """(name of the first GPU, total bytes, free bytes over all GPUs) from nvidia-smi, when it is there."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia_smi(out)


def parse_nvidia_smi(out: str) -> tuple[str, int, int] | None:
    name, total, free = None, 0, 0
    for line in out.strip().splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
            continue
        name = name or fields[0]
        total += int(fields[1]) << 20  # MiB
        free += int(fields[2]) << 20
    return (name, total, free) if name else None
