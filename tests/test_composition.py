"""Composition: the compositing equation, background fitting, the background split, the
synthetic test set, Composition-1k folders and the training datasets."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from mattebox.data.composition import (
    backgrounds_dir,
    compose_dataset,
    composite,
    ensure_test_set,
    fit_background,
    make_test_set,
    split_backgrounds,
)
from mattebox.errors import InputError


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """A small stand-in for the shared backgrounds: coco/ and bsds500/ with 40 photos."""
    root = tmp_path_factory.mktemp("backgrounds")
    rng = np.random.default_rng(0)
    for sub, count, shape in (("coco", 24, (60, 80, 3)), ("bsds500", 16, (48, 72, 3))):
        (root / sub).mkdir()
        for i in range(count):
            smooth = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), shape[1::-1],
                                interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(root / sub / f"{sub}{i:03d}.jpg"), smooth)
    return root


def test_composite_is_the_compositing_equation():
    fg = np.array([[[1.0, 0.5, 0.0], [0.2, 0.2, 0.2]]])
    bg = np.array([[[0.0, 0.5, 1.0], [0.8, 0.6, 0.4]]])
    alpha = np.array([[0.25, 1.0]])
    image = composite(fg, alpha, bg)
    assert np.allclose(image[0, 0], [0.25, 0.5, 0.75])
    assert np.allclose(image[0, 1], fg[0, 1])
    rng = np.random.default_rng(1)
    fg, bg, alpha = rng.random((5, 6, 3)), rng.random((5, 6, 3)), rng.random((5, 6))
    assert np.array_equal(composite(fg, alpha, bg), alpha[..., None] * fg + (1 - alpha[..., None]) * bg)


def test_composite_rejects_mismatched_sizes():
    with pytest.raises(InputError, match="fit the background"):
        composite(np.zeros((4, 4, 3)), np.zeros((4, 4)), np.zeros((5, 4, 3)))


def test_fit_background_small_photo_is_scaled_to_cover_then_cropped_top_left():
    rng = np.random.default_rng(2)
    bg = rng.random((40, 50, 3)).astype(np.float32)
    out = fit_background(bg, 100, 90)
    assert out.shape == (100, 90, 3)
    ratio = max(100 / 40, 90 / 50)  # 2.5: the height must be covered
    expected = cv2.resize(bg, (int(np.ceil(50 * ratio)), int(np.ceil(40 * ratio))),
                          interpolation=cv2.INTER_CUBIC)[:100, :90]
    assert np.allclose(out, np.clip(expected, 0, 1))


def test_fit_background_large_photo_is_only_cropped():
    bg = np.random.default_rng(3).random((200, 300, 3))
    assert np.array_equal(fit_background(bg, 100, 120), bg[:100, :120])
    out = fit_background(bg, 100, 120, rng=np.random.default_rng(4))
    # a random window of the unscaled photo
    found = [(y, x) for y in range(101) for x in range(181) if np.array_equal(bg[y:y + 100, x:x + 120], out)]
    assert len(found) == 1


def test_split_is_deterministic_disjoint_and_stable(photo_dir, tmp_path):
    train, validation = split_backgrounds(photo_dir)
    assert (train, validation) == split_backgrounds(photo_dir)
    assert not set(train) & set(validation)
    assert len(train) + len(validation) == 40
    assert 1 <= len(validation) <= 12
    # removing a training photo does not move any other photo between the splits
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(photo_dir, copy)
    (copy / train[0].relative_to(photo_dir)).unlink()
    train2, validation2 = split_backgrounds(copy)
    assert [p.relative_to(copy) for p in validation2] == [p.relative_to(photo_dir) for p in validation]
    assert len(train2) == len(train) - 1


def test_backgrounds_dir_override_and_missing(photo_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MATTEBOX_BACKGROUNDS", str(photo_dir))
    assert backgrounds_dir() == photo_dir
    with pytest.raises(InputError, match="MATTEBOX_BACKGROUNDS"):
        backgrounds_dir(tmp_path / "nowhere")


def test_shared_backgrounds_split_uses_both_sources(dev_set):
    shared = dev_set.parent / "backgrounds"
    if not shared.is_dir():
        pytest.skip("shared backgrounds not found")
    train, validation = split_backgrounds(shared)
    for split in (train, validation):
        assert {p.parent.name for p in split} == {"coco", "bsds500"}
    assert 0.05 < len(validation) / (len(train) + len(validation)) < 0.15


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_test_set_is_deterministic_and_consistent(photo_dir, tmp_path):
    from mattebox.io import read_alpha, read_image, read_trimap

    kwargs = dict(n_foregrounds=2, n_backgrounds=2, size=64, backgrounds_root=photo_dir)
    first = make_test_set(tmp_path / "a", **kwargs)
    second = make_test_set(tmp_path / "b", **kwargs)
    files = _files(first)
    assert files == _files(second)  # bit for bit
    for sub in ("image", "alpha", "trimap", "fg", "bg"):
        assert sorted(n for n in files if n.startswith(sub + "/")) == [
            f"{sub}/000_0.png", f"{sub}/000_1.png", f"{sub}/001_0.png", f"{sub}/001_1.png"]
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["size"] == 64 and len(manifest["entries"]) == 4
    _, validation = split_backgrounds(photo_dir)
    names = {p.relative_to(photo_dir).as_posix() for p in validation}
    assert all(e["background"] in names for e in manifest["entries"])  # validation photos only
    name = "001_1.png"
    image, alpha = read_image(first / "image" / name), read_alpha(first / "alpha" / name)
    fg, bg = read_image(first / "fg" / name), read_image(first / "bg" / name)
    assert np.abs(composite(fg, alpha, bg) - image).max() <= 0.5 / 255 + 1e-9
    trimap = read_trimap(first / "trimap" / name)
    assert set(np.unique(trimap)) <= {0.0, 0.5, 1.0}
    assert np.all(alpha[trimap == 1] == 1) and np.all(alpha[trimap == 0] == 0)
    assert np.all(trimap[(alpha > 0) & (alpha < 1)] == 0.5)


def test_ensure_test_set_regenerates_only_when_needed(photo_dir, tmp_path):
    kwargs = dict(n_foregrounds=1, n_backgrounds=1, size=48, backgrounds_root=photo_dir)
    out = ensure_test_set(tmp_path / "t", **kwargs)
    stamp = (out / "image" / "000_0.png").stat().st_mtime_ns
    ensure_test_set(out, **kwargs)
    assert (out / "image" / "000_0.png").stat().st_mtime_ns == stamp
    (out / "alpha" / "000_0.png").unlink()
    ensure_test_set(out, **kwargs)
    assert (out / "alpha" / "000_0.png").exists()


def test_compose_dataset_follows_composition_1k(photo_dir, tmp_path):
    from mattebox.data.procedural import write_foregrounds
    from mattebox.io import read_image

    write_foregrounds(tmp_path / "fgs", 2, 56, seed=1)
    photos = split_backgrounds(photo_dir)[0][:5]
    paths = compose_dataset(tmp_path / "fgs", tmp_path / "out", 3, photos, seed=0)
    assert len(paths) == 6
    bgs = [read_image(tmp_path / "out" / "bg" / f"00000_{j}.png") for j in range(3)]
    assert len({b.tobytes() for b in bgs}) == 3  # three different photos
    with pytest.raises(InputError, match="n_backgrounds"):
        compose_dataset(tmp_path / "fgs", tmp_path / "out2", 6, photos)


def test_procedural_dataset_is_deterministic_per_epoch(photo_dir):
    from mattebox.data.datasets import ProceduralMattingDataset

    photos = split_backgrounds(photo_dir)[0]
    ds = ProceduralMattingDataset(4, "dim", size=48, fg_size=96, seed=3, backgrounds=photos, reuse=2)
    a, b = ds[1], ds[1]
    assert set(a) == {"image", "alpha", "trimap", "fg", "bg"}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a["image"].shape == (48, 48, 3) and a["image"].dtype == np.float32
    ds.set_epoch(1)
    assert not np.array_equal(ds[1]["alpha"], a["alpha"])
    with pytest.raises(IndexError):
        ds[4]
