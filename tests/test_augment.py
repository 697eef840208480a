"""Augmentation recipes: morphology on hand-checkable masks, then each paper's pipeline
checked with statistics over seeded samples."""

from __future__ import annotations

import numpy as np
import pytest

from mattebox.data.augment import (
    BackgroundDefocus,
    CropOnUnknown,
    NoisyTrimap,
    RandomRotation,
    TrimapFromAlpha,
    dilate,
    erode,
    get_pipeline,
    list_pipelines,
    trimap_from_alpha,
)
from mattebox.errors import InputError

N = 200  # seeded samples per statistical check


def _edge_alpha(height=64, width=96, column=40):
    """Opaque left of ``column``, one fractional column, clear right of it."""
    alpha = np.zeros((height, width), np.float32)
    alpha[:, :column] = 1.0
    alpha[:, column] = 0.5
    return alpha


def _disc_sample(side=400, radius=120, soft=6.0, seed=0):
    yy, xx = np.mgrid[0:side, 0:side]
    distance = np.hypot(yy - side / 2, xx - side / 2)
    alpha = np.clip((radius - distance) / soft + 0.5, 0, 1).astype(np.float32)
    rng = np.random.default_rng(seed)
    fg = rng.random((side, side, 3)).astype(np.float32)
    bg = rng.random((300, 350, 3)).astype(np.float32)
    return {"fg": fg, "alpha": alpha, "bg": bg}


# Statistics run the recipes at a quarter of the papers' 320 px (crop ranges scale with the
# size: 320..720 becomes 80..180) so that 200 samples take a second.
SMALL = 80


def _run(name, count=N):
    pipeline = get_pipeline(name, SMALL)
    sample = _disc_sample(side=110, radius=35, soft=2.0)
    return [pipeline(dict(sample), np.random.default_rng(i)) for i in range(count)]


def _crop_range(pipeline):
    crop = [t for t in pipeline.transforms if isinstance(t, CropOnUnknown)][0]
    return crop.sizes


def test_recipes_use_the_papers_numbers_at_320():
    assert _crop_range(get_pipeline("dim")) == [320, 480, 640]
    assert _crop_range(get_pipeline("alphagan")) == (320, 720)
    assert _crop_range(get_pipeline("adamatting")) == (320, 800)
    assert _crop_range(get_pipeline("tcp")) == (320, 720)
    assert _crop_range(get_pipeline("alphagan", SMALL)) == (80, 180)
    rotation = [t for t in get_pipeline("alphagan").transforms if isinstance(t, RandomRotation)][0]
    assert rotation.std == 5.0
    rotation = [t for t in get_pipeline("adamatting").transforms if isinstance(t, RandomRotation)][0]
    assert rotation.limit == 45.0
    out = get_pipeline("alphagan")(_disc_sample(side=400, radius=120), np.random.default_rng(0))
    assert out["image"].shape == (320, 320, 3) and 320 <= out["meta"]["crop"][2] <= 720


def test_erode_and_dilate_a_square_by_half_the_kernel():
    mask = np.zeros((41, 41), bool)
    mask[10:31, 10:31] = True  # 21 x 21
    for size, removed in ((1, 0), (2, 1), (3, 1), (5, 2), (10, 5), (11, 5)):
        side = 21 - 2 * removed
        assert erode(mask, size).sum() == side * side, size
        assert dilate(mask, size)[20, 10 - removed] and not dilate(mask, size)[20, 9 - removed]


def test_erosion_keeps_regions_that_touch_the_border():
    mask = np.zeros((20, 20), bool)
    mask[:, :8] = True
    eroded = erode(mask, 5)
    assert eroded[:, :6].all() and not eroded[:, 6:].any()


def test_trimap_band_is_the_fractional_column_dilated():
    alpha = _edge_alpha()
    assert np.array_equal(np.unique(trimap_from_alpha(alpha, 1)), [0.0, 0.5, 1.0])
    for k in (1, 2, 7, 20):
        trimap = trimap_from_alpha(alpha, k)
        unknown = np.flatnonzero(trimap[10] == 0.5)
        assert list(unknown) == list(range(40 - k // 2, 40 + k // 2 + 1)), k
    trimap = trimap_from_alpha(alpha, 9, 3)  # foreground eroded by 4, background by 1
    assert list(np.flatnonzero(trimap[0] == 0.5)) == list(range(36, 42))


def test_trimap_transform_band_width_covers_the_kernel_range():
    transform = TrimapFromAlpha((2, 20), "dilate")
    widths, kernels = [], []
    for i in range(N):
        out = transform({"alpha": _edge_alpha(), "meta": {}}, np.random.default_rng(i))
        k, k_bg = out["meta"]["trimap_kernels"]
        assert k == k_bg
        width = int(np.sum(out["trimap"][0] == 0.5))
        assert width == 2 * (k // 2) + 1
        widths.append(width)
        kernels.append(k)
    assert min(kernels) == 2 and max(kernels) == 20
    assert min(widths) == 3 and max(widths) == 21


def test_registry_and_errors():
    assert list_pipelines() == ["adamatting", "alphagan", "dim", "dim_defocus", "semantic_guided", "tcp"]
    with pytest.raises(InputError, match="choose from"):
        get_pipeline("nope")
    with pytest.raises(InputError, match="missing"):
        get_pipeline("dim")({"fg": np.zeros((8, 8, 3)), "alpha": np.zeros((8, 8))}, np.random.default_rng(0))
    with pytest.raises(InputError, match="same size"):
        get_pipeline("dim")({"fg": np.zeros((8, 8, 3)), "alpha": np.zeros((9, 8)), "bg": np.zeros((8, 8, 3))},
                            np.random.default_rng(0))


@pytest.mark.parametrize("name", ["dim", "dim_defocus", "alphagan", "adamatting", "tcp", "semantic_guided"])
def test_outputs_shape_dtype_range_and_composite(name):
    extra = {"tcp": {"trimap_noisy"}, "semantic_guided": {"soft_seg", "trimap_gt"}}.get(name, set())
    sample = _disc_sample(side=200, radius=60)
    pipeline = get_pipeline(name, 96)
    before = {k: v.copy() for k, v in sample.items()}
    a = pipeline(dict(sample), np.random.default_rng(5))
    b = pipeline(dict(sample), np.random.default_rng(5))
    assert all(np.array_equal(sample[k], before[k]) for k in sample)  # inputs untouched
    assert set(a) == {"image", "alpha", "trimap", "fg", "bg", "meta"} | extra
    for key, value in a.items():
        if key == "meta":
            continue
        assert np.array_equal(value, b[key])  # same rng seed, same sample
        assert value.dtype == np.float32 and value.shape[:2] == (96, 96)
        assert value.min() >= 0 and value.max() <= 1
    for key in {"trimap", "trimap_noisy", "trimap_gt"} & set(a):
        assert set(np.unique(a[key])) <= {0.0, 0.5, 1.0}
    expected = a["alpha"][..., None] * a["fg"] + (1 - a["alpha"][..., None]) * a["bg"]
    assert np.allclose(a["image"], expected, atol=1e-6)
    # known trimap regions hold the right alpha
    assert np.all(a["alpha"][a["trimap"] == 1] >= 0.999) and np.all(a["alpha"][a["trimap"] == 0] <= 0.001)


def test_alphagan_recipe_statistics():
    samples = _run("alphagan")
    angles = np.array([s["meta"]["angle"] for s in samples])
    assert abs(angles.mean()) < 1.0
    assert 4.4 < angles.std() < 5.6  # rotation ~ N(0, 5 deg)
    crops = np.array([s["meta"]["crop"][2] for s in samples])
    assert crops.min() >= 80 and crops.max() <= 180  # 320..720 at a quarter size
    assert crops.min() < 85 and crops.max() > 175  # the whole range is used
    kernels = np.array([s["meta"]["trimap_kernels"][0] for s in samples])
    assert kernels.min() >= 2 and kernels.max() <= 20
    flips = np.mean([s["meta"]["flip"] for s in samples])
    assert 0.4 < flips < 0.6
    assert all(s["image"].shape == (SMALL, SMALL, 3) for s in samples)


def test_dim_recipe_uses_three_crop_sizes_and_no_rotation():
    samples = _run("dim", count=60)
    crops = {s["meta"]["crop"][2] for s in samples}
    assert crops == {80, 120, 160}  # 320, 480, 640 at a quarter size
    assert all("angle" not in s["meta"] for s in samples)


def test_dim_defocus_blurs_the_background_of_about_half_the_samples():
    samples = _run("dim_defocus", count=80)
    sigmas = np.array([s["meta"]["bg_sigma"] for s in samples])
    blurred = sigmas > 0
    assert 0.35 < blurred.mean() < 0.65
    assert sigmas[blurred].min() >= 1.0 and sigmas[blurred].max() <= 6.0
    assert {s["meta"]["crop"][2] for s in samples} == {80, 120, 160}  # DIM's crops otherwise

    def roughness(bg):
        return float(np.mean(np.abs(np.diff(bg, axis=1))))

    sharp = np.median([roughness(s["bg"]) for s, b in zip(samples, blurred) if not b])
    soft = np.median([roughness(s["bg"]) for s, b in zip(samples, blurred) if b])
    assert soft < 0.6 * sharp
    with pytest.raises(ValueError):
        BackgroundDefocus(p=1.5)


def test_adamatting_recipe_statistics():
    samples = _run("adamatting")
    angles = np.array([s["meta"]["angle"] for s in samples])
    assert np.abs(angles).max() <= 45 and np.abs(angles).max() > 40
    assert 23 < angles.std() < 29  # uniform on [-45, 45]: std 26
    scales = np.array([s["meta"]["resize"] for s in samples])
    assert scales.min() >= 0.75 and scales.max() <= 1.5
    crops = np.array([s["meta"]["crop"][2] for s in samples])
    assert crops.min() >= 80 and crops.max() <= 200 and crops.max() > 190  # 320..800 at 1/4
    kernels = np.array([s["meta"]["trimap_kernels"] for s in samples])
    assert np.any(kernels[:, 0] != kernels[:, 1])  # foreground and background drawn apart


def test_tcp_recipe_statistics():
    samples = _run("tcp", count=120)
    for s in samples:
        k = s["meta"]["trimap_kernels"][0]
        assert 1 <= k <= 30
        # the semantic-path trimap is the exact trimap eroded by k: known regions are right
        alpha, trimap = s["alpha"], s["trimap"]
        assert np.all(alpha[trimap == 1] >= 0.999) and np.all(alpha[trimap == 0] <= 0.001)
        assert np.array_equal(trimap, trimap_from_alpha(alpha, k, k))
        steps = s["meta"]["noisy_steps"]
        assert len(steps) <= 3
        for op, iterations, size in steps:
            assert 0 <= iterations <= 3
            assert (1 <= size <= 30) if op == "dilate" else (1 <= size <= 10)
    changed = [not np.array_equal(s["trimap"], s["trimap_noisy"]) for s in samples]
    assert 0.3 < np.mean(changed) < 0.95  # n or p is 0 in the rest


def test_noisy_trimap_dilation_and_erosion():
    trimap = trimap_from_alpha(_edge_alpha(), 5)  # unknown columns 38..42
    sample = {"trimap": trimap, "alpha": _edge_alpha(), "meta": {}}

    class Fixed:
        def __init__(self, values):
            self.values = list(values)

        def integers(self, lo, hi=None):
            return self.values.pop(0)

        def random(self):
            return self.values.pop(0)

    grow = NoisyTrimap()(dict(sample), Fixed([1, 0.1, 2, 4]))  # 1 step: dilate, p=2, size 4
    assert list(np.flatnonzero(grow["trimap_noisy"][0] == 0.5)) == list(range(34, 47))
    shrink = NoisyTrimap()(dict(sample), Fixed([1, 0.9, 1, 3]))  # erode, p=1, size 3
    row = shrink["trimap_noisy"][0]
    assert list(np.flatnonzero(row == 0.5)) == list(range(39, 42))
    assert row[38] == 1.0 and row[42] == 0.0


def test_semantic_guided_recipe_statistics():
    samples = _run("semantic_guided", count=100)
    for s in samples:
        k_fg, k_bg = s["meta"]["trimap_kernels"]
        k_erode, k_dilate = s["meta"]["seg_kernels"]
        assert 1 <= k_fg <= 29 and 1 <= k_bg <= 29
        assert 1 <= k_erode <= 59 and 1 <= k_dilate <= 59
        assert s["meta"]["blur"] % 2 == 1 and 3 <= s["meta"]["blur"] <= 31
        assert np.array_equal(s["trimap_gt"], trimap_from_alpha(s["alpha"], 15, 15))
        assert np.array_equal(s["trimap"], trimap_from_alpha(s["alpha"], k_fg, k_bg))
    soft = np.concatenate([s["soft_seg"].ravel() for s in samples])
    assert soft.min() >= 0 and soft.max() <= 1 and np.mean((soft > 0.01) & (soft < 0.99)) > 0.01


def test_rotation_and_crop_building_blocks():
    sample = _disc_sample(side=100, radius=30)
    with pytest.raises(ValueError):
        RandomRotation()
    rotated = RandomRotation(limit=90)({**sample, "meta": {}}, np.random.default_rng(0))
    assert abs(rotated["alpha"].sum() - sample["alpha"].sum()) < 0.01 * sample["alpha"].sum()
    crop = CropOnUnknown((150, 150), 64)({**sample, "meta": {}}, np.random.default_rng(0))
    assert crop["alpha"].shape == (64, 64) and crop["fg"].shape == (64, 64, 3)
    assert crop["meta"]["crop"] == (0, 0, 150)  # padded: a 150 crop of a 100 image
