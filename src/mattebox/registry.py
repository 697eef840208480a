"""Method registry: matting methods register by name with what they need and what they return.

The CLI, the Python API and the evaluator all find methods here. A provider module (a solver
or a model) registers its methods with :func:`register_method` when it is imported; the
registry imports provider packages lazily, the first time a name is looked up, so that
``import mattebox`` stays fast.

The contract of a registered function::

    fn(image, trimap, **options) -> alpha                     # needs="trimap"
    fn(image, mask, **options) -> alpha                       # needs="mask"
    fn(image, **options) -> alpha                             # needs="nothing"

``image`` is H x W x 3 float64 in [0, 1]; ``trimap`` is H x W float64 with 0 (background),
0.5 (unknown) and 1 (foreground); ``alpha`` is H x W float64 in [0, 1]. Inputs reaching a
registered function have already been validated by :func:`mattebox.api.estimate_alpha`.
A method whose ``returns`` includes ``"foreground"`` also accepts ``return_foreground=True``
and then returns ``(alpha, foreground)``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from .errors import InputError

Needs = Literal["trimap", "mask", "nothing"]

# Packages whose modules may register methods, in lookup order; each is scanned (its modules
# imported) the first time a lookup misses.
PROVIDER_PACKAGES: tuple[str, ...] = ("mattebox.solvers", "mattebox.models", "mattebox.auto")


@dataclass(frozen=True)
class MethodSpec:
    """What the registry knows of one method."""

    name: str
    fn: Callable
    needs: Needs
    returns: tuple[str, ...] = ("alpha",)
    summary: str = ""
    reference: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    #: Raised whenever the method's output changes, so that stored results of an older
    #: version (active matting's cached teacher sequences) are not taken for its own.
    revision: int = 1
    #: The options ``fn`` takes beyond ``**options``, with their defaults, for a method
    #: whose signature does not list them (see :meth:`option_defaults`).
    declared_options: Mapping[str, Any] | None = None

    @property
    def provides_foreground(self) -> bool:
        return "foreground" in self.returns

    def option_defaults(self) -> dict[str, Any]:
        """The method's options (``-O NAME=VALUE``) and their defaults: the declared ones, or
        else the keyword-only parameters of ``fn`` (``return_foreground`` left out, it is
        the caller's, not the user's)."""
        from .checks import keyword_options

        if self.declared_options is not None:
            return dict(self.declared_options)
        return {key: p.default for key, p in keyword_options(self.fn).items()
                if key != "return_foreground"}


_METHODS: dict[str, MethodSpec] = {}
_ALIASES: dict[str, str] = {}
_SCANNED: set[str] = set()
_BROKEN: dict[str, str] = {}  # provider module -> why it failed to import


def register_method(
    name: str,
    *,
    needs: Needs = "trimap",
    returns: tuple[str, ...] = ("alpha",),
    summary: str = "",
    reference: str = "",
    aliases: tuple[str, ...] = (),
    revision: int = 1,
    options: Mapping[str, Any] | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator registering ``fn`` as matting method ``name`` (see the module docstring).
    ``options`` declares the options and defaults of an ``fn`` that takes ``**options``."""
    if needs not in ("trimap", "mask", "nothing"):
        raise ValueError(f"needs must be 'trimap', 'mask' or 'nothing', not {needs!r}")

    def decorate(fn: Callable) -> Callable:
        spec = MethodSpec(name, fn, needs, tuple(returns), summary, reference, tuple(aliases),
                          revision, None if options is None else dict(options))
        previous = _METHODS.get(name)
        if previous is not None and previous.fn is not fn:
            raise ValueError(f"method {name!r} is registered twice ({previous.fn} and {fn})")
        _METHODS[name] = spec
        for alias in aliases:
            _ALIASES[alias] = name
        return fn

    return decorate


def _scan_package(package_name: str) -> None:
    """Import every public module of one provider package (once), so its methods register.

    A module that fails to import is remembered with its error instead of breaking every
    other method; the error is shown when a method cannot be found.
    """
    if package_name in _SCANNED:
        return
    _SCANNED.add(package_name)
    try:
        package = importlib.import_module(package_name)
    except ModuleNotFoundError:
        return
    for info in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # a broken optional provider must not hide the others
            _BROKEN[info.name] = f"{type(exc).__name__}: {exc}"


def _resolve(name: str) -> str | None:
    key = _ALIASES.get(name, name)
    return key if key in _METHODS else None


def get_method(name: str) -> MethodSpec:
    """The method registered as ``name`` (or one of its aliases); a clear error if none is.

    Provider packages are imported in order (classical solvers first, then the PyTorch
    models), stopping as soon as the name is found, so a classical method never pays for
    importing PyTorch.
    """
    key = _resolve(name)
    for package_name in PROVIDER_PACKAGES:
        if key is not None:
            break
        _scan_package(package_name)
        key = _resolve(name)
    if key is None:
        known = ", ".join(sorted(_METHODS)) or "none"
        broken = "".join(f"; {module} failed to import ({why})" for module, why in _BROKEN.items())
        raise InputError(f"unknown matting method {name!r}; choose one of: {known}{broken}")
    return _METHODS[key]


def versioned_name(name: str) -> str:
    """``name`` tagged with its method's output revision, "sm-r2" (plain "cf" at revision 1,
    so that keys made before revisions existed stay valid): for keys of stored results."""
    revision = get_method(name).revision
    return name if revision == 1 else f"{name}-r{revision}"


def list_methods() -> list[MethodSpec]:
    """All registered methods, sorted by name (imports every provider module)."""
    for package_name in PROVIDER_PACKAGES:
        _scan_package(package_name)
    return [_METHODS[name] for name in sorted(_METHODS)]
