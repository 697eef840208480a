"""Eq. 7 of Active Matting on hand-checkable cases, and the simulated user."""

from __future__ import annotations

import numpy as np
import pytest

from mattebox.active.environment import (
    ActiveEnvironment,
    corner_for,
    location_for,
    oracle_answer,
    solve_matte,
)
from mattebox.active.reward import best_candidate, region_rewards
from mattebox.errors import InputError


def test_best_region_earns_one_and_others_their_fraction():
    # drops 0.2 and 0.05: R = 0.2 / 0.2 and 0.05 / 0.2
    rewards, mask = region_rewards(0.5, [0.3, 0.45])
    assert rewards == pytest.approx([1.0, 0.25])
    assert mask.tolist() == [True, True]


def test_a_region_that_raises_the_error_earns_a_negative_fraction():
    rewards, _ = region_rewards(0.4, [0.3, 0.45])  # drops 0.1 and -0.05
    assert rewards == pytest.approx([1.0, -0.5])


def test_large_penalties_are_clipped_unless_asked_not_to():
    rewards, _ = region_rewards(0.4, [0.3999, 0.45])  # drops 1e-4 and -0.05: Eq. 7 gives -500
    assert rewards == pytest.approx([1.0, -1.0])
    rewards, _ = region_rewards(0.4, [0.3999, 0.45], clip=None)
    assert rewards == pytest.approx([1.0, -500.0])


def test_reward_is_invariant_to_the_error_scale():
    # ||.|| and RMSE differ by sqrt(N): Eq. 7 is a ratio, so the rewards are the same
    a, _ = region_rewards(0.5, [0.3, 0.4, 0.45])
    b, _ = region_rewards(0.5 * 400, [0.3 * 400, 0.4 * 400, 0.45 * 400])
    assert a == pytest.approx(b)


def test_skipped_regions_earn_nothing_and_leave_the_maximum():
    rewards, mask = region_rewards(0.5, [None, 0.45])
    assert rewards.tolist() == [0.0, 1.0]
    assert mask.tolist() == [False, True]
    # a skipped region does not dilute the others either
    rewards, mask = region_rewards(0.5, [0.3, None, 0.4])
    assert rewards == pytest.approx([1.0, 0.0, 0.5])
    assert mask.tolist() == [True, False, True]


def test_all_skipped_gives_no_reward():
    rewards, mask = region_rewards(0.5, [None, None])
    assert rewards.tolist() == [0.0, 0.0] and not mask.any()


def test_when_nothing_helps_rewards_scale_by_the_largest_harm():
    rewards, _ = region_rewards(0.3, [0.4, 0.35])  # drops -0.1, -0.05
    assert rewards == pytest.approx([-1.0, -0.5])
    rewards, _ = region_rewards(0.3, [0.3, 0.3])
    assert rewards.tolist() == [0.0, 0.0]


def test_answered_flag_must_match_errors():
    with pytest.raises(InputError):
        region_rewards(0.5, [None, 0.4], answered=[True, True])


def test_best_candidate_is_lowest_answered_error():
    assert best_candidate([0.4, 0.3, None]) == 1
    assert best_candidate([None, 0.5]) == 1
    assert best_candidate([None, None]) == 0


def test_oracle_answers_fg_bg_skip():
    alpha = np.zeros((10, 10))
    alpha[:, 5:] = 1.0
    alpha[0, 9] = 0.999  # within half an 8-bit step: still opaque
    rows = slice(0, 4)
    assert oracle_answer(alpha, rows, slice(0, 4)) == "bg"
    assert oracle_answer(alpha, rows, slice(6, 10)) == "fg"
    assert oracle_answer(alpha, rows, slice(3, 7)) == "skip"
    alpha[1, 7] = 0.9
    assert oracle_answer(alpha, rows, slice(6, 10)) == "skip"


def test_degenerate_trimaps_have_a_defined_matte():
    def never(image, trimap):
        raise AssertionError("the solver must not be called without both layers")

    image = np.zeros((6, 6, 3))
    trimap = np.full((6, 6), 0.5)
    assert np.all(solve_matte(image, trimap, never) == 0.5)
    trimap[0, 0] = 0.0  # background only: the unknown pixels stay 0.5
    matte = solve_matte(image, trimap, never)
    assert matte[0, 0] == 0.0 and np.all(matte.ravel()[1:] == 0.5)
    trimap[0, 0] = 1.0
    matte = solve_matte(image, trimap, never)
    assert matte[0, 0] == 1.0 and np.all(matte.ravel()[1:] == 0.5)


def test_corner_and_location_are_inverse_and_clamped():
    shape, size = (400, 400), 20
    assert corner_for((-1, -1), shape, size) == (0, 0)
    assert corner_for((1, 1), shape, size) == (380, 380)
    assert corner_for((5, -5), shape, size) == (380, 0)
    assert corner_for((0, 0), shape, size) == (190, 190)
    assert location_for(190, 95, shape, size) == pytest.approx((0.0, -0.5))


def test_skipped_step_changes_nothing_and_answered_step_lowers_error():
    image = np.zeros((40, 40, 3))
    image[:, 20:] = 1.0
    alpha = np.zeros((40, 40))
    alpha[:, 20:] = 1.0

    def solver(img, trimap):  # a perfect solver for this image
        return img[..., 0].copy()

    env = ActiveEnvironment(image, solver, alpha, region_size=10)
    assert env.rmse == pytest.approx(0.5)
    skipped = env.step((0.0, 0.0))  # straddles the edge at x = 20
    assert skipped.answer == "skip" and skipped.rmse == pytest.approx(0.5)
    assert np.all(env.trimap == 0.5)
    assert env.step((0.0, -1.0)).answer == "bg"
    assert env.rmse == pytest.approx(0.5 * np.sqrt(1 - 100 / 1600))  # only the region is known
    assert env.step((0.0, 1.0)).answer == "fg"
    assert env.rmse == 0.0
    assert [s.answer for s in env.history] == ["skip", "bg", "fg"]
