"""Propagation solvers cf, lbdm, knn, rw and lkm: recovery, determinism, edge cases, pymatting parity."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_composite
from mattebox.errors import InputError
from mattebox.registry import get_method
from mattebox.solvers.closed_form import estimate_alpha_cf
from mattebox.solvers.knn import estimate_alpha_knn
from mattebox.solvers.learning_based import estimate_alpha_lbdm
from mattebox.solvers.large_kernel import estimate_alpha_lkm
from mattebox.solvers.random_walk import estimate_alpha_rw

SOLVERS = {"cf": estimate_alpha_cf, "lbdm": estimate_alpha_lbdm, "knn": estimate_alpha_knn,
           "rw": estimate_alpha_rw, "lkm": estimate_alpha_lkm}
# Mean / max absolute error over the unknown band of make_composite(): cf and lbdm follow the
# colour-line model the composite satisfies (measured 0.008 / 0.057); KNN is nonlocal and
# blurrier on a soft edge (measured 0.038 / 0.16), and so is the random walk's pixel graph
# (measured 0.035 / 0.24). lkm is cf with 21 x 21 windows (measured 0.014 / 0.078).
BOUNDS = {"cf": (0.015, 0.1), "lbdm": (0.015, 0.1), "knn": (0.06, 0.25), "rw": (0.05, 0.3), "lkm": (0.025, 0.12)}


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_registered(name):
    assert get_method(name).fn is SOLVERS[name]


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_recovers_known_alpha(name):
    image, alpha, _, _, trimap = make_composite()
    estimate = SOLVERS[name](image, trimap)
    band = trimap == 0.5
    error = np.abs(estimate - alpha)[band]
    mean_bound, max_bound = BOUNDS[name]
    assert error.mean() < mean_bound
    assert error.max() < max_bound
    np.testing.assert_array_equal(estimate[~band], trimap[~band])
    assert estimate.min() >= 0.0 and estimate.max() <= 1.0


@pytest.mark.parametrize("name", ["cf", "lbdm", "rw"])
def test_multigrid_path_matches_direct_solve(name):
    image, alpha, _, _, trimap = make_composite(96, 128, seed=1)
    assert (trimap == 0.5).sum() > 2000  # large enough for the iterative solver
    iterative = SOLVERS[name](image, trimap, tol=1e-9)
    direct = SOLVERS[name](image, trimap, linear_solver="direct")
    assert np.abs(iterative - direct).max() < 1e-4


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_deterministic(name):
    image, _, _, _, trimap = make_composite(seed=2)
    np.testing.assert_array_equal(SOLVERS[name](image, trimap), SOLVERS[name](image, trimap))


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_no_unknown_pixels_returns_trimap(name):
    image, _, _, _, _ = make_composite()
    trimap = np.zeros(image.shape[:2])
    trimap[:, 32:] = 1.0
    result = SOLVERS[name](image, trimap)
    np.testing.assert_array_equal(result, trimap)
    assert result is not trimap


@pytest.mark.parametrize("name", ["cf", "lbdm"])
def test_row_too_small_for_a_window_is_interpolated(name):
    image = np.random.default_rng(0).random((1, 5, 3))
    trimap = np.array([[0.0, 0.5, 0.5, 0.5, 1.0]])
    np.testing.assert_allclose(SOLVERS[name](image, trimap), [[0.0, 0.25, 0.5, 0.75, 1.0]], atol=1e-9)


def test_knn_on_a_row_joins_every_pixel():
    # Five pixels, K >= 5: the graph is complete, so each unknown pixel is the mean of the rest.
    image = np.random.default_rng(0).random((1, 5, 3))
    trimap = np.array([[0.0, 0.5, 0.5, 0.5, 1.0]])
    np.testing.assert_allclose(estimate_alpha_knn(image, trimap), [[0.0, 0.5, 0.5, 0.5, 1.0]], atol=1e-9)


@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize("shape", [(3, 3), (2, 2), (1, 5), (5, 1), (4, 3)])
def test_tiny_images(name, shape):
    rng = np.random.default_rng(1)
    image = rng.random(shape + (3,))
    trimap = np.full(shape, 0.5)
    trimap.flat[0] = 0.0
    trimap.flat[-1] = 1.0
    result = SOLVERS[name](image, trimap)
    assert result.shape == shape
    assert np.isfinite(result).all() and result.min() >= 0.0 and result.max() <= 1.0
    assert result.flat[0] == 0.0 and result.flat[-1] == 1.0


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_one_pixel_wide_band(name):
    # A vertical edge between a dark and a bright half; the unknown band is one column wide,
    # where the true alpha is 0.5 (the column is the average colour).
    image = np.zeros((12, 12, 3))
    image[:, 7:] = 1.0
    image[:, 6] = 0.5
    trimap = np.zeros((12, 12))
    trimap[:, 7:] = 1.0
    trimap[:, 6] = 0.5
    result = SOLVERS[name](image, trimap)
    # Colour-line methods get 0.5 up to the regulariser; KNN's neighbour graph is lopsided
    # near the image border and lands within 0.1.
    assert np.abs(result[:, 6] - 0.5).max() < (0.1 if name == "knn" else 1e-3)
    np.testing.assert_array_equal(result[:, [0, 5, 7, 11]], trimap[:, [0, 5, 7, 11]])


@pytest.mark.parametrize("name, peer", [("cf", "estimate_alpha_cf"), ("lbdm", "estimate_alpha_lbdm"),
                                        ("knn", "estimate_alpha_knn"), ("rw", "estimate_alpha_rw"),
                                        ("lkm", "estimate_alpha_lkm")])
def test_agrees_with_pymatting(name, peer):
    pymatting = pytest.importorskip("pymatting")
    image, _, _, _, trimap = make_composite()
    ours = SOLVERS[name](image, trimap)
    theirs = getattr(pymatting, peer)(image, trimap)
    band = trimap == 0.5
    # pymatting holds the known pixels with a finite weight (lambda = 100) where we fix them.
    # Against lkm's 21 x 21 windows that weight is weak: its known pixels move by 0.004 on
    # average (up to 0.05), and the band follows (measured 0.0057).
    assert np.abs(ours - theirs)[band].mean() < (1e-2 if name == "lkm" else 1e-3)


def test_knn_soft_kernel_stays_close_to_binary():
    image, alpha, _, _, trimap = make_composite()
    soft = estimate_alpha_knn(image, trimap, kernel="soft")
    binary = estimate_alpha_knn(image, trimap)
    band = trimap == 0.5
    assert np.abs(soft - binary)[band].mean() < 0.02
    assert np.abs(soft - alpha)[band].mean() < BOUNDS["knn"][0]


def test_preview_is_close_to_the_full_solve():
    from mattebox.solvers.preview import estimate_alpha_preview

    image, alpha, _, _, trimap = make_composite(96, 128, seed=3)
    band = trimap == 0.5
    full = estimate_alpha_cf(image, trimap)
    preview = estimate_alpha_preview(image, trimap, method="cf", scale=0.5)
    assert preview.shape == trimap.shape
    np.testing.assert_array_equal(preview[~band], trimap[~band])
    assert np.abs(preview - full)[band].mean() < 0.02
    assert np.abs(preview - alpha)[band].mean() < 0.02


def test_preview_guided_filter_keeps_a_linear_function_of_the_guide():
    from mattebox.solvers.preview import guided_filter

    rng = np.random.default_rng(4)
    guide = rng.random((20, 24, 3))
    source = 0.2 + 0.5 * guide[..., 0] - 0.3 * guide[..., 2]
    np.testing.assert_allclose(guided_filter(guide, source, 2, 1e-8), source, atol=1e-4)


def test_guided_upsample_carries_a_linear_fit_of_the_colours_to_full_size():
    import cv2

    from mattebox.solvers.preview import guided_upsample

    def fit(colours):
        return 0.2 + 0.5 * colours[..., 0] - 0.3 * colours[..., 2]

    rng = np.random.default_rng(5)
    for height, width in ((40, 48), (9, 1), (1, 7)):
        guide = rng.random((height, width, 3))
        small = cv2.resize(guide.astype(np.float32), (max(1, width // 2), max(1, height // 2)),
                           interpolation=cv2.INTER_AREA).astype(np.float64)
        up = guided_upsample(small, fit(small), guide, 1, 1e-8)
        assert up.shape == (height, width) and np.isfinite(up).all()
        if min(height, width) > 1:
            # the fit is exact on the small pair, so it holds at full size, edges included
            # (a one-pixel-wide image has too few colours per window to pin the fit down)
            np.testing.assert_allclose(up, fit(guide), atol=2e-3)


def _tree_walk(tree):
    """A k-d tree as its point order and its nodes in depth-first order, free of node numbers."""
    order, start, stop, left, right, low, high, ordered = tree
    nodes, stack = [], [0]
    while stack:
        node = stack.pop()
        nodes.append((start[node], stop[node], tuple(low[node]), tuple(high[node]), left[node] < 0))
        if left[node] >= 0:
            stack += [right[node], left[node]]
    return order, nodes, ordered


def _crowded_points(size, rng):
    """Points crowding towards 0 along one axis (1.2 ** -i): each split cuts off a few, so the
    tree is hundreds of levels deep, its leaves hold a point or two, and it needs far more
    nodes than usual, more than the blocks a build starts with."""
    points = rng.random((size, 3)) * 1e-300
    points[:, 0] = 1.2 ** -np.arange(size)
    return points


def test_kd_tree_query_is_exact_on_a_deep_tree():
    from mattebox.solvers.neighbours import build_tree, query_tree

    points = _crowded_points(3000, np.random.default_rng(3))
    tree = build_tree(points, 12)
    assert len(tree[1]) > 2 * (3000 // 6 + 1) + 1  # more nodes than a first guess
    queries = np.ascontiguousarray(points[::2])
    found, found_d = query_tree(tree, queries, 4, np.full(len(queries), np.inf))
    distances = ((queries[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    assert np.array_equal(found_d, np.sort(distances, axis=1)[:, :4])
    assert np.array_equal(np.take_along_axis(distances, found, axis=1), found_d)


def test_kd_tree_refuses_what_it_cannot_answer():
    from mattebox.solvers.neighbours import build_tree, order_bound, query_tree

    points = np.random.default_rng(5).random((50, 3))
    tree = build_tree(points, 12)
    with pytest.raises(ValueError, match="at least 1"):
        query_tree(tree, points, 0, np.full(50, np.inf))
    with pytest.raises(ValueError, match="at least 1"):
        order_bound(points, np.arange(50), 0, 4)
    for far in (np.inf, np.nan, 1e200):  # a squared distance would not be finite
        spread = points.copy()
        spread[7, 1] = far
        with pytest.raises(ValueError, match="overflow"):
            build_tree(spread, 12)


@pytest.mark.parametrize("size", [5, 40, 5000, -3000])
def test_kd_tree_is_the_same_on_any_number_of_threads(size):
    from mattebox.solvers.neighbours import _build_tree

    rng = np.random.default_rng(abs(size))
    if size > 0:
        points = rng.random((size, 5)) ** 3  # skewed, so that the subtrees differ in size
        points[size // 3: size // 2] = points[0]  # a block of equal points: one large leaf
    else:
        size = -size
        points = _crowded_points(size, rng)
    walks = [_tree_walk(_build_tree(points, 12, threads)) for threads in (1, 2, 3, 16)]
    for order, nodes, ordered in walks[1:]:
        assert np.array_equal(order, walks[0][0])
        assert nodes == walks[0][1]
        assert np.array_equal(ordered, points[order])
    order, nodes, _ = walks[0]
    assert sorted(order) == list(range(size))
    for a, b, low, high, leaf in nodes:  # every box holds exactly its points, tightly
        inside = points[order[a:b]]
        assert np.array_equal(inside.min(axis=0), low) and np.array_equal(inside.max(axis=0), high)
        assert leaf or b - a > 12


@pytest.mark.parametrize("z_order_from", [0, 10**9])  # queries answered in Z / given order
def test_kd_tree_query_is_exact(z_order_from, monkeypatch):
    from mattebox.solvers import neighbours
    from mattebox.solvers.knn import LEAF_SIZE
    from mattebox.solvers.neighbours import build_tree, query_tree

    monkeypatch.setattr(neighbours, "Z_ORDER_QUERIES", z_order_from)

    rng = np.random.default_rng(4)
    points = rng.random((3000, 5))
    points[1000:1100] = points[0]  # duplicates: ties at distance 0
    queries = np.ascontiguousarray(points[::3] + rng.normal(0, 0.01, points[::3].shape))
    bounds = np.full(len(queries), np.inf)
    bounds[::7] = 0.05  # some queries report only points strictly closer than a bound
    found, found_d = query_tree(build_tree(points, LEAF_SIZE), queries, 8, bounds)
    exact = ((queries[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    for q in range(len(queries)):
        nearest = np.sort(exact[q])[:8]
        nearest[nearest >= bounds[q]] = np.inf
        listed = found[q] >= 0
        assert np.allclose(np.where(listed, found_d[q], np.inf), nearest)
        assert len(set(found[q][listed])) == listed.sum()  # no point twice
        assert np.allclose(exact[q, found[q][listed]], found_d[q][listed])


def test_morton_order_follows_the_interleaved_bits():
    from mattebox.solvers.neighbours import morton_order

    rng = np.random.default_rng(7)
    points = rng.random((2000, 5))
    points[500:520] = points[3]  # equal codes keep their index order
    # reference: quantise each coordinate to 12 bits, interleave bit by bit, first coordinate
    # most significant, as Python integers
    low, span = points.min(0), points.max(0) - points.min(0)
    cells = np.minimum(((points - low) / span * 4096).astype(np.int64), 4095)
    codes = []
    for row in cells:
        code = 0
        for bit in range(11, -1, -1):
            for value in row:
                code = (code << 1) | ((int(value) >> bit) & 1)
        codes.append(code)
    expected = sorted(range(len(codes)), key=lambda i: (codes[i], i))
    assert morton_order(points).tolist() == expected
    assert morton_order(np.zeros((4, 3))).tolist() == [0, 1, 2, 3]  # all equal: no division by 0


def test_random_walk_system_matches_a_dense_build():
    from mattebox.solvers.random_walk import WEIGHT_FLOOR, random_walk_system

    rng = np.random.default_rng(3)
    image = rng.random((5, 6, 3))
    trimap = rng.choice([0.0, 0.5, 1.0], (5, 6), p=[0.2, 0.6, 0.2])
    matrix, rhs, unknown = random_walk_system(image, trimap, sigma=0.5, radius=1)
    pixels = [(y, x) for y in range(5) for x in range(6)]
    weights = np.zeros((30, 30))
    for i, (y, x) in enumerate(pixels):
        for j, (v, u) in enumerate(pixels):
            if i != j and abs(y - v) <= 1 and abs(x - u) <= 1:
                distance_sq = np.sum((image[y, x] - image[v, u]) ** 2)
                weights[i, j] = np.exp(-distance_sq / 0.25) + WEIGHT_FLOOR
    laplacian = np.diag(weights.sum(axis=1)) - weights
    known = np.flatnonzero(trimap.ravel() != 0.5)
    np.testing.assert_allclose(matrix.toarray(), laplacian[np.ix_(unknown, unknown)], atol=1e-12)
    np.testing.assert_allclose(rhs, weights[np.ix_(unknown, known)] @ trimap.ravel()[known],
                               atol=1e-12)


def test_random_walk_rejects_bad_options():
    from mattebox.errors import InputError

    image, _, _, _, trimap = make_composite()
    with pytest.raises(InputError, match="sigma"):
        estimate_alpha_rw(image, trimap, sigma=0.0)
    with pytest.raises(InputError, match="radius"):
        estimate_alpha_rw(image, trimap, radius=0)


@pytest.mark.parametrize("method, options, name", [
    ("cf", {"epsilon": 1e-300}, "epsilon"), ("lbdm", {"regulariser": 1e-16}, "regulariser"),
    ("lkm", {"epsilon": 1e-300}, "epsilon"), ("ifm", {"epsilon": 1e-300}, "epsilon"),
    ("rw", {"sigma": 1e-300}, "sigma"), ("ifm", {"ku_xy": 1e7}, "ku_xy"),
    ("knn", {"spatial_weights": (1e200, 0.1)}, "spatial_weights"),
    ("global", {"epsilon": 1e-300}, "epsilon"),
])
def test_options_beyond_float64_get_a_clear_error(method, options, name):
    """Options that pass as numbers but overflow or underflow inside the solver (a window's
    determinant, 1 / sigma ** 2, squared feature distances) are refused up front."""
    from mattebox.registry import get_method

    image, _, _, _, trimap = make_composite(12, 12)
    with pytest.raises(InputError, match=name):
        get_method(method).fn(image, trimap, **options)


@pytest.mark.parametrize("method", ["cf", "lbdm", "lkm"])
def test_smallest_regulariser_is_solved_on_flat_windows(method):
    from mattebox.registry import get_method

    image = np.full((10, 12, 3), 0.4)
    image[:, 6:] = 0.8
    trimap = np.full((10, 12), 0.5)
    trimap[:, 0], trimap[:, -1] = 0.0, 1.0
    key = "regulariser" if method == "lbdm" else "epsilon"
    alpha = get_method(method).fn(image, trimap, **{key: 1e-12})
    assert np.isfinite(alpha).all() and alpha.min() >= 0.0 and alpha.max() <= 1.0


@pytest.mark.parametrize("method", [estimate_alpha_cf, estimate_alpha_lbdm])
def test_multigrid_asked_for_on_an_image_smaller_than_a_window(method):
    image = np.random.default_rng(0).random((2, 2, 3))
    trimap = np.array([[0.0, 0.5], [0.5, 1.0]])
    alpha = method(image, trimap, linear_solver="multigrid")
    assert alpha[0, 0] == 0.0 and alpha[1, 1] == 1.0 and 0.0 <= alpha[0, 1] <= 1.0


def test_large_kernel_operator_matches_the_explicit_matting_laplacian():
    from mattebox.solvers.large_kernel import LargeKernelLaplacian
    from mattebox.solvers.laplacian import matting_laplacian

    rng = np.random.default_rng(7)
    image = rng.random((13, 17, 3))
    p = rng.random(13 * 17)
    for radius in (1, 3):
        explicit = matting_laplacian(image, None, radius=radius, epsilon=1e-5)
        operator = LargeKernelLaplacian(image, radius, 1e-5)
        np.testing.assert_allclose(operator @ p, explicit @ p, atol=1e-10)
        np.testing.assert_allclose(operator.diagonal.ravel(), explicit.diagonal(), atol=1e-10)


def test_large_kernel_crop_gives_the_whole_image_solution():
    """lkm solves on the crop reaching 2r beyond the unknown pixels; a whole-image solve of
    the same system must agree."""
    from mattebox.solvers import large_kernel

    image, _, _, _, trimap = make_composite(80, 96, seed=3)
    trimap = trimap.copy()
    trimap[:, :30] = np.where(trimap[:, :30] == 0.5, 0.0, trimap[:, :30])  # unknowns to one side
    cropped = estimate_alpha_lkm(image, trimap, radius=4, tol=1e-10)
    original = large_kernel._crop_around
    try:
        large_kernel._crop_around = lambda mask, reach: (slice(None), slice(None))
        whole = estimate_alpha_lkm(image, trimap, radius=4, tol=1e-10)
    finally:
        large_kernel._crop_around = original
    assert np.abs(cropped - whole).max() < 1e-6


def test_lbdm_pull_to_half_solves_the_released_codes_system():
    """(L_UU + mu I) a_U = -L_UK a_K + mu / 2: the authors' (L + C + mu I) a = C a* with the
    known alphas coded +-1 and held fixed, solved densely here."""
    from mattebox.solvers.learning_based import lbdm_laplacian

    image, _, _, _, trimap = make_composite(14, 16, seed=5)
    mu = 1e-2  # large enough to move the answer well beyond the solver's tolerance
    laplacian = lbdm_laplacian(image).toarray()
    flat = trimap.ravel()
    unknown, known = flat == 0.5, flat != 0.5
    system = laplacian[np.ix_(unknown, unknown)] + mu * np.eye(unknown.sum())
    rhs = -laplacian[np.ix_(unknown, known)] @ flat[known] + mu / 2
    expected = np.clip(np.linalg.solve(system, rhs), 0, 1)
    ours = estimate_alpha_lbdm(image, trimap, pull_to_half=mu, tol=1e-12)
    np.testing.assert_allclose(ours.ravel()[unknown], expected, atol=1e-6)
    plain = estimate_alpha_lbdm(image, trimap, pull_to_half=0.0, tol=1e-12)
    assert np.abs(plain.ravel()[unknown] - expected).max() > 1e-3


@pytest.mark.parametrize("bad", [-1e-6, float("nan"), float("inf"), "0.1", True])
def test_lbdm_rejects_a_bad_pull_to_half(bad):
    image, _, _, _, trimap = make_composite(14, 16, seed=5)
    with pytest.raises(InputError, match="pull_to_half"):
        estimate_alpha_lbdm(image, trimap, pull_to_half=bad)
