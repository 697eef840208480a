"""Classical matting solvers, one module per method, registered by name in :mod:`mattebox.registry`.

Shared machinery lives once: :mod:`.laplacian` (matting affinities and Laplacians),
:mod:`.linear` (sparse linear solvers) and :mod:`._common` (the unknown-only system).
"""
