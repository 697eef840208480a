"""Shared matting (``sm``): accuracy on synthetic composites, the paper's mechanics on cases
small enough to check by hand, edge cases and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import make_composite
from mattebox.errors import InputError
from mattebox.registry import get_method
from mattebox.solvers import shared_sampling as sm
from mattebox.solvers._sampling import (
    BACKGROUND,
    FOREGROUND,
    UNKNOWN,
    chessboard_distance,
    distortion_sq,
    expand_known_regions,
    joined_spans,
    label_spans,
    nearest_of_both_classes,
    nearest_of_class,
    project_alpha,
    tiled_spans,
    trimap_labels,
)
from mattebox.solvers.shared_sampling import estimate_alpha_sm


def two_tone(height: int, width: int, split: int, band: tuple[int, int], mix: float = 0.3):
    """Black left of ``split``, white right of it, a column of grey ``mix`` at ``split`` and
    the columns ``band`` unknown."""
    image = np.zeros((height, width, 3))
    image[:, split + 1 :] = 1.0
    image[:, split] = mix
    trimap = np.zeros((height, width))
    trimap[:, split:] = 1.0
    trimap[:, band[0] : band[1]] = 0.5
    return image, trimap


# --- accuracy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_known_alpha_of_a_synthetic_composite(seed):
    image, alpha, _, _, trimap = make_composite(48, 64, seed)
    unknown = trimap == 0.5
    error = np.abs(estimate_alpha_sm(image, trimap) - alpha)[unknown]
    # Measured: mean 0.013, max 0.10-0.14; a flat 0.5 would be off by 0.34 on average.
    assert error.mean() < 0.025
    assert error.max() < 0.25


def test_foreground_and_background_close_to_truth_where_alpha_is_fractional():
    image, alpha, fg, bg, trimap = make_composite(48, 64, 0)
    est_alpha, est_fg, est_bg = estimate_alpha_sm(image, trimap, return_foreground_background=True)
    mixed = (trimap == 0.5) & (alpha > 0.1) & (alpha < 0.9)
    assert mixed.sum() > 300
    # Measured: 0.026 (F) and 0.013 (B); the composite itself is 0.2 (F) and 0.3 (B) away.
    assert np.abs(est_fg - fg)[mixed].mean() < 0.05
    assert np.abs(est_bg - bg)[mixed].mean() < 0.05
    assert np.abs(image - fg)[mixed].mean() > 0.15
    assert est_fg.shape == est_bg.shape == image.shape


@pytest.mark.parametrize("seed", [0, 1])
def test_laplacian_refinement_lowers_the_error_and_keeps_known_pixels(seed):
    image, alpha, _, _, trimap = make_composite(48, 64, seed)
    unknown = trimap == 0.5
    plain = estimate_alpha_sm(image, trimap)
    refined, fg, bg = estimate_alpha_sm(image, trimap, refine="laplacian",
                                        return_foreground_background=True)
    # Measured: mean error 0.0104 -> 0.0081-0.0083 (seeds 0, 1), max 0.062.
    assert np.abs(refined - alpha)[unknown].mean() < 0.9 * np.abs(plain - alpha)[unknown].mean()
    assert np.abs(refined - alpha)[unknown].max() < 0.15
    np.testing.assert_array_equal(refined[~unknown], trimap[~unknown])
    # F and B are estimated for the refined matte: they composite back to the image
    # (measured 0.0006 on average).
    recomposed = refined[..., None] * fg + (1 - refined[..., None]) * bg
    assert np.abs(recomposed - image).mean() < 0.005
    np.testing.assert_array_equal(refined, estimate_alpha_sm(image, trimap, refine="laplacian"))


def test_laplacian_refinement_weighs_stage_4_by_its_confidence_with_gamma(monkeypatch):
    """Section 5: gamma = 0 leaves the matting Laplacian alone (closed-form matting on the
    labels after the expansion); a huge gamma keeps stage 4's alpha wherever it is confident."""
    from mattebox.solvers.closed_form import estimate_alpha_cf

    image, _, _, _, trimap = make_composite(40, 48, 0)
    details = {}
    options = {k: v for k, v in sm._checked_options().items() if k != "refine"}
    plain = sm._solve(image, trimap, layers=False, details=details, **options)[0]
    labels = details["labels"]
    expanded = np.where(labels == sm.FOREGROUND, 1.0, np.where(labels == sm.BACKGROUND, 0.0, 0.5))
    assert (expanded != 0.5).sum() > (trimap != 0.5).sum()  # the expansion labelled some pixels
    monkeypatch.setattr(sm, "REFINE_GAMMA", 0.0)
    np.testing.assert_allclose(estimate_alpha_sm(image, trimap, refine="laplacian"),
                               estimate_alpha_cf(image, expanded), atol=1e-4)
    monkeypatch.setattr(sm, "REFINE_GAMMA", 1e8)
    sure = (labels == sm.UNKNOWN) & (details["confidence"] > 0.1)
    assert sure.sum() > 100
    refined = estimate_alpha_sm(image, trimap, refine="laplacian")
    np.testing.assert_allclose(refined[sure], plain[sure], atol=1e-3)


@pytest.mark.parametrize("labels", [(0.5,), (1.0, 0.5), (0.0, 0.5), (0.0, 1.0)])
def test_laplacian_refinement_leaves_degenerate_trimaps_to_sm(labels):
    rng = np.random.default_rng(1)
    image = rng.random((10, 12, 3))
    trimap = rng.choice(labels, (10, 12))
    np.testing.assert_array_equal(estimate_alpha_sm(image, trimap, refine="laplacian"),
                                  estimate_alpha_sm(image, trimap))


def test_one_pixel_band_takes_the_mix_of_its_neighbours():
    # Grey 0.5 between black and white. The 5 x 5 windows around the samples straddle the
    # edge (colour variance 3 x 0.16 = 0.48), but grey is 0.75 from either: no replacement.
    image, trimap = two_tone(9, 12, 6, (6, 7), mix=0.5)
    alpha = estimate_alpha_sm(image, trimap)
    np.testing.assert_allclose(alpha[:, 6], 0.5, atol=1e-6)
    np.testing.assert_array_equal(alpha[:, :6], 0.0)
    np.testing.assert_array_equal(alpha[:, 7:], 1.0)


def test_refinement_takes_c_p_when_it_lies_within_a_samples_colour_spread():
    # Section 3.3: B^g = C_p when ||C_p - B^||^2 <= sigma_b^2. Grey 0.3 is 3 x 0.09 = 0.27 from
    # black, inside the spread of the black sample's window (3 x 0.150 = 0.45), so the pixel
    # is explained as background: alpha 0 (a plain projection would give 0.3).
    image, trimap = two_tone(9, 12, 6, (6, 7), mix=0.3)
    np.testing.assert_allclose(estimate_alpha_sm(image, trimap)[:, 6], 0.0, atol=1e-6)


def test_wide_band_between_flat_colours():
    # The expansion (k_i = 10) labels the flat black and white parts of the band; the grey
    # column between them is the only pixel left to solve.
    image, trimap = two_tone(16, 30, 15, (5, 25), mix=0.5)
    labels = expand_known_regions(image, trimap_labels(trimap), 10, 5 / 256)
    assert (labels == UNKNOWN).sum() == 16 and (labels[:, 15] == UNKNOWN).all()
    alpha = estimate_alpha_sm(image, trimap)
    np.testing.assert_array_equal(alpha[:, :15], 0.0)
    np.testing.assert_array_equal(alpha[:, 16:], 1.0)
    np.testing.assert_allclose(alpha[:, 15], 0.5, atol=1e-6)


# --- edge cases ------------------------------------------------------------------------------


def test_no_unknown_pixels_returns_the_trimap():
    image, _, _, _, trimap = make_composite(20, 24, 0)
    known = np.where(trimap == 0.5, 1.0, trimap)
    alpha, fg, bg = estimate_alpha_sm(image, known, return_foreground_background=True)
    np.testing.assert_array_equal(alpha, known)
    np.testing.assert_array_equal(fg[known == 1], image[known == 1])
    np.testing.assert_array_equal(bg[known == 0], image[known == 0])


@pytest.mark.parametrize("shape", [(3, 3), (1, 7), (7, 1), (2, 2)])
def test_tiny_images(shape):
    height, width = shape
    image = np.zeros((height, width, 3))
    trimap = np.full(shape, 0.5)
    trimap.flat[0], trimap.flat[-1] = 0.0, 1.0
    image.reshape(-1, 3)[-1] = 1.0
    image.reshape(-1, 3)[1:-1] = 0.5
    alpha = estimate_alpha_sm(image, trimap)
    assert alpha.shape == shape
    assert alpha.flat[0] == 0.0 and alpha.flat[-1] == 1.0
    np.testing.assert_allclose(alpha.ravel()[1:-1], 0.5, atol=1e-6)


def test_unknown_region_that_rays_cannot_connect_to_the_foreground():
    # Blue background, a single red foreground pixel in a corner, an unknown block that is
    # red on its left half and blue on its right half. Most rays miss the lone red pixel, so
    # pixels fall back on the nearest foreground pixel; red must still come out opaque.
    image = np.zeros((40, 40, 3))
    image[..., 2] = 1.0
    image[0, 0] = (1.0, 0.0, 0.0)
    image[15:25, 15:20] = (1.0, 0.0, 0.0)
    trimap = np.zeros((40, 40))
    trimap[0, 0] = 1.0
    trimap[15:25, 15:25] = 0.5
    alpha = estimate_alpha_sm(image, trimap)
    np.testing.assert_allclose(alpha[15:25, 15:20], 1.0, atol=0.02)
    np.testing.assert_allclose(alpha[15:25, 20:25], 0.0, atol=0.02)


@pytest.mark.parametrize("present, expected", [(0.0, 0.0), (1.0, 1.0)])
def test_trimap_with_a_single_known_class(present, expected):
    image = np.random.default_rng(0).random((10, 12, 3))
    trimap = np.full((10, 12), 0.5)
    trimap[:, :3] = present
    alpha, fg, bg = estimate_alpha_sm(image, trimap, return_foreground_background=True)
    np.testing.assert_array_equal(alpha[:, 3:], expected)
    assert np.isfinite(fg).all() and np.isfinite(bg).all()


def test_trimap_without_known_pixels_gives_one_half():
    alpha = estimate_alpha_sm(np.zeros((5, 6, 3)), np.full((5, 6), 0.5))
    np.testing.assert_array_equal(alpha, 0.5)


def test_bad_input_says_what_is_wrong():
    image, _, _, _, trimap = make_composite(20, 24, 0)
    with pytest.raises(InputError, match="same size"):
        estimate_alpha_sm(image, trimap[:10])
    with pytest.raises(InputError, match="rays"):
        estimate_alpha_sm(image, trimap, rays=0)
    with pytest.raises(InputError, match="exponents"):
        estimate_alpha_sm(image, trimap, exponents=(3.0, 2.0, 1.0))
    with pytest.raises(InputError, match="unknown option"):
        get_method("sm").fn(image, trimap, radius=3)
    for refine in ("cf", None, 1):
        with pytest.raises(InputError, match="refine must be one of none, laplacian"):
            estimate_alpha_sm(image, trimap, refine=refine)


@pytest.mark.parametrize("exponents", [3, "abcd", (1, 2, "a", 3), (1, 2, math.nan, 3),
                                       (True, 2, 1, 4), None])
def test_exponents_that_are_not_four_numbers_are_refused_quoting_them(exponents):
    image, _, _, _, trimap = make_composite(20, 24, 0)
    with pytest.raises(InputError, match=r"exponents must be four finite numbers >= 0") as error:
        estimate_alpha_sm(image, trimap, exponents=exponents)
    assert str(error.value).endswith(f"not {exponents!r}")


def test_exponents_may_be_any_sequence_of_four_numbers():
    image, _, _, _, trimap = make_composite(20, 24, 0)
    np.testing.assert_array_equal(estimate_alpha_sm(image, trimap, exponents=np.array([3, 2, 1, 4])),
                                  estimate_alpha_sm(image, trimap))


@pytest.mark.parametrize("name,value", [
    ("expansion_radius", 1e9), ("expansion_radius", sm.MAX_RADIUS + 1),
    ("refinement_radius", 10**9), ("refinement_radius", sm.MAX_RADIUS + 1),
    ("smoothing_window", 1e12), ("smoothing_window", 1773),
    ("refinement_radius", 2.5), ("smoothing_window", 0), ("expansion_radius", -1),
    ("confidence_lambda", -1), ("expansion_threshold", -0.1),
])
def test_radii_and_other_options_out_of_range_are_refused(name, value):
    """1e9 and 1e12 once failed with numpy's "array is too big"."""
    image, _, _, _, trimap = make_composite(20, 24, 0)
    with pytest.raises(InputError, match=name):
        estimate_alpha_sm(image, trimap, **{name: value})
    with pytest.raises(InputError, match=name):
        get_method("sm").fn(image, trimap, **{name: value})


def test_radii_reaching_beyond_the_image_are_cut_to_it(monkeypatch):
    """An expansion radius of 1e4 on 80 x 60 pixels once ran for minutes: the expansion's
    disk and the smoothing's kernel are now cut to what can pair two pixels of the image
    (with the same result: see the next test)."""
    image, trimap = two_tone(12, 16, 8, (5, 11))
    seen = []
    expand = sm.expand_known_regions
    monkeypatch.setattr(sm, "expand_known_regions",
                        lambda image, labels, radius, threshold: seen.append(radius)
                        or expand(image, labels, radius, threshold))
    estimate_alpha_sm(image, trimap, expansion_radius=sm.MAX_RADIUS,
                      refinement_radius=sm.MAX_RADIUS, smoothing_window=1772)
    assert seen == [math.hypot(12, 16)]
    offsets, weights = sm._smoothing_kernel(1772.0, 12, 16)
    assert np.abs(offsets[:, 0]).max() == 11 and np.abs(offsets[:, 1]).max() == 15
    whole, whole_weights = sm._smoothing_kernel(1772.0, 10**4, 10**4)
    inside = (np.abs(whole[:, 0]) < 12) & (np.abs(whole[:, 1]) < 16)
    np.testing.assert_array_equal(offsets, whole[inside])
    np.testing.assert_array_equal(weights, whole_weights[inside])


def test_a_radius_beyond_the_image_gives_the_result_of_one_that_just_covers_it():
    image, _, _, _, trimap = make_composite(20, 24, 0)
    covering = estimate_alpha_sm(image, trimap, expansion_radius=math.hypot(19, 23),
                                 expansion_threshold=0.1, refinement_radius=23)
    beyond = estimate_alpha_sm(image, trimap, expansion_radius=sm.MAX_RADIUS,
                               expansion_threshold=0.1, refinement_radius=sm.MAX_RADIUS)
    np.testing.assert_array_equal(covering, beyond)


# --- determinism and registry ----------------------------------------------------------------


@pytest.mark.parametrize("case", ["band", "mostly unknown", "lone foreground pixel"])
def test_deterministic_across_calls_and_thread_counts(case):
    import numba

    image, alpha, _, _, trimap = make_composite(48, 64, 3)
    if case == "mostly unknown":  # nearest-pixel maps built before gathering
        trimap = np.full(alpha.shape, 0.5)
        trimap[20:26, 28:34], trimap[:4, :4] = 1.0, 0.0
    elif case == "lone foreground pixel":  # a second gathering pass for the rays that miss it
        trimap = np.where(alpha > 0, 0.5, 0.0)
        trimap[24, 32] = 1.0
    first = estimate_alpha_sm(image, trimap, return_foreground_background=True)
    second = estimate_alpha_sm(image, trimap, return_foreground_background=True)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = estimate_alpha_sm(image, trimap, return_foreground_background=True)
    finally:
        numba.set_num_threads(threads)
    for a, b, c in zip(first, second, single):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("parts", [1, 3, 7])
def test_work_cut_into_any_number_of_parts_gives_the_same_result(monkeypatch, parts):
    # Stages 1-4 cut their rows into as many parts as Numba has threads; the number of
    # parts, whatever the threads, must not change a pixel.
    image, alpha, _, _, trimap = make_composite(48, 64, 5)
    reference = estimate_alpha_sm(image, trimap, return_foreground_background=True)
    import mattebox.solvers._sampling as sampling

    monkeypatch.setattr(sm, "get_num_threads", lambda: parts)
    monkeypatch.setattr(sampling.numba, "get_num_threads", lambda: parts)
    cut = estimate_alpha_sm(image, trimap, return_foreground_background=True)
    for a, b in zip(reference, cut):
        np.testing.assert_array_equal(a, b)


def test_balanced_bounds_cut_contiguous_runs_of_nearly_equal_weight():
    from mattebox.solvers._sampling import balanced_bounds

    rng = np.random.default_rng(0)
    for n, parts in [(1, 1), (0, 2), (5, 8), (100, 2), (400, 3)]:
        weights = rng.random(n) * 10.0
        weights[: n // 3] *= 20.0  # uneven, as the rows of a band are
        bounds = balanced_bounds(weights, parts)
        assert bounds.shape == (parts + 1,) and bounds[0] == 0 and bounds[-1] == n
        assert np.all(np.diff(bounds) >= 0)
        if n >= 100:
            sums = [weights[bounds[i]:bounds[i + 1]].sum() for i in range(parts)]
            assert max(sums) - min(sums) <= 2 * weights.max()
    # The midpoint rule: one heavy unit between two light ones goes to the part holding its
    # middle.
    np.testing.assert_array_equal(balanced_bounds(np.array([1.0, 10.0, 3.0]), 2), [0, 2, 3])


def test_registered_as_sm_with_aliases_and_foreground():
    spec = get_method("sm")
    assert get_method("shared") is spec and get_method("shared-matting") is spec
    assert spec.needs == "trimap" and spec.provides_foreground
    image, _, fg, _, trimap = make_composite(24, 32, 0)
    alpha, est_fg = spec.fn(image, trimap, return_foreground=True)
    np.testing.assert_array_equal(alpha, estimate_alpha_sm(image, trimap))
    assert est_fg.shape == image.shape
    np.testing.assert_array_equal(spec.fn(image, trimap), alpha)


# --- the paper's mechanics -------------------------------------------------------------------


def test_projection_and_chromatic_distortion():
    # C halfway between F and B, then pushed off the line by 0.1 in the third channel.
    assert project_alpha(0.5, 0.5, 0.1, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0) == pytest.approx(0.5)
    assert distortion_sq(0.5, 0.5, 0.1, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0) == pytest.approx(0.01)
    # Beyond F: alpha clips to 1 and the distortion is the distance to F.
    assert project_alpha(2.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0) == 1.0
    assert distortion_sq(2.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0) == pytest.approx(1.0)


def test_expansion_of_known_regions_uses_k_i_and_k_c():
    # Section 3.1: k_i = 10 pixels, k_c = 5 / 256.
    image = np.zeros((1, 30, 3))
    labels = np.full((1, 30), UNKNOWN, dtype=np.uint8)
    labels[0, 0] = FOREGROUND
    image[0, 10, 0] = 4.9 / 256  # 10 pixels away, close colour: joins the foreground
    image[0, 11] = 0.0  # 11 pixels away: too far
    image[0, 5, 1] = 5.1 / 256  # near but too different
    image[0, 6:10] = 1.0
    image[0, 1:5] = 1.0
    expanded = expand_known_regions(image, labels, 10, 5 / 256)
    assert expanded[0, 10] == FOREGROUND
    assert expanded[0, 11] == UNKNOWN
    assert expanded[0, 5] == UNKNOWN
    np.testing.assert_array_equal(expand_known_regions(image, labels, 0, 0), labels)


def test_expansion_takes_the_nearest_qualifying_label():
    image = np.zeros((1, 9, 3))
    labels = np.full((1, 9), UNKNOWN, dtype=np.uint8)
    labels[0, 0], labels[0, 8] = BACKGROUND, FOREGROUND
    expanded = expand_known_regions(image, labels, 10, 5 / 256)
    assert list(expanded[0, 1:4]) == [BACKGROUND] * 3
    assert list(expanded[0, 5:8]) == [FOREGROUND] * 3
    assert expanded[0, 4] == BACKGROUND  # equidistant: the first offset in (dy, dx) order


def brute_force_expansion(image, labels, radius, threshold):
    """Section 3.1 pixel by pixel: the nearest known pixel within ``radius`` whose colour is
    within ``threshold``, ties to the smaller (dy, dx)."""
    out = labels.copy()
    height, width = labels.shape
    for y, x in zip(*np.nonzero(labels == UNKNOWN)):
        best = None
        for yy in range(height):
            for xx in range(width):
                d2 = (yy - y) ** 2 + (xx - x) ** 2
                if labels[yy, xx] == UNKNOWN or d2 > radius * radius:
                    continue
                if np.sum((image[yy, xx] - image[y, x]) ** 2) <= threshold**2:
                    key = (d2, yy - y, xx - x)
                    if best is None or key < best[0]:
                        best = (key, labels[yy, xx])
        if best is not None:
            out[y, x] = best[1]
    return out


@pytest.mark.parametrize("radius", [10.0, 6.5, 2.0])
def test_expansion_matches_brute_force(radius):
    # Blocky colours with a few distinct values, so that many pixels have several qualifying
    # known pixels at once (both of the kernel's search paths and its tie-breaking run).
    rng = np.random.default_rng(3)
    image = rng.integers(0, 4, size=(6, 8, 3)).repeat(5, axis=0).repeat(5, axis=1) / 3.0
    image[rng.random(image.shape[:2]) < 0.2] += 0.01
    labels = np.full(image.shape[:2], UNKNOWN, dtype=np.uint8)
    labels[:, :9], labels[:, -9:] = BACKGROUND, FOREGROUND
    labels[rng.random(labels.shape) < 0.05] = FOREGROUND
    expanded = expand_known_regions(image, labels, radius, 5 / 256)
    np.testing.assert_array_equal(expanded, brute_force_expansion(image, labels, radius, 5 / 256))
    assert (expanded != labels).sum() > 20


def test_transposed_difference_planes_are_those_of_the_transposed_image():
    planes = np.random.default_rng(4).random((3, 7, 11)).astype(np.float32)
    direct = sm._difference_planes(np.ascontiguousarray(planes.transpose(0, 2, 1)))
    np.testing.assert_array_equal(sm._transposed_differences(sm._difference_planes(planes)), direct)


def test_chessboard_distance_matches_brute_force():
    labels = (np.random.default_rng(1).random((13, 17)) < 0.08).astype(np.uint8)
    dist = chessboard_distance(labels, 1)
    ys, xs = np.nonzero(labels == 1)
    yy, xx = np.mgrid[0:13, 0:17]
    brute = np.min(np.maximum(np.abs(yy[..., None] - ys), np.abs(xx[..., None] - xs)), axis=-1)
    np.testing.assert_array_equal(dist, brute)


def test_rays_cover_nine_times_k_g_directions_one_pixel_per_major_step():
    lines = sm._ray_lines(4)
    assert lines.shape == (9, 4, 3)
    frame, sigma, kappa = lines[..., 0], lines[..., 1], lines[..., 2] / float(1 << 32)
    assert set(np.unique(sigma)) == {-1, 1} and np.abs(kappa).max() <= 1.0
    # Back to (dy, dx) per major step: the frame's major axis advances by sigma.
    dy = np.where(frame == 0, sigma, sigma * kappa)
    dx = np.where(frame == 0, sigma * kappa, sigma)
    angles = np.degrees(np.arctan2(dy, dx)) % 360
    expected = ((np.arange(4)[None, :] + np.arange(9)[:, None] / 9.0) * 90.0) % 360
    np.testing.assert_allclose(angles, expected, atol=1e-6)
    assert len(np.unique(np.round(angles, 6))) == 36  # rotated by 90 / 9 degrees per pixel


def ray_path(lines, rotation, r, y, x, height, width):
    """The pixels of ray r of window pixel ``rotation`` from (y, x), step 1 to the border,
    written out from the line definition of _ray_lines."""
    frame, sigma, slope = (int(v) for v in lines[rotation, r])
    line = lambda a: (a * slope + (1 << 31)) >> 32
    a0, b0 = (y, x) if frame == 0 else (x, y)
    path, i = [], 1
    while True:
        a = a0 + sigma * i
        b = b0 + line(a) - line(a0)
        qy, qx = (a, b) if frame == 0 else (b, a)
        if not (0 <= qy < height and 0 <= qx < width):
            return path
        path.append((qy, qx))
        i += 1


def test_every_ray_is_the_rest_of_one_digital_line():
    # Two pixels on the same ray: the ray of the second is the first's from there on, which
    # is what lets one sweep answer every pixel of a direction.
    lines = sm._ray_lines(4)
    rng = np.random.default_rng(5)
    for _ in range(60):
        w, r = int(rng.integers(9)), int(rng.integers(4))
        y, x = int(rng.integers(40)), int(rng.integers(50))
        path = ray_path(lines, w, r, y, x, 40, 50)
        assert all(max(abs(a - c), abs(b - d)) == 1 for (a, b), (c, d) in zip([(y, x)] + path, path))
        if len(path) > 3:
            qy, qx = path[2]
            assert ray_path(lines, w, r, qy, qx, 40, 50) == path[3:]


def test_nearest_of_class_is_a_nearest_pixel():
    labels = (np.random.default_rng(2).random((15, 19)) < 0.05).astype(np.uint8)
    near = nearest_of_class(labels, 1)
    ys, xs = np.nonzero(labels == 1)
    yy, xx = np.mgrid[0:15, 0:19]
    exact = np.min((yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2, axis=-1)
    found = (near // 19 - yy) ** 2 + (near % 19 - xx) ** 2
    assert (labels.ravel()[near.ravel()] == 1).all()
    assert (found == exact).mean() > 0.97 and (np.sqrt(found) - np.sqrt(exact)).max() < 1.5
    assert (nearest_of_class(labels, 7) == -1).all()


def test_nearest_of_class_at_is_exact_with_raster_order_ties():
    from mattebox.solvers._sampling import nearest_of_class_at

    rng = np.random.default_rng(6)
    for density in (0.002, 0.05, 0.4):
        labels = (rng.random((31, 43)) < density).astype(np.uint8)
        pixels = rng.choice(labels.size, 60, replace=False)
        found = nearest_of_class_at(labels, 1, pixels)
        ys, xs = np.nonzero(labels == 1)  # raster order
        for p, q in zip(pixels, found):
            d2 = (ys - p // 43) ** 2 + (xs - p % 43) ** 2
            if d2.size == 0:
                assert q == -1
                continue
            assert q == ys[np.argmin(d2)] * 43 + xs[np.argmin(d2)]  # first minimum in raster order
    assert (nearest_of_class_at(np.zeros((5, 6), np.uint8), 1, np.arange(30)) == -1).all()


def test_nearest_pixel_of_a_class_farther_than_32768_pixels_is_found():
    """A squared distance above 2 ** 30 (a class more than 32,768 pixels away, as on a wide
    panorama's row) once counted as "none": the index -1 then read the last pixel instead."""
    from mattebox.solvers._sampling import nearest_of_class_at

    labels = np.full((1, 40000), UNKNOWN, dtype=np.uint8)
    labels[0, 0] = FOREGROUND
    assert (nearest_of_class(labels, FOREGROUND) == 0).all()
    assert (nearest_of_class_at(labels, FOREGROUND, np.array([5, 32768, 32769, 39999])) == 0).all()


def test_label_spans_cover_each_unknown_pixel_once():
    labels = np.array([[2, 2, 0, 2], [0, 0, 0, 0], [2, 1, 2, 2]], dtype=np.uint8)
    spans = label_spans(labels, UNKNOWN)
    assert spans.tolist() == [[0, 0, 2, 0], [0, 3, 4, 2], [2, 0, 1, 3], [2, 2, 4, 4]]


def reference_gather(image, labels, rays=4, exponents=(3, 2, 1, 4)):
    """Stage 2 without any pruning: every ray walked to the image border, E_p summed step by
    step, all pairs scored in full. Returns PF_p and the chosen F and B colours per unknown
    pixel."""
    height, width = labels.shape
    lines = sm._ray_lines(rays)

    colours = image.astype(np.float32)  # the sweeps' colour steps are float32

    def colour_step(py, px, qy, qx):
        return float(np.linalg.norm(colours[qy, qx] - colours[py, px]))

    def power(x, n):
        out = 1.0
        for _ in range(n):
            out *= x
        return out

    chosen = {}
    for y, x in zip(*np.nonzero(labels == UNKNOWN)):
        y, x = int(y), int(x)
        rotation = 3 * (y % 3) + (x % 3)
        samples = {FOREGROUND: [], BACKGROUND: []}
        for r in range(rays):
            energy, py, px, seen = 0.0, y, x, set()
            for i, (qy, qx) in enumerate(ray_path(lines, rotation, r, y, x, height, width), 1):
                energy += colour_step(py, px, qy, qx)
                py, px = qy, qx
                label = int(labels[qy, qx])
                if label != UNKNOWN and label not in seen:
                    seen.add(label)
                    samples[label].append((i, r, qy, qx, energy))
        assert samples[FOREGROUND] and samples[BACKGROUND]  # the test image guarantees it
        fs, bs = samples[FOREGROUND], samples[BACKGROUND]  # in ray order, as _gather
        min_f, min_b = min(s[4] for s in fs), min(s[4] for s in bs)
        pf = min_b / (min_f + min_b) if min_f + min_b > 0 else 0.5
        c = image[y, x]
        best, pair = np.inf, None
        for f in fs:
            fc = image[f[2], f[3]]
            for b in bs:
                bc = image[b[2], b[3]]
                a = project_alpha(*c, *fc, *bc)
                rest = power(pf + (1 - 2 * pf) * a, exponents[1])
                rest *= power(math.sqrt((f[2] - y) ** 2 + (f[3] - x) ** 2), exponents[2])
                rest *= power(math.sqrt((b[2] - y) ** 2 + (b[3] - x) ** 2), exponents[3])
                n_p = distortion_sq(*c, *fc, *bc)
                for yy in range(max(0, y - 1), min(height, y + 2)):
                    for xx in range(max(0, x - 1), min(width, x + 2)):
                        if (yy, xx) != (y, x):
                            n_p += distortion_sq(*image[yy, xx], *fc, *bc)
                g = power(n_p, exponents[0]) * rest
                if g < best:
                    best, pair = g, (fc, bc)
        chosen[y, x] = (pf, *pair)
    return chosen


def test_gathering_matches_a_ray_by_ray_reference():
    # The direction sweeps and the pruned pair scores of stage 2 must choose what walking
    # every ray from every pixel and scoring every pair in full chooses.
    # Foreground on the top and left border, background on the bottom and right: of 4 rays
    # 90 degrees apart one leaves through each pair of sides, so every pixel meets both.
    # Smooth colours crossed by sharp lines: for about one class in six the nearest sample is
    # not the one with the least path energy.
    from scipy import ndimage

    rng = np.random.default_rng(7)
    height, width = 28, 30
    image = ndimage.gaussian_filter(rng.random((height, width, 3)), (3, 3, 0)) * 0.5
    image[:, 9], image[14, :] = 1.0, 0.9
    image[np.arange(height), np.minimum(np.arange(height) + 5, width - 1)] = 0.0
    trimap = np.full((height, width), 0.5)
    trimap[0, :], trimap[:, 0] = 1.0, 1.0
    trimap[-1, :], trimap[:, -1] = 0.0, 0.0
    trimap[10:14, 4:7] = 1.0
    trimap[18:23, 20:25] = 0.0
    labels = trimap_labels(trimap)
    spans = label_spans(labels, UNKNOWN)
    planes = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    f, b, _, _, _, pf = sm._gather_stage(image, planes, labels, spans, 4,
                                         np.array([3.0, 2, 1, 4]), np.array([3, 2, 1, 4]), 2)
    reference = reference_gather(image, labels)
    assert len(reference) == (labels == UNKNOWN).sum()
    for (y, x), (ref_pf, fc, bc) in reference.items():
        assert pf[y, x] == pytest.approx(ref_pf, rel=1e-4)  # energies summed in float32
        np.testing.assert_array_equal(f[:, y, x], fc.astype(np.float32))
        np.testing.assert_array_equal(b[:, y, x], bc.astype(np.float32))


def test_segment_energy_sums_colour_steps_to_the_exact_end_pixel():
    rng = np.random.default_rng(3)
    image = rng.random((20, 25, 3))
    for _ in range(50):
        y, x, sy, sx = (int(v) for v in rng.integers(0, [20, 25, 20, 25]))
        steps = max(abs(sy - y), abs(sx - x))
        path = [(y, x)]
        if steps:
            fy, fx = ((sy - y) << 32) // steps, ((sx - x) << 32) // steps
            path += [(((y << 32) + (1 << 31) + i * fy) >> 32, ((x << 32) + (1 << 31) + i * fx) >> 32)
                     for i in range(1, steps + 1)]
        assert path[-1] == (sy, sx)
        assert all(max(abs(a - c), abs(b - d)) == 1 for (a, b), (c, d) in zip(path, path[1:]))
        expected = sum(np.linalg.norm(image[c] - image[a]) for a, c in zip(path, path[1:]))
        assert sm._segment_energy(image, y, x, sy, sx) == pytest.approx(expected, rel=1e-12)


def test_long_fallback_segment_is_read_at_a_fixed_number_of_points():
    # Beyond FALLBACK_POINTS steps the energy is the colour distance summed over that many
    # evenly spaced points of the same digital line: never above the full walk's sum.
    rng = np.random.default_rng(4)
    image = rng.random((90, 120, 3))
    points = sm.FALLBACK_POINTS
    checked = 0
    for _ in range(40):
        y, x, sy, sx = (int(v) for v in rng.integers(0, [90, 120, 90, 120]))
        steps = max(abs(sy - y), abs(sx - x))
        if steps <= points:
            continue
        fy, fx = ((sy - y) << 32) // steps, ((sx - x) << 32) // steps
        at = lambda i: (((y << 32) + (1 << 31) + i * fy) >> 32, ((x << 32) + (1 << 31) + i * fx) >> 32)
        sampled = [at(k * steps // points) for k in range(points + 1)]
        full = [at(i) for i in range(steps + 1)]
        assert sampled[-1] == (sy, sx)
        expected = sum(np.linalg.norm(image[c] - image[a]) for a, c in zip(sampled, sampled[1:]))
        exact = sum(np.linalg.norm(image[c] - image[a]) for a, c in zip(full, full[1:]))
        energy = sm._segment_energy(image, y, x, sy, sx)
        assert energy == pytest.approx(expected, rel=1e-12)
        assert energy <= exact * (1 + 1e-12)
        checked += 1
    assert checked >= 10


def test_tiled_spans_cover_the_same_pixels_tile_by_tile():
    labels = np.random.default_rng(4).integers(0, 3, (70, 150)).astype(np.uint8)
    spans = label_spans(labels, UNKNOWN)
    pieces = tiled_spans(spans, 32)
    covered = np.zeros(labels.shape, dtype=int)
    for y, x0, x1, k0 in pieces:
        covered[y, x0:x1] += 1
        assert x0 // 32 == (x1 - 1) // 32  # within one tile
        assert k0 == np.count_nonzero(labels.ravel()[: y * 150 + x0] == UNKNOWN)
    np.testing.assert_array_equal(covered, labels == UNKNOWN)
    cells = (pieces[:, 0] // 32) * 5 + pieces[:, 1] // 32
    assert (np.diff(cells) >= 0).all()


def test_joined_spans_join_runs_of_a_row_closer_than_the_gap():
    spans = np.array([[0, 0, 2, 0], [0, 5, 6, 2], [0, 20, 22, 3], [1, 0, 3, 5], [2, 1, 2, 8]])
    assert joined_spans(spans, 4).tolist() == [[0, 0, 6, 0], [0, 20, 22, 3], [1, 0, 3, 5],
                                               [2, 1, 2, 8]]
    assert joined_spans(spans, 1).tolist() == spans.tolist()
    assert joined_spans(spans[:0], 4).shape == (0, 4)


def test_result_does_not_depend_on_how_runs_are_joined(monkeypatch):
    """Stages 3 and 4 run over joined runs and must skip the known pixels between them."""
    image, _, _, _, trimap = make_composite(48, 64, seed=5)
    trimap = trimap.copy()
    trimap[::7, ::5] = 0.5  # short runs with known pixels between them
    results = []
    for gap in (1, 8, 1000):
        monkeypatch.setattr(sm, "JOIN_GAP", gap)
        results.append(estimate_alpha_sm(image, trimap, return_foreground_background=True))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_nearest_of_both_classes_matches_each_class_alone():
    labels = np.random.default_rng(6).choice([0, 1, 2], (30, 40), p=[0.05, 0.05, 0.9])
    labels = labels.astype(np.uint8)
    near_f, near_b = nearest_of_both_classes(labels)
    np.testing.assert_array_equal(near_f, nearest_of_class(labels, FOREGROUND))
    np.testing.assert_array_equal(near_b, nearest_of_class(labels, BACKGROUND))


def test_an_image_of_2_to_the_32_pixels_is_refused_before_any_work():
    """The refinement's sort keys hold a pixel's index in 32 bits; a broadcast view stands in
    for an image that large (no memory is allocated for it)."""
    image = np.broadcast_to(np.zeros(3), (1 << 16, 1 << 16, 3))
    trimap = np.broadcast_to(np.float64(0.5), (1 << 16, 1 << 16))
    with pytest.raises(InputError, match="2\\^32"):
        estimate_alpha_sm(image, trimap)
