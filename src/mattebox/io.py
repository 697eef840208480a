"""Reading and writing images, alphas and trimaps without surprises.

Reading: PNG, JPEG, TIFF and WebP, 8 or 16 bits per channel, grey, grey+alpha, RGB, RGBA and
palette files; EXIF orientation is applied. Images come back H x W x 3 float64 in [0, 1],
alphas H x W float64 in [0, 1] (an RGB file with R == G == B is read as grey), trimaps
H x W float64 with exactly 0 / 0.5 / 1 (see :data:`mattebox.checks.KNOWN_CUT` for the cut).
The declared pixel count is checked before decoding, so a decompression bomb is refused
without allocating it.

Writing is atomic: the data goes to a temporary file in the target folder, which is then
renamed over the target, so a crash never leaves half a file where a good one was; a write
that would replace one of the given input files is refused.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np

from . import checks
from .errors import ImageReadError, InputError, OutputError

PathLike = Union[str, os.PathLike]

#: Largest image (in pixels) read by default: 200 megapixels, above a 16K x 12K photo.
#: Override per call with ``max_pixels=`` or for the process with ``MATTEBOX_MAX_PIXELS``.
DEFAULT_MAX_PIXELS = 200_000_000

READABLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
WRITABLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


def max_pixels_default() -> int:
    """The pixel limit in force: ``MATTEBOX_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get("MATTEBOX_MAX_PIXELS")
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        return int(float(value))
    except ValueError:
        raise InputError(f"MATTEBOX_MAX_PIXELS={value!r} is not a number of pixels") from None


def _pil():
    from PIL import Image

    # We check the declared size ourselves, with our own limit and message.
    Image.MAX_IMAGE_PIXELS = None
    return Image


def _open_checked(path: PathLike, max_pixels: int | None):
    """Open ``path`` with Pillow (header only) after checking it exists and is not a bomb."""
    Image = _pil()
    path = as_path(path, "an image file")
    if max_pixels is not None:
        max_pixels = checks.option_number(max_pixels, "max_pixels", minimum=1, whole=True)
    if not path.exists():
        raise ImageReadError(f"cannot read {str(path)!r}: no such file; check the path")
    if path.is_dir():
        raise ImageReadError(f"cannot read {str(path)!r}: it is a folder, not an image file")
    try:
        image = Image.open(path)
    except PermissionError:
        raise ImageReadError(f"cannot read {str(path)!r}: permission denied") from None
    except Exception:
        raise ImageReadError(
            f"cannot read {str(path)!r}: it is not an image file mattebox can read "
            "(PNG, JPEG, TIFF, WebP, BMP)"
        ) from None
    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    width, height = image.size
    if width * height > limit:
        image.close()
        raise ImageReadError(
            f"{str(path)!r} declares {width}x{height} = {width * height:,} pixels, above the "
            f"limit of {limit:,}; if the file is genuine, raise the limit with max_pixels= or "
            "MATTEBOX_MAX_PIXELS"
        )
    if width == 0 or height == 0:
        image.close()
        raise ImageReadError(f"{str(path)!r} declares an empty image ({width}x{height})")
    return image


def _png_bit_depth(path: Path) -> int | None:
    with open(path, "rb") as handle:
        head = handle.read(26)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return head[24]
    return None


def _exif_orientation(image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:
        return 1


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation tag values 1..8 to an H x W (x C) array."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return np.swapaxes(array, 0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return np.swapaxes(array, 0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def _decode_16bit_colour(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError(f"cannot read {str(path)!r}: the file is truncated or corrupt")
    if array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    elif array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    return array.astype(np.float64) / (65535.0 if array.dtype == np.uint16 else 255.0)


def read_array(path: PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read any supported file as float64 in [0, 1]: H x W (grey), H x W x 3 or H x W x 4.

    Grey+alpha files come back as H x W x 4 (grey repeated); palette files are expanded
    through their palette.
    """
    path = as_path(path, "an image file")
    image = _open_checked(path, max_pixels)
    try:
        orientation = _exif_orientation(image)
        fmt = image.format
        if fmt == "PNG" and _png_bit_depth(path) == 16 and image.mode in ("RGB", "RGBA"):
            array = _decode_16bit_colour(path)
        elif fmt == "TIFF" and image.mode in ("RGB", "RGBA") and _tiff_bits(image) == 16:
            array = _decode_16bit_colour(path)
        else:
            array = _pil_to_float(image)
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(
            f"cannot read {str(path)!r}: the file is truncated or corrupt ({exc})"
        ) from None
    finally:
        image.close()
    return np.ascontiguousarray(_orient(array, orientation))


def _tiff_bits(image) -> int:
    try:
        bits = image.tag_v2.get(258, (8,))
        return int(bits[0] if isinstance(bits, tuple) else bits)
    except Exception:
        return 8


def _pil_to_float(image) -> np.ndarray:
    mode = image.mode
    image.load()  # raises on truncated data
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    if mode == "1":
        return np.asarray(image, dtype=np.float64)
    if mode in ("L", "RGB", "RGBA"):
        return np.asarray(image, dtype=np.float64) / 255.0
    if mode == "LA":
        grey_alpha = np.asarray(image, dtype=np.float64) / 255.0
        grey = grey_alpha[:, :, 0]
        return np.dstack([grey, grey, grey, grey_alpha[:, :, 1]])
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.uint16).astype(np.float64) / 65535.0
    if mode == "I":
        array = np.asarray(image, dtype=np.float64)
        return array / (65535.0 if array.max(initial=0) > 255 else 255.0)
    if mode == "F":
        return np.asarray(image, dtype=np.float64)
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0  # CMYK, YCbCr, LAB, HSV


def read_image(path: PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read a photo as H x W x 3 float64 in [0, 1] (grey repeated, any alpha channel dropped)."""
    return checks.as_image(read_array(path, max_pixels=max_pixels), what=f"image {str(path)!r}")


def read_alpha(path: PathLike, *, max_pixels: int | None = None, kind: str = "alpha") -> np.ndarray:
    """Read an alpha matte as H x W float64 in [0, 1].

    A grey file is read as is; an RGB file must have R == G == B; an RGBA file whose colour
    channels are constant (a cut-out mask saved as transparency) gives its alpha channel.
    """
    array = read_array(path, max_pixels=max_pixels)
    what = f"{kind} {str(path)!r}"  # kind: what the file is for, for messages
    if array.ndim == 3 and array.shape[2] == 4:
        rgb = array[:, :, :3]
        if np.ptp(rgb) == 0 or not np.allclose(rgb, rgb[:, :, :1]):
            return checks.as_alpha(array[:, :, 3], what)
        array = rgb
    return checks.as_alpha(array, what)


def read_trimap(path: PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read a trimap (0/128/255 grey, 0/0.5/1 float, or palette file) as 0 / 0.5 / 1."""
    return checks.as_trimap(read_alpha(path, max_pixels=max_pixels, kind="trimap"), what=f"trimap {str(path)!r}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def as_path(path: object, what: str) -> Path:
    """``path`` (a str or os.PathLike) as a Path, or an InputError naming ``what`` it should be."""
    if not isinstance(path, (str, os.PathLike)) or (isinstance(path, str) and not path):
        raise InputError(f"expected the path of {what} (a str or pathlib.Path), not {path!r}")
    return Path(path)


def make_output_folder(folder: PathLike, *, create: bool = True) -> Path:
    """``folder``, created with its parents if missing (unless ``create`` is False: then only
    checked); OutputError if it is a file or cannot be created, before any work is done."""
    folder = as_path(folder, "an output folder")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output folder {str(folder)!r} is a file; pass a folder")
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot create output folder {str(folder)!r}: {str(existing)!r} is a file")
    if not os.access(existing, os.W_OK):
        raise OutputError(f"cannot write in {str(folder)!r}: {str(existing)!r} is not writable")
    if not create:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {str(folder)!r} ({exc.strerror})") from None
    return folder


def check_output_path(path: PathLike, protect: Iterable[PathLike] = (),
                      suffixes: Iterable[str] | None = None, kind: str = "file") -> Path:
    """``path`` as a Path, or an :class:`OutputError` saying why a file cannot be written there:
    its suffix is not one of ``suffixes`` (any, if None), it is one of the ``protect`` files
    (the inputs), it is a folder or another non-file, or its folder is missing or not
    writable. Call it before the work whose result goes there."""
    path = Path(path)
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if path.suffix.lower() not in suffixes:
            raise OutputError(f"cannot write {str(path)!r}: unknown {kind} type {path.suffix!r}; "
                              f"use one of " + ", ".join(suffixes))
    for other in protect:
        other = Path(other)
        if _same_file(path, other) or path.resolve() == other.resolve():
            raise OutputError(
                f"refusing to write {str(path)!r}: it is one of the input files; choose "
                "another output path"
            )
    if path.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: it is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise OutputError(f"cannot write {str(path)!r}: it exists and is not a regular file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {str(path)!r}: folder {str(folder)!r} is not writable")
    return path


def check_image_output_path(path: Path, protect: Iterable[PathLike]) -> None:
    """:func:`check_output_path` for the image types :func:`write_image` writes (used before
    any work starts, so that a bad output path fails at once)."""
    check_output_path(path, protect, WRITABLE_SUFFIXES, kind="image")


@contextlib.contextmanager
def atomic_output(path: PathLike, protect: Iterable[PathLike] = (),
                  suffixes: Iterable[str] | None = None, kind: str = "file") -> Iterator[Path]:
    """A temporary file's path beside ``path`` to write to; on leaving the block without an
    error it is renamed over ``path`` (readable by all, as a new file would be), on an error
    it is removed. ``path`` is checked first (:func:`check_output_path`). A failure of the
    file system (full disk, read-only mount) becomes an :class:`OutputError`."""
    path = check_output_path(path, protect, suffixes, kind)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix,
                                             dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    os.close(handle)
    try:
        yield Path(temp_name)
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except OSError as exc:
        if not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        raise
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def write_text(path: PathLike, text: str, *, protect: Iterable[PathLike] = ()) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_output`), refused over ``protect``."""
    with atomic_output(path, protect) as temp:
        temp.write_text(text)
    return Path(path)


def _to_uint(array: np.ndarray, bits: int) -> np.ndarray:
    scale = 65535.0 if bits == 16 else 255.0
    dtype = np.uint16 if bits == 16 else np.uint8
    return (np.clip(array, 0.0, 1.0) * scale + 0.5).astype(dtype)


def write_image(
    path: PathLike,
    array: np.ndarray,
    *,
    bits: int = 8,
    protect: Iterable[PathLike] = (),
    quality: int = 95,
) -> Path:
    """Write an H x W (grey), H x W x 3 (RGB) or H x W x 4 (RGBA) float array in [0, 1].

    The file type follows the suffix. ``bits=16`` writes 16-bit PNG or TIFF. The write is
    atomic, and refused if ``path`` is one of ``protect`` (the inputs).
    """
    path = Path(path)
    check_image_output_path(path, protect)
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise InputError(f"cannot write an array of shape {array.shape} as an image")
    if not np.all(np.isfinite(array)):
        raise InputError(f"refusing to write {str(path)!r}: the array contains NaN or infinity")
    if bits not in (8, 16):
        raise InputError(f"bits must be 8 or 16, not {bits}")
    suffix = path.suffix.lower()
    if bits == 16 and suffix not in (".png", ".tif", ".tiff"):
        raise InputError(f"16-bit output needs .png or .tif, not {suffix}")
    data = _to_uint(array, bits)
    with atomic_output(path, protect, WRITABLE_SUFFIXES, kind="image") as temp:
        _encode(temp, data, suffix, quality)
    return path


def _encode(path: Path, data: np.ndarray, suffix: str, quality: int) -> None:
    if data.dtype == np.uint16 and data.ndim == 3:
        import cv2

        code = cv2.COLOR_RGBA2BGRA if data.shape[2] == 4 else cv2.COLOR_RGB2BGR
        if not cv2.imwrite(str(path), cv2.cvtColor(data, code)):
            raise OutputError(f"could not encode {str(path)!r}")
        return
    Image = _pil()
    image = Image.fromarray(data)
    options: dict = {}
    if suffix in (".jpg", ".jpeg"):
        if image.mode == "RGBA":
            raise InputError("JPEG has no alpha channel; write the cut-out as .png or .webp")
        options["quality"] = quality
    elif suffix == ".webp":
        options["quality"] = quality
    with open(path, "wb") as handle:
        image.save(handle, format=_FORMATS[suffix], **options)
        handle.flush()
        os.fsync(handle.fileno())


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
            ".webp": "WEBP"}


def write_alpha(path: PathLike, alpha: np.ndarray, **options) -> Path:
    """Write an alpha matte as a grey image (see :func:`write_image` for the options)."""
    return write_image(path, checks.as_alpha(alpha), **options)


def write_trimap(path: PathLike, trimap: np.ndarray, **options) -> Path:
    """Write a trimap as a 0 / 128 / 255 grey PNG."""
    trimap = checks.as_trimap(trimap)
    return write_image(path, np.where(trimap == 0.5, 128 / 255, trimap), **options)
