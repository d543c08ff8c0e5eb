"""Hostile or damaged image bytes give a PreparedImage or an ImageIntakeError, nothing else."""
from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.vision import ImageIntakeError, PreparedImage, prepare_image
from tests.support.image_gallery import animated_gif, encoded, noisy_image, sideways_photo


def _seed_images() -> list[bytes]:
    small = noisy_image((24, 16), seed=11)
    return [
        encoded(small, "PNG"),
        encoded(small.convert("RGBA"), "PNG"),
        encoded(small.convert("P"), "PNG", transparency=0),
        encoded(small, "JPEG", quality=80),
        sideways_photo(),
        animated_gif(),
        encoded(small, "GIF"),
        encoded(small, "WEBP"),
        encoded(small, "BMP"),
        encoded(small, "TIFF"),
    ]


SEEDS = _seed_images()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid image with a few bytes flipped, cut short, or spliced: what disks and networks do."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "max"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif action == "max" and data:
            data[position] = 0xFF  # big numbers in headers: sizes, lengths, counts
        elif action == "cut":
            del data[position:]
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _only_the_two_outcomes(data: bytes) -> None:
    try:
        prepared = prepare_image(data, name="fuzzed.png", max_side=64)
    except ImageIntakeError as error:
        assert str(error).startswith("fuzzed.png")
        return
    assert isinstance(prepared, PreparedImage)
    assert prepared.width <= 64 and prepared.height <= 64
    image = Image.open(io.BytesIO(prepared.data))
    assert image.mode == "RGB"


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_never_escape_as_another_exception(data: bytes) -> None:
    _only_the_two_outcomes(data)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_images_never_escape_as_another_exception(data: bytes) -> None:
    _only_the_two_outcomes(data)


@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"BM"]), st.binary(max_size=64))
def test_a_real_signature_followed_by_junk_is_refused_cleanly(signature: bytes, junk: bytes) -> None:
    _only_the_two_outcomes(signature + junk)
