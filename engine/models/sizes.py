"""Byte counts as people read them."""
from __future__ import annotations


def human_size(n: float) -> str:
    """1.1 GB, 98.4 MB: decimal units, as disks and Hugging Face count."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
