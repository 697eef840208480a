"""ActiveSession: suggest / answer / matte, undo, save and restore; the baselines' basics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import make_composite
from mattebox.active.baselines import (
    ClusterStrategy,
    IdealStrategy,
    RandomStrategy,
    candidate_corners,
    cluster_regions,
    every_pure_region_trimap,
)
from mattebox.active.environment import ActiveEnvironment, resize_alpha, resize_image
from mattebox.active.session import ActiveSession
from mattebox.errors import InputError
from mattebox.trimap import LabelledRegion, LabelledStroke, trimap_from_regions


def colour_solver(image, trimap):
    """A tiny deterministic stand-in solver: alpha from the red channel, known pixels kept."""
    alpha = image[..., 0].copy()
    return alpha


@pytest.fixture
def scene():
    image, alpha, *_ = make_composite(48, 64, seed=3)
    return image, alpha


def learned(seed=0, head="gaussian"):
    torch = pytest.importorskip("torch")
    from mattebox.active.policy import LearnedStrategy, PolicyConfig, build_policy

    torch.manual_seed(seed)
    config = PolicyConfig(image_size=32, feature_blocks=((4, 1), (8, 1)), feature_pool=2, feature_dim=16,
                          patch_size=8, patch_blocks=((4, 1),), location_head=head, colour_cues=head == "grid")
    policy = build_policy(config)
    last = policy.locate.out if head == "grid" else policy.locate
    torch.nn.init.normal_(last.weight, std=0.5)  # an untrained policy that moves about
    return LearnedStrategy(policy.eval())


def test_answers_build_the_accumulated_trimap(scene):
    image, alpha = scene
    session = ActiveSession(image, solver=colour_solver, policy=RandomStrategy(1), work_size=64)
    assert session.region_size == 3  # 20 / 400 of 64 pixels
    top, left, size = session.suggest()
    assert session.suggest() == (top, left, size)  # asking again does not move it
    assert 0 <= top <= 61 and 0 <= left <= 61 and size == 3
    session.answer((top, left), "skip")
    assert session.suggest() != (top, left, size)  # a new suggestion after an answer
    session.answer((0, 0), "bg")
    session.answer((30, 30), "fg")
    session.answer((5, 50), "skip")
    expected = trimap_from_regions((64, 64), [LabelledRegion(0, 0, "bg", 3, 3), LabelledRegion(30, 30, "fg", 3, 3)])
    assert np.array_equal(session.trimap(), expected)
    assert [s.answer for s in session.history] == ["skip", "bg", "fg", "skip"]
    assert session.matte().shape == (64, 64)
    assert session.matte()[31, 31] == 1.0 and session.matte()[1, 1] == 0.0
    assert session.full_matte().shape == (48, 64)


def test_full_matte_takes_another_solver_and_its_options(scene):
    from mattebox.solvers.shared_sampling import estimate_alpha_sm

    image, alpha = scene
    session = ActiveSession(image, solver="sm", policy="cluster", alpha=alpha, work_size=64, steps=6)
    for _ in range(6):
        top, left, _ = session.suggest()
        session.answer((top, left), session.oracle())
    assert {s.answer for s in session.history} >= {"fg", "bg"}
    refined = session.full_matte(refine="laplacian")
    by_hand = session.full_matte(lambda im, tri: estimate_alpha_sm(im, tri, refine="laplacian"))
    np.testing.assert_array_equal(refined, by_hand)
    assert not np.array_equal(refined, session.full_matte())
    with pytest.raises(InputError, match="refine must be one of"):
        session.full_matte(refine="cf")


def test_bad_answers_are_clear_errors(scene):
    image, _ = scene
    session = ActiveSession(image, solver=colour_solver, policy="random", work_size=64)
    with pytest.raises(InputError, match="'fg', 'bg' or 'skip'"):
        session.answer((0, 0), "maybe")
    with pytest.raises(InputError, match="outside"):
        session.answer((62, 0), "fg")
    size = session.region_size
    for region, match in [((0, 0, size + 1), "pixels in this session"),
                          ((0.5, 0), "top must be a whole number"),
                          ((0, 0, size, 1), r"\(top, left\) or \(top, left, size\)"),
                          ("ab", r"\(top, left\) or"), (5, r"\(top, left\) or")]:
        with pytest.raises(InputError, match=match):
            session.answer(region, "fg")
    assert session.answer((np.int64(0), 0.0, size), "bg").answer == "bg"
    with pytest.raises(InputError, match="unknown policy"):
        ActiveSession(image, policy="psychic")
    with pytest.raises(InputError, match="unknown matting method"):
        ActiveSession(image, solver="no-such-solver", policy="random")


def test_undo_returns_to_the_previous_state_and_suggestion(scene):
    image, alpha = scene
    session = ActiveSession(image, solver=colour_solver, policy=learned(), alpha=alpha, work_size=64)
    suggestions, trimaps, mattes = [], [], []
    for _ in range(3):
        suggestions.append(session.suggest())
        session.answer(None, session.oracle())
        trimaps.append(session.trimap().copy())
        mattes.append(session.matte().copy())
    removed = session.undo()
    assert removed.top == suggestions[2][0] and removed.left == suggestions[2][1]
    assert len(session.history) == 2
    assert np.array_equal(session.trimap(), trimaps[1])
    assert np.array_equal(session.matte(), mattes[1])
    assert session.suggest() == suggestions[2]  # the policy's LSTM state was replayed
    session.undo(), session.undo()
    assert session.undo() is None and np.all(session.trimap() == 0.5)
    assert session.suggest() == suggestions[0]


def test_save_and_restore_continue_where_it_stopped(scene, tmp_path):
    image, alpha = scene
    strategy = learned()
    session = ActiveSession(image, solver=colour_solver, policy=strategy, alpha=alpha, work_size=64)
    for _ in range(4):
        session.answer(None, session.oracle())
    path = session.save(tmp_path / "s.npz")
    restored = ActiveSession.restore(path, solver=colour_solver, policy=learned())
    assert [(s.top, s.left, s.answer) for s in restored.history] == [(s.top, s.left, s.answer) for s in session.history]
    assert np.array_equal(restored.trimap(), session.trimap())
    assert np.allclose(restored.matte(), session.matte(), atol=1e-4)
    assert restored.rmse() == pytest.approx(session.rmse(), abs=1e-4)
    assert restored.suggest() == session.suggest()
    with pytest.raises(InputError):
        session.save(tmp_path / "s.json")
    # a file of the first format (regions only, before strokes) still restores
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["format"] = "mattebox-active-session-1"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    old = ActiveSession.restore(tmp_path / "old.npz", solver=colour_solver, policy=learned())
    assert np.array_equal(old.trimap(), session.trimap())
    (tmp_path / "junk.npz").write_bytes(b"not a session")
    with pytest.raises(InputError, match="not a readable"):
        ActiveSession.restore(tmp_path / "junk.npz")


def test_a_damaged_or_foreign_session_file_is_a_clear_error(scene, tmp_path):
    from mattebox.errors import OutputError

    image, alpha = scene
    session = ActiveSession(image, solver=colour_solver, policy="random", alpha=alpha, work_size=64)
    session.answer(None, session.oracle())
    path = session.save(tmp_path / "s.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))

    def damaged(name, **changes):
        edited = dict(arrays, **changes)
        np.savez_compressed(tmp_path / name, **edited)
        return tmp_path / name

    def with_meta(name, value):
        return damaged(name, meta=np.array(json.dumps(value)))

    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:200])
    (tmp_path / "zipped.npz").write_bytes(b"PK\x03\x04 and then nothing of a zip")
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "array.npy").rename(tmp_path / "array.npz")
    cases = [tmp_path / "cut.npz", tmp_path / "zipped.npz", tmp_path / "array.npz",
             with_meta("list.npz", [1, 2]),
             with_meta("no_size.npz", {k: v for k, v in meta.items() if k != "work_size"}),
             with_meta("size_text.npz", dict(meta, work_size="abc")),
             with_meta("answer.npz", dict(meta, steps=[dict(meta["steps"][0], answer="banana")])),
             with_meta("outside.npz", dict(meta, steps=[dict(meta["steps"][0], top=1000, left=-5)])),
             damaged("mattes.npz", mattes=arrays["mattes"][:, :10])]
    for case in cases:
        with pytest.raises(InputError, match="session|work size"):
            ActiveSession.restore(case, solver=colour_solver)
    # writing: a folder in the way, or a file where a folder should be, and no temporary left
    (tmp_path / "taken.npz").mkdir()
    (tmp_path / "plain").write_text("a file")
    for target in (tmp_path / "taken.npz", tmp_path / "plain" / "s.npz"):
        with pytest.raises(OutputError):
            session.save(target)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_session_options_are_checked(scene):
    image, _ = scene
    for options, named in (({"work_size": "x"}, "work size"), ({"work_size": 100000}, "work size"),
                           ({"solve_size": "x"}, "solve size"), ({"foo": 1}, "foo"),
                           ({"seed": -1}, "seed")):
        with pytest.raises(InputError, match=named):
            ActiveSession(image, solver=colour_solver, policy="random", **options)


def test_a_stroke_labels_its_pixels_and_undo_and_restore_keep_it(scene, tmp_path):
    image, alpha = scene
    session = ActiveSession(image, solver=colour_solver, policy=learned(head="grid"), alpha=alpha,
                            work_size=64)
    session.answer(None, session.oracle())
    before = session.suggest()
    trimap_before = session.trimap().copy()
    step = session.stroke([(40, 5), (40, 30)], "fg", radius=1)
    assert step.stroke is not None and step.region is None and step.answer == "fg"
    stroke_pixels = LabelledStroke([(40, 5), (40, 30)], "fg", 1).mask((64, 64))
    assert (session.trimap()[stroke_pixels] == 1.0).all()
    assert np.array_equal(session.trimap()[~stroke_pixels], trimap_before[~stroke_pixels])
    assert (session.matte()[stroke_pixels] == 1.0).all()
    assert session.regions() == [s.region for s in session.history[:1] if s.region is not None]
    assert session.strokes() == [step.stroke]
    assert session.labelled()[-1] == step.stroke
    # the learned policy's grid head reads the matte after the stroke
    from mattebox.active.policy import matte_statistics
    torch = pytest.importorskip("torch")
    seen = matte_statistics(torch.as_tensor(session.matte(), dtype=torch.float32)[None, None], 20)
    assert torch.allclose(session.strategy.state.matte, seen)
    session.answer(None, session.oracle())  # suggestions go on after a stroke
    # the full-resolution matte carries the stroke, scaled to the photo (48 x 64)
    full_trimap = trimap_from_regions((48, 64), session.labelled(original=True))
    assert (full_trimap[30, 6:30] == 1.0).mean() > 0.8  # work row 40 is photo row 29.875
    assert session.full_matte().shape == (48, 64)
    path = session.save(tmp_path / "s.npz")
    restored = ActiveSession.restore(path, solver=colour_solver, policy=learned(head="grid"))
    assert [s.stroke for s in restored.history] == [s.stroke for s in session.history]
    assert np.array_equal(restored.trimap(), session.trimap())
    assert restored.suggest() == session.suggest()
    session.undo()  # the answer after the stroke
    assert session.undo().stroke == step.stroke
    assert np.array_equal(session.trimap(), trimap_before)
    assert session.suggest() == before


def test_strokes_in_photo_pixels_and_bad_strokes(scene):
    image, _ = scene  # 48 x 64, work image 64 x 64
    session = ActiveSession(image, solver=colour_solver, policy="random", work_size=64)
    step = session.stroke([(47, 0), (47, 63)], "bg", radius=0, original=True)
    assert np.allclose(step.stroke.points, [(62.8333, 0.0), (62.8333, 63.0)], atol=1e-4)
    assert (session.trimap()[63] == 0.0).all() and (session.trimap()[:63] == 0.5).all()
    smaller = ActiveSession(image, solver=colour_solver, policy="random", work_size=32)
    step = smaller.stroke([(47, 0), (47, 63)], "bg", radius=0, original=True)
    assert step.stroke.points == ((31.0, 0.0), (31.0, 31.0))  # clamped to the last work row
    with pytest.raises(InputError, match="outside the 48x64 image"):
        session.stroke([(48, 3)], "fg", original=True)
    with pytest.raises(InputError, match="outside the 64x64 work image"):
        session.stroke([(70, 3)], "fg")
    with pytest.raises(InputError, match="'fg' or 'bg'"):
        session.stroke([(3, 3)], "skip")
    assert len(session.history) == 1


def test_ideal_strategy_picks_the_largest_rmse_drop(scene):
    image, alpha = scene
    env = ActiveEnvironment(resize_image(image, 64), colour_solver, resize_alpha(alpha, 64), region_size=4)
    env.commit(env.try_answer(0, 0, "bg"))
    ideal = IdealStrategy(stride=4)
    ideal.reset(env.image)
    top, left = ideal.suggest(env)
    best = env.try_answer(top, left, env.oracle(top, left)).rmse
    for (t, l), error in ideal.last_errors.items():
        assert error >= best - 1e-12
        assert env.try_answer(t, l, env.oracle(t, l)).rmse == pytest.approx(error)
    assert (0, 0) not in ideal.last_errors  # already labelled: not a candidate
    assert len(candidate_corners((64, 64), 4, 4)) == 16 * 16
    assert candidate_corners((10, 12), 4, 5)[-1] == (6, 8)  # flush with the border


def test_parallel_ideal_search_matches_the_serial_one_image_after_image():
    """Workers are spawned: forked after the solver's threads started here, they died at once
    (the second image of a benchmark run crashed). A new image gets new workers."""
    from mattebox.registry import get_method

    scenes = [make_composite(40, 40, seed=seed)[:2] for seed in (5, 6)]
    image, _ = scenes[0]
    trimap = np.full(image.shape[:2], 0.5)
    trimap[:4], trimap[-4:] = 0.0, 1.0
    get_method("sm").fn(image, trimap)  # the solver's threads now run in this process
    for workers in (1, 2):
        ideal = IdealStrategy(stride=8, workers=workers)
        chosen = []
        for image, alpha in scenes:
            env = ActiveEnvironment(image, "sm", alpha, region_size=8)
            ideal.reset(image)
            for _ in range(2):
                top, left = ideal.suggest(env)
                env.commit(env.try_answer(top, left, env.oracle(top, left)))
                chosen.append((top, left))
        ideal.close()
        if workers == 1:
            serial = chosen
    assert chosen == serial


def test_cluster_regions_lie_in_distinct_colour_areas():
    image = np.zeros((60, 60, 3))
    image[:, 30:] = [1.0, 0.0, 0.0]
    image[40:, :30] = [0.0, 0.0, 1.0]
    corners = cluster_regions(image, 3, region_size=6, position_weight=0.1)
    colours = {tuple(image[t + 3, l + 3]) for t, l in corners}
    assert len(colours) == 3
    assert ClusterStrategy(k=3).name == "cluster"


def test_every_pure_region_labels_what_some_pure_window_covers():
    rng = np.random.default_rng(3)
    alpha = np.zeros((37, 41))
    alpha[5:30, 8:35] = 1.0
    alpha[12:14, :] = 0.5  # a mixed stripe through both layers
    alpha[rng.random(alpha.shape) < 0.01] = 0.3  # scattered mixed pixels
    size = 6
    expected = np.full(alpha.shape, 0.5)
    for top in range(alpha.shape[0] - size + 1):
        for left in range(alpha.shape[1] - size + 1):
            patch = alpha[top:top + size, left:left + size]
            if (patch == 1).all() or (patch == 0).all():
                expected[top:top + size, left:left + size] = patch[0, 0]
    anywhere = every_pure_region_trimap(alpha, size, anywhere=True)
    assert np.array_equal(anywhere, expected)
    grid = every_pure_region_trimap(alpha, size)
    for top, left in candidate_corners(alpha.shape, size, size):
        cell, patch = grid[top:top + size, left:left + size], alpha[top:top + size, left:left + size]
        if (patch == 1).all() or (patch == 0).all():
            assert np.array_equal(cell, patch)
    # the grid labels only pixels some window covers, and fewer of them; none is mislabelled
    labelled = grid != 0.5
    assert np.array_equal(grid[labelled], expected[labelled])
    assert 0 < labelled.sum() < (anywhere != 0.5).sum()
    assert np.all(every_pure_region_trimap(alpha, 50) == 0.5)  # no region fits
    with pytest.raises(InputError, match="region size"):
        every_pure_region_trimap(alpha, 0)


def test_random_strategy_replays_by_step():
    env = ActiveEnvironment(np.zeros((50, 50, 3)), colour_solver, region_size=5)
    first = RandomStrategy(4)
    first.reset(env.image)
    assert first.suggest(env) == RandomStrategy(4).suggest(env)
    assert first.suggest(env) != RandomStrategy(5).suggest(env)


def test_informativeness_is_high_where_the_matte_is_undecided_and_nobody_answered():
    from mattebox.active.informativeness import informativeness_map

    matte = np.zeros((60, 60))
    matte[:, 30:] = 1.0
    matte[:, 20:30] = 0.5  # an undecided band
    trimap = np.full((60, 60), 0.5)
    trimap[0:6, 0:6] = 0.0
    heat = informativeness_map(matte, trimap, region_size=6)
    assert heat.shape == (60, 60) and 0.0 <= heat.min() and heat.max() <= 1.0
    assert heat[30, 25] > 0.5  # undecided, far from the answer
    assert heat[30, 5] == 0.0 and heat[30, 50] == 0.0  # decided
    trimap[27:33, 22:28] = 1.0
    assert informativeness_map(matte, trimap, 6)[30, 25] == 0.0  # just answered


def test_teacher_offers_both_layers_and_skips_known_or_mixed_regions():
    from mattebox.active.imitation import teacher_candidates

    alpha = np.zeros((40, 40))
    alpha[10:30, 10:30] = 1.0
    alpha[10:30, 29] = 0.5
    env = ActiveEnvironment(np.zeros((40, 40, 3)), colour_solver, alpha, region_size=4)
    env.commit(env.try_answer(0, 0, "bg"))
    picked = teacher_candidates(env, 6)
    assert {label for _, _, label in picked} == {"fg", "bg"}
    for top, left, label in picked:
        window = alpha[top:top + 4, left:left + 4]
        assert np.all(window == (1.0 if label == "fg" else 0.0))
        assert not np.all(env.trimap[top:top + 4, left:left + 4] != 0.5)
    for i, (t1, l1, _) in enumerate(picked):
        for t2, l2, _ in picked[i + 1:]:
            assert abs(t1 - t2) >= 4 or abs(l1 - l2) >= 4


def test_a_restricted_teacher_keeps_to_the_allowed_corners_while_it_can():
    from mattebox.active.imitation import candidate_corners_map, teacher_candidates

    alpha = np.zeros((40, 40))
    alpha[10:30, 10:30] = 1.0
    env = ActiveEnvironment(np.zeros((40, 40, 3)), colour_solver, alpha, region_size=4)
    allowed = np.zeros((37, 37), dtype=bool)
    allowed[0, 0] = allowed[12, 12] = allowed[12, 28] = True  # bg, fg, mixed
    picked = teacher_candidates(env, 6, allowed)
    assert sorted(picked) == [(0, 0, "bg"), (12, 12, "fg")]
    env.commit(env.try_answer(0, 0, "bg"))
    env.commit(env.try_answer(12, 12, "fg"))
    assert len(teacher_candidates(env, 6, allowed)) == 6  # none left: anywhere again
    image = np.random.default_rng(0).random((100, 100, 3))
    corners = candidate_corners_map(image, (100, 100), 5, 20, 32, 20)
    assert corners.shape == (96, 96) and 2 <= corners.sum() <= 20
    assert all(top % 5 == 0 and left % 5 == 0 for top, left in np.argwhere(corners))  # grid cells


def test_ideal_search_on_a_shrunk_copy_never_suggests_a_region_the_person_would_skip():
    alpha = np.zeros((80, 80))
    alpha[20:60, 20:60] = 1.0
    alpha[20:60:4, 20:60:4] = 0.99  # specks the 20 x 20 copy averages away (1 - 0.01 / 16)
    image = np.repeat(alpha[..., None], 3, axis=2)
    env = ActiveEnvironment(image, colour_solver, alpha, region_size=8)
    ideal = IdealStrategy(stride=1, search_size=20)
    ideal.reset(image)
    for _ in range(6):
        top, left = ideal.suggest(env)
        step = env.try_answer(top, left, env.oracle(top, left))
        assert step.answer != "skip"
        env.commit(step)


@pytest.mark.parametrize("options, named", [
    (dict(stride=0), "stride"), (dict(stride=2.5), "stride"), (dict(workers=0), "workers"),
    (dict(workers=10_000), "workers"), (dict(search_size=4), "search size"),
])
def test_the_ideal_search_refuses_bad_options_before_any_work(options, named):
    with pytest.raises(InputError, match=named):
        IdealStrategy(**options)


def test_a_downscaled_solver_keeps_labels_and_returns_full_size():
    from mattebox.active.environment import downscaled_solver

    calls = []

    def solver(img, trimap):
        calls.append(trimap.shape)
        return img[..., 0].copy()

    image = np.zeros((40, 40, 3))
    image[:, 20:] = 1.0
    trimap = np.full((40, 40), 0.5)
    trimap[:8, :8] = 0.0
    trimap[:8, 32:] = 1.0
    alpha = downscaled_solver(solver, 20)(image, trimap)
    assert calls == [(20, 20)] and alpha.shape == (40, 40)
    assert alpha[20, 5] < 0.05 and alpha[20, 35] > 0.95
    # an edge between two shrunk pixels comes back sharp: the matte follows the full-size image
    odd = np.zeros((40, 40, 3))
    odd[:, 21:] = 1.0
    np.testing.assert_allclose(downscaled_solver(solver, 20)(odd, trimap)[8:], odd[8:, :, 0], atol=0.02)
    session = ActiveSession(image, solver=solver, policy="random", work_size=40, solve_size=20)
    session.answer((0, 0), "bg")
    session.answer((0, 37), "fg")
    assert calls[-1] == (20, 20) and session.matte().shape == (40, 40)


def test_the_simulated_stroke_paints_only_pure_unlabelled_pixels(scene):
    image, alpha = scene
    env = ActiveEnvironment(resize_image(image, 64), colour_solver, resize_alpha(alpha, 64), 3)
    before = env.rmse
    labels = []
    for _ in range(4):
        stroke = env.oracle_stroke(radius=2, max_length=20)
        mask = stroke.mask(env.shape)
        truth = env.alpha[mask]
        assert (truth == 1.0).all() if stroke.label == "fg" else (truth == 0.0).all()
        assert (env.trimap[mask] == 0.5).all()  # nothing painted twice
        env.commit(env.try_stroke(stroke))
        labels.append(stroke.label)
    assert set(labels) == {"fg", "bg"} and env.rmse < before
    tiny = ActiveEnvironment(np.zeros((4, 4, 3)), colour_solver, np.full((4, 4), 0.5), 1)
    assert tiny.oracle_stroke() is None  # no pure pixel: nothing to paint
