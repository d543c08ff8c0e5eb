"""Keep each prepared image once, named by its content hash, written atomically.

The same picture attached to ten messages is one file. A write that fails (disk full,
folder not writable) leaves nothing behind: the bytes go to a hidden temporary file in
the destination folder and are renamed into place only when complete and flushed.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from engine.vision.intake import ImageIntakeError, PreparedImage

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def attachment_path(sha256: str, extension: str, attachments_dir: Path) -> Path:
    """Where an image with this hash lives: `<sha[:2]>/<sha>.<ext>` (256 small folders)."""
    return Path(attachments_dir) / sha256[:2] / f"{sha256}.{extension}"


def store_image(prepared: PreparedImage, attachments_dir: Path) -> Path:
    """Store `prepared` (once per content) and return its path.

    Raises ImageIntakeError with reason "disk_full" or "unwritable" and a message naming
    the image; no partial file is left either way.
    """
    target = attachment_path(prepared.sha256, prepared.extension, attachments_dir)
    if target.is_file() and target.stat().st_size == len(prepared.data):
        return target
    temporary: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        temporary = Path(name)
        with os.fdopen(handle, "wb") as out:
            out.write(prepared.data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
        temporary = None
    except OSError as error:
        raise _describe_write_failure(prepared, error) from error
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
    return target


def store_images(images: list[PreparedImage], attachments_dir: Path) -> list[dict]:
    """Store each image and describe it as the history records it (Store.add_attachment's fields)."""
    attachments = []
    for prepared in images:
        path = store_image(prepared, attachments_dir)
        attachments.append({"sha256": prepared.sha256, "mime": prepared.mime,
                            "path": str(path.relative_to(attachments_dir)), "width": prepared.width,
                            "height": prepared.height, "size": len(prepared.data)})
    return attachments


def _describe_write_failure(prepared: PreparedImage, error: OSError) -> ImageIntakeError:
    size_kb = max(1, len(prepared.data) // 1024)
    if error.errno in _NO_SPACE:
        return ImageIntakeError(
            f"Not enough disk space to save {prepared.name} ({size_kb} KB). "
            "Free some space and attach it again.",
            name=prepared.name,
            reason="disk_full",
        )
    detail = error.strerror or str(error)
    return ImageIntakeError(
        f"Could not save {prepared.name} with the conversation: {detail}.",
        name=prepared.name,
        reason="unwritable",
    )
