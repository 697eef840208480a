"""mattebox: natural image matting — classical solvers, deep models, active matting, metrics.

Quick start::

    import mattebox
    result = mattebox.matte("photo.png", "trimap.png", method="cf", background="#00ff00",
                            output_dir="out")
    alpha = mattebox.estimate_alpha(image, trimap, method="cf")   # arrays in [0, 1]

Heavy dependencies (SciPy, Numba, OpenCV, PyTorch) load on first use, not at import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first access (PEP 562)
_LAZY = {
    "matte": "api",
    "estimate_alpha": "api",
    "MatteResult": "api",
    "estimate_foreground": "compose",
    "composite": "compose",
    "cutout": "compose",
    "read_image": "io",
    "read_alpha": "io",
    "read_trimap": "io",
    "write_image": "io",
    "write_alpha": "io",
    "evaluate": "evaluate",
    "list_methods": "registry",
    "get_method": "registry",
    "register_method": "registry",
    "MatteboxError": "errors",
    "InputError": "errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mattebox' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover
    from .api import MatteResult, estimate_alpha, matte
    from .compose import composite, cutout, estimate_foreground
    from .errors import InputError, MatteboxError
    from .evaluate import evaluate
    from .io import read_alpha, read_image, read_trimap, write_alpha, write_image
    from .registry import get_method, list_methods, register_method
