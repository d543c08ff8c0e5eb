"""Image intake for vision models: validate, orient, flatten, downscale, encode, store."""
from engine.vision.attachments import attachment_path, store_image, store_images
from engine.vision.intake import ImageIntakeError, PreparedImage, prepare_image

__all__ = ["ImageIntakeError", "PreparedImage", "attachment_path", "prepare_image", "store_image", "store_images"]
