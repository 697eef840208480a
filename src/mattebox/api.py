"""The public path from inputs to a matte: validate, estimate alpha, estimate foreground, compose.

``estimate_alpha`` runs one registered method on arrays; ``matte`` takes files or arrays and
returns everything a user needs (alpha, foreground, cut-out, composite), optionally saving it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Union

import numpy as np

from . import checks, io
from .errors import InputError, OutputError
from .registry import get_method

ArrayOrPath = Union[np.ndarray, str, os.PathLike]
Progress = Callable[[str], None]


def estimate_alpha(
    image: np.ndarray,
    trimap: np.ndarray | None = None,
    method: str = "cf",
    *,
    mask: np.ndarray | None = None,
    preview: float | None = None,
    **options,
) -> np.ndarray:
    """Estimate the alpha matte of ``image`` with the registered ``method``.

    ``image``: H x W x 3 float in [0, 1] (uint8 accepted). ``trimap``: H x W with 0 / 0.5 / 1
    (0/128/255 accepted) for methods that need one; ``mask`` (H x W, binary or soft) for
    methods that need a coarse mask; methods that need nothing ignore both. ``options`` go to
    the method. With ``preview`` (in (0, 1], trimap methods only) the method solves a copy
    shrunk by that factor and the matte is brought back to full size guided by the photo
    (:func:`mattebox.solvers.preview.estimate_alpha_preview`): about the shrunk problem's
    time, for a first look. Returns H x W float64 alpha in [0, 1].

    >>> import numpy as np, mattebox
    >>> image = np.zeros((10, 10, 3)); image[:, 5:] = 1
    >>> trimap = np.full((10, 10), 0.5); trimap[:, 0] = 0; trimap[:, -1] = 1
    >>> alpha = mattebox.estimate_alpha(image, trimap, method="cf")
    >>> alpha.shape
    (10, 10)
    """
    spec = get_method(method)
    checks.check_method_options(spec.name, spec.fn, options)
    scale = _preview_scale(preview, spec)
    image = checks.as_image(image)
    if spec.needs == "trimap":
        if trimap is None:
            raise InputError(f"method {spec.name!r} needs a trimap; pass trimap=...")
        trimap = checks.as_trimap(trimap)
        checks.check_same_size(image, trimap, "the image", "the trimap")
        checks.check_trimap_solvable(trimap)
        if scale is not None:
            from .solvers.preview import estimate_alpha_preview

            result = estimate_alpha_preview(image, trimap, method=spec.name, scale=scale, **options)
        else:
            result = spec.fn(image, trimap, **options)
    elif spec.needs == "mask":
        if mask is None:
            raise InputError(f"method {spec.name!r} needs a coarse mask; pass mask=...")
        mask = checks.as_alpha(mask, "mask")
        checks.check_same_size(image, mask, "the image", "the mask")
        result = spec.fn(image, mask, **options)
    else:
        result = spec.fn(image, **options)
    alpha = result[0] if isinstance(result, tuple) else result
    return np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0)


def _preview_scale(preview: float | None, spec) -> float | None:
    """``preview`` checked: None, or a factor in (0, 1] for a method that takes a trimap."""
    if preview is None:
        return None
    if spec.needs != "trimap":
        raise InputError(f"preview works with the methods that take a trimap; {spec.name!r} "
                         "does not")
    return checks.option_number(preview, "preview", above=0.0, maximum=1.0,
                                note=" (the factor the photo is shrunk by, e.g. 0.25)")


@dataclass
class MatteResult:
    """Everything ``matte`` produces; ``save`` writes it atomically, all or nothing."""

    alpha: np.ndarray
    foreground: np.ndarray
    composite: np.ndarray | None = None
    method: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    inputs: tuple[Path, ...] = ()

    @property
    def cutout(self) -> np.ndarray:
        """H x W x 4 RGBA with straight (unpremultiplied) estimated foreground colours."""
        return np.dstack([self.foreground, self.alpha])

    def save(self, output_dir: Union[str, os.PathLike], *, protect: Iterable[ArrayOrPath] = ()) -> dict[str, Path]:
        """Write ``alpha.png``, ``cutout.png`` and (if any) ``composite.png`` into ``output_dir``.

        The folder is created if missing. Nothing is written when a target is one of the
        inputs; every file is first written beside its target and renamed at the end.
        """
        folder = io.make_output_folder(output_dir)
        if not os.access(folder, os.W_OK):
            raise OutputError(f"output folder {str(folder)!r} is not writable; choose another with -o")
        outputs = {"alpha": (folder / "alpha.png", self.alpha), "cutout": (folder / "cutout.png", self.cutout)}
        if self.composite is not None:
            outputs["composite"] = (folder / "composite.png", self.composite)
        guarded = list(self.inputs) + [Path(p) for p in protect if not isinstance(p, np.ndarray)]
        for path, _ in outputs.values():
            io.check_image_output_path(path, guarded)
        staged: list[tuple[Path, Path]] = []
        try:
            for name, (path, array) in outputs.items():
                temp = folder / f".{path.stem}.partial.png"
                io.write_image(temp, array, protect=guarded)
                staged.append((temp, path))
            for temp, path in staged:
                os.replace(temp, path)
        finally:
            for temp, _ in staged:
                if temp.exists():
                    temp.unlink()
        return {name: path for name, (path, _) in outputs.items()}


def _load(value: ArrayOrPath, reader: Callable, what: str) -> tuple[np.ndarray, Path | None]:
    if isinstance(value, np.ndarray):
        return value, None
    if isinstance(value, (str, os.PathLike)):
        return reader(value), Path(value)
    raise InputError(f"{what} must be a file path or a NumPy array, not {type(value).__name__}")


def matte(
    image: ArrayOrPath,
    trimap: ArrayOrPath | None = None,
    *,
    method: str = "cf",
    mask: ArrayOrPath | None = None,
    background: ArrayOrPath | str | None = None,
    foreground_method: str = "ml",
    output_dir: Union[str, os.PathLike, None] = None,
    progress: Progress | None = None,
    preview: float | None = None,
    **options,
) -> MatteResult:
    """The whole path: read inputs, estimate alpha and foreground, composite, optionally save.

    ``image``, ``trimap``, ``mask`` and an image ``background`` may be paths or arrays;
    ``background`` may also be a colour ``"#rrggbb"``. With ``output_dir`` the results are
    written there (see :meth:`MatteResult.save`); inputs are never overwritten. ``preview``
    and ``options``: as for :func:`estimate_alpha`.
    """
    from .compose import FOREGROUND_METHODS, composite as compose_over, estimate_foreground, parse_colour

    say = progress or (lambda message: None)
    spec = get_method(method)
    _preview_scale(preview, spec)  # a bad value fails here, before any file is read
    image_array, image_path = _load(image, io.read_image, "image")
    image_array = checks.as_image(image_array)
    inputs = [p for p in (image_path,) if p is not None]
    trimap_array = mask_array = None
    if trimap is not None:
        trimap_array, path = _load(trimap, io.read_trimap, "trimap")
        inputs += [path] if path else []
    if mask is not None:
        mask_array, path = _load(mask, lambda p: io.read_alpha(p, kind="mask"), "mask")
        inputs += [path] if path else []
    back = None
    if background is not None:
        if isinstance(background, str) and background.strip().startswith("#"):
            parse_colour(background)  # a bad colour fails here, not after the solve
            back = background
        else:
            back, path = _load(background, io.read_image, "background")
            inputs += [path] if path else []
    if output_dir is not None:
        # Refuse unusable outputs before spending minutes on the solve.
        folder = io.make_output_folder(output_dir, create=False)  # MatteResult.save creates it
        written = ("alpha.png", "cutout.png") + (("composite.png",) if background is not None else ())
        for name in written:
            for source in inputs:
                if (folder / name).resolve() == source.resolve():
                    raise OutputError(
                        f"refusing to write {str(folder / name)!r}: it is one of the input files; "
                        "choose another output folder"
                    )
    if foreground_method not in FOREGROUND_METHODS:
        raise InputError(f"unknown foreground method {foreground_method!r}; choose one of "
                         f"{', '.join(FOREGROUND_METHODS)}")
    seconds: dict[str, float] = {}
    say(f"estimating alpha with {spec.name} ({spec.summary or spec.name})")
    start = time.perf_counter()
    alpha = estimate_alpha(image_array, trimap_array, spec.name, mask=mask_array, preview=preview,
                           **options)
    seconds["alpha"] = time.perf_counter() - start
    say(f"alpha done in {seconds['alpha']:.2f} s; estimating foreground colours ({foreground_method})")
    start = time.perf_counter()
    foreground = estimate_foreground(image_array, alpha, method=foreground_method)
    seconds["foreground"] = time.perf_counter() - start
    result = MatteResult(alpha, foreground, method=spec.name, seconds=seconds, inputs=tuple(inputs))
    if back is not None:
        result.composite = compose_over(foreground, alpha, back)
    if output_dir is not None:
        say(f"writing results to {output_dir}")
        result.save(output_dir)
    return result
