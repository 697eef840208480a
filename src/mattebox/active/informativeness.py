"""A per-pixel informativeness heat map: where a person's next answer would help most.

Beyond the paper (its future work: "providing suggestions to the user directly on the image
with the probability of being informative"). A heuristic, not learned and needing no ground
truth, cheap enough to redraw after every answer (a few milliseconds at 400 x 400):

    I(p) = mean over the region window W(p) of 4 alpha (1 - alpha)  *  (1 - exp(-d(p) / r))

The first factor is the current matte's indecision around p (1 where alpha = 0.5, 0 where it
is 0 or 1); the second grows with the distance d(p) to the nearest answered pixel (r the region
side), since an answer next to another one adds little. Values are in [0, 1].
"""

from __future__ import annotations

import numpy as np

from .. import checks


def informativeness_map(matte: np.ndarray, trimap: np.ndarray, region_size: int = 20) -> np.ndarray:
    """The heat map of the module docstring, H x W in [0, 1]."""
    import cv2
    from scipy import ndimage

    matte = checks.as_alpha(matte, "matte")
    trimap = checks.as_trimap(trimap)
    checks.check_same_size(matte, trimap, "matte", "trimap")
    size = max(1, int(region_size))
    indecision = cv2.blur((4.0 * matte * (1.0 - matte)).astype(np.float32), (size, size),
                          borderType=cv2.BORDER_REFLECT).astype(np.float64)
    known = trimap != 0.5
    if known.any():
        distance = ndimage.distance_transform_edt(~known)
        novelty = 1.0 - np.exp(-distance / size)
    else:
        novelty = np.ones(matte.shape)
    return np.clip(indecision * novelty, 0.0, 1.0)


def heat_map_image(image: np.ndarray, heat: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """``heat`` drawn over a grey copy of ``image`` (RGB float in [0, 1]), for a preview."""
    import matplotlib

    colours = matplotlib.colormaps["inferno"](np.clip(heat, 0, 1))[..., :3]
    grey = np.repeat(np.asarray(image, np.float64).mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip((1 - opacity) * grey + opacity * colours, 0.0, 1.0)
