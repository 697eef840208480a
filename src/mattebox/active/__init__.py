"""Active matting (Yang et al., "Active Matting", NeurIPS 2018): a learned agent suggests
20 x 20 regions, a person answers foreground or background, a matte solver does the rest.

Modules: ``environment`` (accumulated trimap, solver in the loop, simulated user), ``reward``
(Eq. 7), ``policy`` (the recurrent network of Section 2.2), ``reinforce`` (Section 2.3
training), ``baselines`` (B1-B4 of Section 3.1), ``scenes`` (training images), ``session``
(:class:`ActiveSession` for people) and ``command`` (``mattebox active``). Importing this
package imports none of them (PyTorch loads only with the policy).
"""

from __future__ import annotations

__all__ = ["ActiveSession"]


def __getattr__(name: str):
    if name == "ActiveSession":
        from .session import ActiveSession

        return ActiveSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
