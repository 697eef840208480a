"""Composition of training and test images from foregrounds and natural backgrounds.

The Composition-1k protocol of Deep Image Matting (Xu et al. 2017, Sec. 4): every
foreground (F, alpha) is placed over N natural photos, ``I = alpha F + (1 - alpha) B``, each
background scaled up to cover the foreground (bicubic, only when it is smaller) and then
cropped to the foreground's size from its top-left corner, as the authors' composition
script does. Training draws backgrounds from a *train* split of the shared photos and the
fixed synthetic test set from a disjoint *validation* split.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..errors import InputError

#: Fraction of the background photos held out for validation and the synthetic test set.
VALIDATION_FRACTION = 0.1
BACKGROUND_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Bump whenever a change to the generator or to the composition changes the test set's
#: files; the version is kept in its manifest and ensure_test_set regenerates a stale set.
TEST_SET_VERSION = 2
TEST_SET_SEED = 20170401


def backgrounds_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder of background photos (with ``coco/`` and ``bsds500/`` inside).

    Looked up in order: ``path``; ``$MATTEBOX_BACKGROUNDS``; ``$MATTEBOX_SHARED_DATA/backgrounds``;
    ``shared/data/backgrounds`` beside the repository (``../shared/data/backgrounds`` from
    its root); the same relative to the working directory.
    """
    candidates: list[Path] = []
    if path is not None:
        candidates.append(Path(path))
    elif os.environ.get("MATTEBOX_BACKGROUNDS"):
        candidates.append(Path(os.environ["MATTEBOX_BACKGROUNDS"]))
    else:
        if os.environ.get("MATTEBOX_SHARED_DATA"):
            candidates.append(Path(os.environ["MATTEBOX_SHARED_DATA"]) / "backgrounds")
        repo = Path(__file__).resolve().parents[3]
        candidates.append(repo.parent / "shared" / "data" / "backgrounds")
        candidates.append(Path.cwd().parent / "shared" / "data" / "backgrounds")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise InputError(
        f"no background photos found (looked in {', '.join(repr(str(c)) for c in candidates)}); "
        "pass the folder explicitly or set MATTEBOX_BACKGROUNDS to a folder of photos"
    )


def list_backgrounds(directory: str | os.PathLike | None = None) -> list[Path]:
    """All photos under the backgrounds folder (recursively), sorted by relative path."""
    root = backgrounds_dir(directory)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in BACKGROUND_SUFFIXES and p.is_file())
    if not paths:
        raise InputError(f"the backgrounds folder {str(root)!r} holds no .jpg or .png photos")
    return paths


def _is_validation(relative_name: str, fraction: float) -> bool:
    digest = hashlib.sha256(relative_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64 < fraction


def split_backgrounds(directory: str | os.PathLike | None = None,
                      validation_fraction: float = VALIDATION_FRACTION) -> tuple[list[Path], list[Path]]:
    """Deterministic (train, validation) split of the background photos.

    A photo goes to validation when the SHA-256 of its path relative to the backgrounds folder
    (e.g. ``"coco/000000001234.jpg"``) falls in the first ``validation_fraction`` of the hash
    range: stable across machines and unaffected by adding or removing other photos.
    """
    root = backgrounds_dir(directory)
    train, validation = [], []
    for path in list_backgrounds(root):
        name = path.relative_to(root).as_posix()
        (validation if _is_validation(name, validation_fraction) else train).append(path)
    return train, validation


def read_background(path: str | os.PathLike) -> np.ndarray:
    """A background photo as H x W x 3 float32 RGB in [0, 1] (greyscale photos repeated)."""
    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if data is None:
        raise InputError(f"cannot read background photo {str(path)!r}; check the file")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(1 / 255)


def composite(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """The compositing equation ``I = alpha F + (1 - alpha) B`` (Porter & Duff *over*).

    ``fg`` and ``bg`` are H x W x 3, ``alpha`` H x W; the result has their float dtype.
    """
    fg, alpha, bg = np.asarray(fg), np.asarray(alpha), np.asarray(bg)
    if fg.shape != bg.shape or fg.ndim != 3 or fg.shape[:2] != alpha.shape:
        raise InputError(
            f"composite needs fg H x W x 3, alpha H x W and bg H x W x 3 of one size; got "
            f"{fg.shape}, {alpha.shape} and {bg.shape} (fit the background first)"
        )
    a = alpha[..., None]
    return a * fg + (1 - a) * bg


def fit_background(bg: np.ndarray, height: int, width: int,
                   rng: np.random.Generator | None = None, zoom: float = 1.0) -> np.ndarray:
    """Scale ``bg`` to cover ``height`` x ``width``, then crop it to that size.

    As in Composition-1k, the photo is enlarged (bicubic, sizes rounded up) only when it is
    smaller than the target in either side, by the larger of the two ratios, then cropped
    from the top-left corner. With ``rng`` the crop offset is random instead, and ``zoom`` > 1
    enlarges the photo further (a random zoom for training).
    """
    bh, bw = bg.shape[:2]
    ratio = max(height / bh, width / bw)
    ratio = max(ratio, 1.0) * max(zoom, 1.0) if zoom > 1 or ratio > 1 else 1.0
    if ratio > 1:
        size = (int(np.ceil(bw * ratio)), int(np.ceil(bh * ratio)))
        bg = cv2.resize(bg, size, interpolation=cv2.INTER_CUBIC)
        bg = np.clip(bg, 0, 1) if np.issubdtype(bg.dtype, np.floating) else bg
        bh, bw = bg.shape[:2]
    if rng is None:
        y = x = 0
    else:
        y, x = int(rng.integers(bh - height + 1)), int(rng.integers(bw - width + 1))
    return np.ascontiguousarray(bg[y:y + height, x:x + width])


def _quantise(array: np.ndarray) -> np.ndarray:
    """Round to the 8-bit steps a PNG stores, so composites match the files exactly."""
    return (np.round(np.clip(array, 0, 1) * 255) / 255).astype(np.float32)


def _write_entry(out: Path, name: str, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray,
                 trimap: np.ndarray) -> None:
    from ..io import write_alpha, write_image, write_trimap

    image = composite(fg, alpha, bg)
    write_image(out / "image" / name, image)
    write_alpha(out / "alpha" / name, alpha)
    write_trimap(out / "trimap" / name, trimap)
    write_image(out / "fg" / name, fg)
    write_image(out / "bg" / name, bg)


def _make_dirs(out: Path) -> None:
    for sub in ("image", "alpha", "trimap", "fg", "bg"):
        (out / sub).mkdir(parents=True, exist_ok=True)


def compose_dataset(fg_root: str | os.PathLike, out_dir: str | os.PathLike, n_backgrounds: int,
                    backgrounds: Sequence[str | os.PathLike] | None = None, seed: int = 0,
                    trimap_sizes: tuple[int, int] = (11, 25)) -> list[Path]:
    """Composition-1k protocol over a folder holding ``fg/`` and ``alpha/`` (same file names).

    Each foreground is composited over ``n_backgrounds`` distinct photos drawn (seeded) from
    ``backgrounds`` (default: the validation split), each fitted by :func:`fit_background`
    (cover, top-left crop). Writes ``image/``, ``alpha/``, ``trimap/``, ``fg/``, ``bg/`` with
    names ``<stem>_<j>.png``; the trimap dilates the fractional region by a seeded kernel
    size in ``trimap_sizes``. Returns the image paths.
    """
    from ..io import read_alpha, read_image
    from .augment import trimap_from_alpha

    root, out = Path(fg_root), Path(out_dir)
    if not (root / "fg").is_dir() or not (root / "alpha").is_dir():
        raise InputError(f"{str(root)!r} must hold fg/ and alpha/ folders with matching file names")
    stems = sorted(p.name for p in (root / "alpha").iterdir() if p.suffix.lower() in BACKGROUND_SUFFIXES)
    if not stems:
        raise InputError(f"{str(root / 'alpha')!r} holds no images")
    photos = [Path(p) for p in backgrounds] if backgrounds is not None else split_backgrounds()[1]
    if n_backgrounds < 1 or n_backgrounds > len(photos):
        raise InputError(f"n_backgrounds must be between 1 and {len(photos)} (the photos available), "
                         f"not {n_backgrounds}")
    _make_dirs(out)
    rng = np.random.default_rng(seed)
    written = []
    for name in stems:
        alpha = _quantise(read_alpha(root / "alpha" / name))
        fg_path = root / "fg" / name
        if not fg_path.exists():
            raise InputError(f"{str(fg_path)!r} is missing; fg/ and alpha/ need the same file names")
        fg = _quantise(read_image(fg_path))
        if fg.shape[:2] != alpha.shape:
            raise InputError(f"{name}: fg and alpha sizes differ ({fg.shape[:2]} vs {alpha.shape})")
        k = int(rng.integers(trimap_sizes[0], trimap_sizes[1] + 1))
        trimap = trimap_from_alpha(alpha, k, k)
        for j, index in enumerate(rng.choice(len(photos), n_backgrounds, replace=False)):
            bg = _quantise(fit_background(read_background(photos[index]), *alpha.shape))
            out_name = f"{Path(name).stem}_{j}.png"
            _write_entry(out, out_name, fg, alpha, bg, trimap)
            written.append(out / "image" / out_name)
    return written


def test_set_spec(n_foregrounds: int = 50, n_backgrounds: int = 4, size: int = 512,
                  seed: int = TEST_SET_SEED) -> dict:
    """What identifies a synthetic test set (stored in its ``manifest.json``)."""
    return {"version": TEST_SET_VERSION, "n_foregrounds": int(n_foregrounds),
            "n_backgrounds": int(n_backgrounds), "size": int(size), "seed": int(seed)}


def make_test_set(out_dir: str | os.PathLike, n_foregrounds: int = 50, n_backgrounds: int = 4,
                  size: int = 512, seed: int = TEST_SET_SEED,
                  backgrounds_root: str | os.PathLike | None = None, progress: bool = False) -> Path:
    """Write the fixed synthetic test set: ``n_foregrounds`` x ``n_backgrounds`` composites.

    Foreground ``i`` is procedural, of kind ``KINDS[i % 6]``, from a seed derived from
    ``seed`` and ``i`` (disjoint from training seeds); its backgrounds are ``n_backgrounds``
    distinct *validation* photos; its trimap dilates the fractional region by a seeded kernel
    size in 11..25. Layout as alphamatting-dev: ``image/``, ``alpha/``, ``trimap/`` (plus
    ``fg/``, ``bg/``), names ``<iii>_<j>.png``, and ``manifest.json``. The files are
    bit-for-bit the same on every run with the same photos.
    """
    from .augment import trimap_from_alpha
    from .procedural import KINDS, generate_foreground
    from .procedural.textures import PhotoTextures

    out = Path(out_dir)
    train, validation = split_backgrounds(backgrounds_root)
    if len(validation) < n_backgrounds:
        raise InputError(f"only {len(validation)} validation backgrounds; ask for at most that many")
    textures = PhotoTextures(train)
    root = backgrounds_dir(backgrounds_root)
    _make_dirs(out)
    entries = []
    indices = range(n_foregrounds)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="test set", unit="fg")
    for i in indices:
        sequence = np.random.SeedSequence([0x7E57, int(seed), i])
        fg_seed = int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))
        rng = np.random.default_rng(sequence)
        kind = KINDS[i % len(KINDS)]
        fg, alpha = generate_foreground(fg_seed, size, kind, textures)
        fg, alpha = _quantise(fg), _quantise(alpha)
        k = int(rng.integers(11, 26))
        trimap = trimap_from_alpha(alpha, k, k)
        chosen = rng.choice(len(validation), n_backgrounds, replace=False)
        for j, index in enumerate(chosen):
            bg = _quantise(fit_background(read_background(validation[index]), size, size))
            name = f"{i:03d}_{j}.png"
            _write_entry(out, name, fg, alpha, bg, trimap)
            entries.append({"name": name, "kind": kind, "fg_seed": fg_seed, "trimap_kernel": k,
                            "background": validation[index].relative_to(root).as_posix()})
    manifest = dict(test_set_spec(n_foregrounds, n_backgrounds, size, seed), entries=entries)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return out


def ensure_test_set(out_dir: str | os.PathLike, **spec) -> Path:
    """The synthetic test set in ``out_dir``, generated only if missing or made differently
    (its manifest does not match ``spec``, the arguments of :func:`make_test_set`)."""
    out = Path(out_dir)
    wanted = test_set_spec(**{k: v for k, v in spec.items() if k in ("n_foregrounds", "n_backgrounds", "size", "seed")})
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        current = {k: manifest.get(k) for k in wanted}
        complete = all((out / sub / e["name"]).exists() for e in manifest["entries"]
                       for sub in ("image", "alpha", "trimap"))
        if current == wanted and complete:
            return out
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return make_test_set(out, **spec)
