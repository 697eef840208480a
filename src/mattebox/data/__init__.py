"""Training data: procedural foregrounds, composition over natural photos, the papers'
augmentation recipes and map-style datasets.

- :mod:`mattebox.data.procedural` — (F, alpha) pairs of hair, nets, foliage, transparent
  objects, blurred objects and complex solids, deterministic from a seed.
- :mod:`mattebox.data.composition` — ``I = alpha F + (1 - alpha) B``, the Composition-1k
  protocol, the train / validation split of the background photos, the synthetic test set.
- :mod:`mattebox.data.augment` — the DIM, AlphaGAN, AdaMatting, TCP and semantic-guided
  recipes as pipelines of small transforms (``get_pipeline(name, size)``).
- :mod:`mattebox.data.datasets` — ``ProceduralMattingDataset`` and ``FolderMattingDataset``.

Names are imported lazily, so ``import mattebox.data`` costs nothing until one is used.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "KINDS": "procedural", "generate_foreground": "procedural", "write_foregrounds": "procedural",
    "stream_foregrounds": "procedural",
    "composite": "composition", "fit_background": "composition", "split_backgrounds": "composition",
    "backgrounds_dir": "composition", "make_test_set": "composition", "ensure_test_set": "composition",
    "compose_dataset": "composition",
    "get_pipeline": "augment", "list_pipelines": "augment", "trimap_from_alpha": "augment",
    "ProceduralMattingDataset": "datasets", "FolderMattingDataset": "datasets", "worker_init": "datasets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
