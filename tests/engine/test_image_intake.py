"""A user attaches the images people really have; each is taken correctly or refused by name."""
from __future__ import annotations

import base64
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from engine.vision import ImageIntakeError, PreparedImage, prepare_image, store_image
from engine.vision.intake import MAX_PIXELS
from tests.support.image_gallery import image_gallery  # noqa: F401  (fixture)
from tests.support.image_gallery import noisy_image, encoded

ROOT = Path(__file__).resolve().parents[2]


def decoded(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    return image


def close_to(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


# --- accepted, and correct ---------------------------------------------------------------


def test_a_sideways_phone_photo_is_turned_upright(image_gallery):
    prepared = prepare_image(image_gallery["sideways.jpg"])
    assert (prepared.source_width, prepared.source_height) == (60, 40)
    assert (prepared.width, prepared.height) == (40, 60)  # EXIF orientation 6 applied
    image = decoded(prepared)
    assert close_to(image.getpixel((20, 5)), (255, 0, 0))  # the red left half is now on top
    assert close_to(image.getpixel((20, 55)), (0, 0, 255))
    assert "exif" not in image.info  # no orientation left to be applied twice


def test_a_cmyk_print_jpeg_keeps_its_colours(image_gallery):
    prepared = prepare_image(image_gallery["print-shop.jpg"])
    image = decoded(prepared)
    assert image.mode == "RGB"
    assert close_to(image.getpixel((10, 10)), (255, 0, 0))


def test_a_16_bit_scan_is_mid_grey_not_white(image_gallery):
    image = decoded(prepare_image(image_gallery["scan-16bit.png"]))
    assert image.mode == "RGB"
    assert close_to(image.getpixel((5, 5)), (128, 128, 128), tolerance=3)


@pytest.mark.parametrize("name", ["icon-palette.png", "translucent.png", "grey-alpha.png"])
def test_transparency_is_shown_on_white(image_gallery, name):
    image = decoded(prepare_image(image_gallery[name]))
    assert image.mode == "RGB"
    assert image.getpixel((image.width - 1, image.height - 1)) == (255, 255, 255)


def test_a_palette_icon_keeps_its_opaque_part(image_gallery):
    image = decoded(prepare_image(image_gallery["icon-palette.png"]))
    assert image.getpixel((16, 16)) == (0, 255, 0)


def test_an_animated_gif_gives_its_first_frame(image_gallery):
    prepared = prepare_image(image_gallery["party.gif"])
    image = decoded(prepared)
    assert getattr(image, "n_frames", 1) == 1
    assert image.getpixel((12, 12)) == (255, 0, 0)


def test_a_webp_photo_becomes_a_jpeg(image_gallery):
    prepared = prepare_image(image_gallery["holiday.webp"])
    assert prepared.mime == "image/jpeg"
    assert (prepared.width, prepared.height) == (120, 80)
    assert decoded(prepared).format == "JPEG"


def test_a_big_screenshot_is_downscaled_keeping_its_shape_and_stays_lossless(image_gallery):
    prepared = prepare_image(image_gallery["screenshot.png"])
    assert (prepared.width, prepared.height) == (896, 448)
    assert prepared.mime == "image/png"
    image = decoded(prepared)
    assert image.getpixel((100, 100)) == (0, 0, 255)
    assert image.getpixel((800, 100)) == (240, 240, 240)


def test_max_side_is_the_longest_side(image_gallery):
    prepared = prepare_image(image_gallery["sideways.jpg"], max_side=30)
    assert (prepared.width, prepared.height) == (20, 30)


def test_small_images_are_never_enlarged(image_gallery):
    prepared = prepare_image(image_gallery["party.gif"], max_side=2048)
    assert (prepared.width, prepared.height) == (24, 24)


def test_a_photo_saved_as_png_is_sent_as_jpeg_when_png_would_be_heavy():
    noisy_png = encoded(noisy_image((896, 896), seed=9), "PNG")
    prepared = prepare_image(noisy_png, name="camera-export.png")
    assert prepared.mime == "image/jpeg"


def test_the_data_uri_and_hash_describe_the_encoded_bytes(image_gallery):
    import hashlib

    prepared = prepare_image(image_gallery["complete.jpg"])
    header, payload = prepared.data_uri.split(",", 1)
    assert header == "data:image/jpeg;base64"
    assert base64.b64decode(payload) == prepared.data
    assert prepared.sha256 == hashlib.sha256(prepared.data).hexdigest()
    assert prepared.name == "complete.jpg"


def test_bytes_from_the_clipboard_are_accepted_and_named(image_gallery):
    raw = image_gallery["party.gif"].read_bytes()
    assert prepare_image(raw, name="Pasted image").name == "Pasted image"
    assert prepare_image(raw).width == 24


def test_the_same_image_always_prepares_to_the_same_bytes(image_gallery):
    first = prepare_image(image_gallery["complete.jpg"])
    second = prepare_image(image_gallery["complete.jpg"].read_bytes(), name="complete.jpg")
    assert first.sha256 == second.sha256


# --- refused, by name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason", "words"),
    [
        ("half-downloaded.jpg", "truncated", "incomplete"),
        ("half-downloaded.png", "truncated", "incomplete"),
        ("notes.png", "unsupported", "not an image"),
        ("empty.jpg", "empty", "empty"),
        ("photo.png", "too_large", "30000×30000 pixels"),
        ("big-scan.png", "too_large", "8000×8000 pixels"),
    ],
)
def test_bad_files_are_refused_with_a_message_naming_them(image_gallery, name, reason, words):
    with pytest.raises(ImageIntakeError) as caught:
        prepare_image(image_gallery[name])
    message = str(caught.value)
    assert message.startswith(name)
    assert words in message
    assert caught.value.reason == reason
    assert caught.value.name == name


def test_a_bomb_message_says_what_hearth_accepts(image_gallery):
    with pytest.raises(ImageIntakeError, match=f"up to {MAX_PIXELS // 1_000_000} megapixels"):
        prepare_image(image_gallery["photo.png"])


def test_a_missing_file_is_refused_by_name(tmp_path):
    with pytest.raises(ImageIntakeError, match=r"Could not read gone\.png") as caught:
        prepare_image(tmp_path / "gone.png")
    assert caught.value.reason == "unreadable"


def test_a_folder_is_not_an_image(tmp_path):
    (tmp_path / "Holiday.png").mkdir()
    with pytest.raises(ImageIntakeError, match="Holiday.png is a folder"):
        prepare_image(tmp_path / "Holiday.png")


def test_formats_that_run_outside_programs_are_not_opened(tmp_path):
    eps = tmp_path / "drawing.png"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(ImageIntakeError, match="not an image Hearth can read"):
        prepare_image(eps)


# --- stored once, atomically -----------------------------------------------------------------


def test_an_image_is_stored_once_under_its_content_hash(image_gallery, tmp_path):
    attachments = tmp_path / "attachments"
    prepared = prepare_image(image_gallery["complete.jpg"])
    path = store_image(prepared, attachments)
    assert path == attachments / prepared.sha256[:2] / f"{prepared.sha256}.jpg"
    assert path.read_bytes() == prepared.data
    again = store_image(prepare_image(image_gallery["complete.jpg"].read_bytes(), name="copy.jpg"), attachments)
    assert again == path
    assert sorted(p.name for p in attachments.rglob("*") if p.is_file()) == [path.name]


def test_a_png_is_stored_as_png(image_gallery, tmp_path):
    path = store_image(prepare_image(image_gallery["party.gif"]), tmp_path)
    assert path.suffix == ".png"
    assert Image.open(path).format == "PNG"


def test_an_attachments_folder_that_cannot_be_made_is_a_clear_message(image_gallery, tmp_path):
    in_the_way = tmp_path / "attachments"
    in_the_way.write_text("a file where the folder should be")
    with pytest.raises(ImageIntakeError, match="Could not save complete.jpg") as caught:
        store_image(prepare_image(image_gallery["complete.jpg"]), in_the_way)
    assert caught.value.reason == "unwritable"


@pytest.mark.skipif(sys.platform != "linux", reason="uses Linux's per-process file size limit")
def test_a_full_disk_leaves_no_partial_file(tmp_path):
    """A child process whose file-size limit is 1 KiB plays the full disk: the write really fails."""
    attachments = tmp_path / "attachments"
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from engine.vision import ImageIntakeError, prepare_image, store_image
        from tests.support.image_gallery import encoded, noisy_image
        prepared = prepare_image(encoded(noisy_image((200, 200)), "PNG"), name="scan.png")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
        try:
            store_image(prepared, {str(attachments)!r})
        except ImageIntakeError as error:
            print(error.reason, "|", error)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    reason, message = result.stdout.strip().split(" | ")
    assert reason == "disk_full"
    assert message.startswith("Not enough disk space to save scan.png")
    assert [p for p in attachments.rglob("*") if p.is_file()] == []
