"""Guarded image decoding: file size, megapixels (decompression bombs), corrupt input.

Every image that reaches the detector from a user (CLI, upload, image folder) goes through
:func:`load_image_file` or :func:`decode_image_bytes`; both return an RGB->BGR ``uint8``
array (OpenCV/ultralytics order) or raise :class:`UserFacingError` with a clear message.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from secmlops_core.errors import UserFacingError
from secmlops_core.settings import Settings, get_settings

def _original_pil_open():
    """PIL's own ``Image.open``: ultralytics replaces it with a wrapper that, on an unidentified
    file, tries to install a HEIF plugin (pip, network). Untrusted input must never trigger that."""
    opener = Image.open
    if not getattr(opener, "__module__", "").startswith("PIL"):
        opener = getattr(sys.modules.get("ultralytics.utils.patches"), "_image_open", opener)
    return opener


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
PIL_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "TIFF")


def load_image_file(path: str | Path, settings: Settings | None = None) -> np.ndarray:
    """Read and decode one image file (BGR uint8), enforcing the configured limits."""
    settings = settings or get_settings()
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"{path}: no such image file")
    size = path.stat().st_size
    _check_file_size(size, str(path), settings)
    return decode_image_bytes(path.read_bytes(), str(path), settings)


def decode_image_bytes(data: bytes, name: str = "image", settings: Settings | None = None) -> np.ndarray:
    """Decode image bytes (BGR uint8) after checking size, format and megapixels before decoding."""
    settings = settings or get_settings()
    _check_file_size(len(data), name, settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies below
            image = _original_pil_open()(io.BytesIO(data), formats=PIL_FORMATS)
            width, height = image.size
            check_megapixels(width, height, name, settings)
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = image.convert("RGB")
    except UserFacingError:
        raise
    except UnidentifiedImageError:
        raise UserFacingError(f"{name}: not an image in a supported format (JPEG, PNG, BMP, WebP, TIFF)") from None
    except Image.DecompressionBombError:
        raise UserFacingError(f"{name}: refused as a possible decompression bomb (too many pixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UserFacingError(f"{name}: the image is corrupt or truncated ({exc})") from None
    array = np.asarray(rgb, dtype=np.uint8)
    return np.ascontiguousarray(array[:, :, ::-1])


def check_megapixels(width: int, height: int, name: str, settings: Settings | None = None) -> None:
    """Refuse frames larger than ``settings.max_image_megapixels`` (checked from the header)."""
    settings = settings or get_settings()
    megapixels = width * height / 1e6
    if megapixels > settings.max_image_megapixels:
        raise UserFacingError(
            f"{name}: {width}x{height} is {megapixels:.1f} megapixels, more than the allowed "
            f"{settings.max_image_megapixels:g} (max_image_megapixels); resize it first"
        )
    if width <= 0 or height <= 0:
        raise UserFacingError(f"{name}: the image has no pixels")


def _check_file_size(size: int, name: str, settings: Settings) -> None:
    if size == 0:
        raise UserFacingError(f"{name}: the file is empty (0 bytes)")
    if size > settings.max_image_file_mb * 1e6:
        raise UserFacingError(
            f"{name}: {size / 1e6:.1f} MB is larger than the allowed {settings.max_image_file_mb:g} MB "
            "(max_image_file_mb)"
        )
