"""The benchmarks' method entries, ``NAME[:OPTION=VALUE[:OPTION=VALUE]]``, e.g.
``sm:refine=laplacian`` or ``ifm:preview=0.25``: one parser for every benchmark script."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def split_entry(entry: str) -> tuple[str, dict]:
    """(method name, options) of an entry; values read as the CLI's ``-O`` reads them."""
    from mattebox.cli import parse_options

    name, *pairs = entry.split(":")
    return name, parse_options(pairs)


def entry_solver(entry: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The entry's method as ``f(image, trimap)`` with its options bound; a ``preview`` option
    (a scale) runs it through :func:`mattebox.solvers.preview.estimate_alpha_preview`."""
    from mattebox.registry import get_method
    from mattebox.solvers.preview import estimate_alpha_preview

    name, options = split_entry(entry)
    fn = get_method(name).fn
    scale = options.pop("preview", None)
    if scale is not None:
        return lambda image, trimap: estimate_alpha_preview(image, trimap, method=name, scale=scale,
                                                            **options)
    return (lambda image, trimap: fn(image, trimap, **options)) if options else fn
