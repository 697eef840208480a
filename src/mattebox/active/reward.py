"""The step reward of Active Matting (Yang et al. 2018), Eq. 7.

At step i the policy draws S candidate regions; candidate j lowers the error from e_{i-1} to
e_i^j, a drop d^j = e_{i-1} - e_i^j, and earns

    R_i^j = d^j / max_k d^k                                                    (Eq. 7)

so the best candidate earns 1 and the others their fraction of its drop. The paper writes the
error as ||alpha - alpha_gt||; we use the RMSE of Eq. 2, which is that norm divided by sqrt(N),
so the ratio is the same.

Where the paper is silent:

* A skipped candidate (the user could not label it, Section 2.3) earns nothing: it is left
  out of the maximum and masked out of the loss (``answered`` False, reward 0).
* When no answered candidate lowers the error (max d <= 0) the maximum is a useless scale;
  we divide by max_k |d^k| instead, so the least harmful candidate earns the least negative
  reward and rewards stay in [-1, 0]. When every drop is 0 every reward is 0.
* Rewards are clipped to [-``clip``, 1] (default clip = 1). Unclipped, a best drop of 1e-4
  beside a rise of 0.05 gives a reward of -500, and a few of those swamp the gradient (we saw
  baseline losses in the thousands). The paper calls the rewards "percentages of RMSE
  reduction", which clipping keeps.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError


def region_rewards(
    previous_error: float,
    candidate_errors: Sequence[float | None],
    answered: Sequence[bool] | None = None,
    clip: float | None = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 7 rewards of S candidate regions, and the mask of those that earn one.

    Parameters
    ----------
    previous_error
        RMSE of the matte before this step, e_{i-1}.
    candidate_errors
        RMSE after each candidate's answer, e_i^j; None for a skipped candidate.
    answered
        Whether each candidate was labelled; by default, those whose error is not None.
    clip
        Rewards below ``-clip`` are raised to it; None leaves them as Eq. 7 gives them.

    Returns
    -------
    rewards, mask
        float64 and bool arrays of length S; ``rewards[j]`` is 0 where ``mask[j]`` is False.

    Examples
    --------
    >>> region_rewards(0.5, [0.3, 0.4])[0].tolist()
    [1.0, 0.5]
    >>> region_rewards(0.5, [0.3, None])
    (array([1., 0.]), array([ True, False]))
    """
    errors = list(candidate_errors)
    if answered is None:
        answered = [e is not None for e in errors]
    mask = np.asarray(list(answered), dtype=bool)
    if mask.shape != (len(errors),):
        raise InputError(f"got {len(errors)} candidate errors but {mask.size} answered flags")
    if any(m and e is None for m, e in zip(mask, errors)):
        raise InputError("an answered candidate needs an error; pass None only for skipped ones")
    drops = np.array([previous_error - e if m else 0.0 for m, e in zip(mask, errors)], dtype=np.float64)
    rewards = np.zeros(len(errors))
    if not mask.any():
        return rewards, mask
    best = float(drops[mask].max())
    scale = best if best > 0 else float(np.abs(drops[mask]).max())
    if scale > 0:
        rewards[mask] = drops[mask] / scale
    if clip is not None:
        rewards[mask] = np.maximum(rewards[mask], -float(clip))
    return rewards, mask


def best_candidate(candidate_errors: Sequence[float | None]) -> int:
    """Index of the candidate that continues the episode: the answered one with the lowest
    error (Section 2.3, "we select the best one"); the first candidate if none was answered."""
    best, best_error = 0, None
    for j, error in enumerate(candidate_errors):
        if error is not None and (best_error is None or error < best_error):
            best, best_error = j, error
    return best
