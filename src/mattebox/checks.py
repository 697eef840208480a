"""Validation of in-memory inputs: images, alphas, trimaps and masks.

Inside mattebox an image is H x W x 3 float64 in [0, 1], an alpha is H x W float64 in [0, 1]
and a trimap is H x W float64 holding exactly 0 (background), 0.5 (unknown) and 1
(foreground). These functions turn what a user hands in into that form, or raise
:class:`~mattebox.errors.InputError` with a sentence that says what is wrong and how to fix it.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

#: A trimap value at or below this counts as background, at or above ``1 - KNOWN_CUT`` as
#: foreground, anything in between as unknown. 0.1 is 25.5 on the 0..255 scale: wide enough
#: for JPEG noise around 0 and 255, far from the 128 that marks the unknown region.
KNOWN_CUT = 0.1

BACKGROUND, UNKNOWN, FOREGROUND = 0.0, 0.5, 1.0


def _as_float(array: object, what: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except Exception as exc:  # pragma: no cover - exotic array-likes
            raise InputError(f"{what} is not an array ({exc}); pass a NumPy array") from exc
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if array.dtype == np.uint16:
        return array.astype(np.float64) / 65535.0
    if np.issubdtype(array.dtype, np.integer):
        lo, hi = int(array.min(initial=0)), int(array.max(initial=0))
        if lo < 0 or hi > 255:
            raise InputError(
                f"{what} is an integer array with values in [{lo}, {hi}]; pass uint8 (0..255), "
                "uint16 (0..65535) or floats in [0, 1]"
            )
        return array.astype(np.float64) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{what} has dtype {array.dtype}; pass a float array in [0, 1] or uint8")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise InputError(
            f"{what} contains {bad} NaN or infinite value(s); replace them (e.g. np.nan_to_num) "
            "before matting"
        )
    return array


def _check_range(array: np.ndarray, what: str) -> np.ndarray:
    lo, hi = float(array.min(initial=0.0)), float(array.max(initial=0.0))
    if lo < -1e-6 or hi > 1 + 1e-6:
        hint = " (it looks like 0..255: divide by 255)" if hi <= 255 and hi > 1 else ""
        raise InputError(f"{what} has values in [{lo:g}, {hi:g}], expected [0, 1]{hint}")
    return np.clip(array, 0.0, 1.0)


def as_image(image: object, what: str = "image") -> np.ndarray:
    """Return ``image`` as H x W x 3 float64 in [0, 1] (grey is repeated, alpha is dropped)."""
    array = _as_float(image, what)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim != 3 or array.shape[2] != 3:
        raise InputError(f"{what} has shape {array.shape}; expected H x W x 3 (RGB) or H x W (grey)")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InputError(f"{what} is empty (shape {array.shape})")
    return np.ascontiguousarray(_check_range(array, what))


def as_alpha(alpha: object, what: str = "alpha") -> np.ndarray:
    """Return ``alpha`` as H x W float64 in [0, 1]; an H x W x C array with equal channels is accepted."""
    array = _as_float(alpha, what)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        rgb = array[:, :, :3]
        if not (np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2])):
            raise InputError(f"{what} is a colour array; it must be grey (one channel, or RGB "
                             f"with R == G == B)")
        array = rgb[:, :, 0]
    elif array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise InputError(f"{what} has shape {array.shape}; expected H x W")
    return np.ascontiguousarray(_check_range(array, what))


def as_trimap(trimap: object, what: str = "trimap") -> np.ndarray:
    """Return ``trimap`` with exactly 0 / 0.5 / 1.

    Values <= ``KNOWN_CUT`` become background, values >= ``1 - KNOWN_CUT`` foreground and
    everything else unknown, so 0/128/255, 0/0.5/1 and slightly noisy trimaps all work.
    """
    array = as_alpha(trimap, what)
    out = np.full(array.shape, UNKNOWN)
    out[array <= KNOWN_CUT] = BACKGROUND
    out[array >= 1.0 - KNOWN_CUT] = FOREGROUND
    return out


def non_negative_number(value: object, name: str, note: str = "") -> float:
    """``value`` as a float, or an :class:`InputError` naming ``name`` if it is not a finite
    number >= 0 (``note``, e.g. " (default 1e-6)", goes into the message)."""
    return option_number(value, name, minimum=0.0, note=note)


def option_number(value: object, name: str, *, minimum: float | None = None,
                  above: float | None = None, maximum: float | None = None,
                  below: float | None = None, whole: bool = False,
                  note: str = "") -> float | int:
    """``value`` as a float (an int if ``whole``), or an :class:`InputError` naming ``name``
    unless it is a finite number, whole if asked, ``>= minimum``, ``> above``, ``<= maximum``
    and ``< below`` (each bound only where given; ``note`` goes into the message after them).
    For a solver's numeric options, checked before any work."""
    number = (not isinstance(value, (bool, np.bool_))
              and isinstance(value, (int, float, np.integer, np.floating))
              and bool(np.isfinite(value)))
    ok = number and (not whole or float(value) == int(value))
    ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
    ok = ok and (maximum is None or value <= maximum) and (below is None or value < below)
    if not ok:
        kind = "a whole number" if whole else "a finite number"
        bounds = [f">= {minimum:g}" if minimum is not None else "",
                  f"> {above:g}" if above is not None else "",
                  f"<= {maximum:g}" if maximum is not None else "",
                  f"< {below:g}" if below is not None else ""]
        wanted = " and ".join(b for b in bounds if b)
        raise InputError(f"{name} must be {kind}{' ' + wanted if wanted else ''}{note}, "
                         f"not {value!r}")
    return int(value) if whole else float(value)


def check_same_size(reference: np.ndarray, other: np.ndarray, ref_what: str, what: str) -> None:
    """Raise if ``other`` does not have the height and width of ``reference``."""
    if reference.shape[:2] != other.shape[:2]:
        (h, w), (h2, w2) = reference.shape[:2], other.shape[:2]
        noun = what[4:] if what.startswith("the ") else what  # callers pass "the trimap" or "trimap"
        raise InputError(
            f"{what} is {w2}x{h2} but {ref_what} is {w}x{h}; they must have the same size "
            f"(resize the {noun} to {w}x{h})"
        )


def check_trimap_solvable(trimap: np.ndarray, what: str = "trimap") -> None:
    """Raise unless ``trimap`` has unknown pixels and both foreground and background pixels."""
    unknown = int(np.count_nonzero(trimap == UNKNOWN))
    if unknown == 0:
        raise InputError(
            f"{what} has no unknown pixels (grey, 128), so there is nothing to estimate; "
            "mark the uncertain border grey, e.g. with `mattebox trimap --from-mask MASK --width 10`"
        )
    if not np.any(trimap == FOREGROUND):
        raise InputError(
            f"{what} has no foreground pixels (white, 255); mark at least part of the object white"
        )
    if not np.any(trimap == BACKGROUND):
        raise InputError(
            f"{what} has no background pixels (black, 0); mark at least part of the background black"
        )


def keyword_options(fn) -> dict:
    """The keyword-only parameters of ``fn`` (its options), by name, as inspect.Parameter."""
    import inspect

    return {key: p for key, p in inspect.signature(fn).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def check_option_names(name: str, fn, options: dict, kind: str = "") -> dict:
    """Raise unless every option names a keyword parameter of ``fn`` (the ``kind`` ``name``,
    e.g. "foreground method " "ml"), or ``fn`` takes any (``**options``); returns
    :func:`keyword_options`."""
    import inspect

    keywords = keyword_options(fn)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD
                    for p in inspect.signature(fn).parameters.values())
    unknown = sorted(key for key in options if key not in keywords)
    if unknown and not takes_any:
        choices = ", ".join(sorted(keywords)) or "none"
        raise InputError(f"unknown option(s) for {kind}{name!r}: {', '.join(unknown)}; choose from "
                         f"{choices}")
    return keywords


def check_method_options(name: str, fn, options: dict) -> None:
    """Raise unless every option names a keyword parameter of ``fn`` (the method ``name``)
    and, where that parameter's default is a number or a bool, is one too.

    Catches misspelt or misplaced options (``-O tol=1e-5`` for a method without a tolerance)
    and values the command line could not read as numbers (``-O tol=abc``) before the method
    runs, instead of a TypeError deep inside it. Ranges are each method's own to check.
    """
    keywords = check_option_names(name, fn, options)
    # None passes where the annotation admits it (``tile_size: int | None = 1024``).
    defaults = {key: keywords[key].default for key in options if key in keywords
                and not (options[key] is None and "None" in str(keywords[key].annotation))}
    check_option_types(name, options, defaults)


def check_option_types(name: str, options: dict, defaults: dict) -> None:
    """Raise unless each option whose default (in ``defaults``) is a bool is a bool, and each
    whose default is a number is a finite number (or that same infinity). The command line
    hands over what it could not read as a Python literal as a string; this names it instead
    of a TypeError inside the method ``name``. Options without a default here pass."""
    import numbers

    for key, value in options.items():
        if key not in defaults:
            continue
        default = defaults[key]
        if isinstance(default, bool):
            if not isinstance(value, (bool, np.bool_)):
                raise InputError(f"option {key} of {name!r} must be True or False (default "
                                 f"{default}), not {value!r}")
        elif isinstance(default, numbers.Real) and (
                isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)):
            raise InputError(f"option {key} of {name!r} must be a number (default {default!r}), "
                             f"not {value!r}")
        elif (isinstance(default, numbers.Real) and not np.isfinite(value)
              and not (np.isinf(default) and value == default)):
            raise InputError(f"option {key} of {name!r} must be a finite number (default "
                             f"{default!r}), not {value!r}")
