"""Exact k nearest neighbours in a low-dimensional feature space: a k-d tree compiled with
Numba, built and queried on all threads.

Shared by the methods that join pixels to their nearest neighbours in colour and position
(``knn``; ``ifm``'s colour-mixture, K-to-U and intra-U flows). The tree splits each node's
bounding box at its midpoint on the widest side (sliding midpoint), keeps a leaf's points
together in memory, and a query visits the nearer child first and prunes by box distance.
Below its top levels the tree is grown on all threads, and each level reads its points once
(a child's box is found while its parent's points are partitioned). Neither the tree nor a
query's result depends on the number of threads: each query is independent and its
reductions run in a fixed order. On ifm's four searches of alphamatting-dev's GT04 / trimap2
the tree took 1.56 s against 2.54 s for scipy's ``cKDTree`` on two threads; the parallel
build halved the time of a build on 4K knn features (BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

#: Depth of the top of the tree that :func:`build_tree` splits on one thread before it grows
#: the subtrees below in parallel (16 subtrees: enough to share out among a few threads).
TOP_LEVELS = 4
#: Bound (exclusive) on the weights that knn and ifm give the pixel position (in [0, 1]) next
#: to colour (in [0, 1]) in their features: far above any useful weight, far below where
#: squared distances would overflow.
MAX_POSITION_WEIGHT = 1e6


def checked_position_weight(value: object, name: str) -> float:
    """``value`` as a float, or an InputError unless it is in [0, :data:`MAX_POSITION_WEIGHT`)."""
    from ..checks import option_number

    return option_number(value, name, minimum=0.0, below=MAX_POSITION_WEIGHT,
                         note=" (larger leaves colour no say)")


@njit(cache=True, inline="always")
def _node_guess(count, leaf_size):
    """Nodes that a subtree of ``count`` points usually needs: one leaf per half a leaf's worth
    of points. Sliding-midpoint splits can leave smaller leaves (at worst 2 count - 1 nodes),
    so a block this large may overflow; :func:`_grow` then says so and gets a larger one."""
    return 2 * (count // max(leaf_size // 2, 1) + 1) + 1


@njit(cache=True, inline="always")
def _bound_box(points, order, a, b, low, high, node):
    """Bounding box of the points order[a:b] into low[node], high[node]."""
    for d in range(points.shape[1]):
        low[node, d] = np.inf
        high[node, d] = -np.inf
    for t in range(a, b):
        for d in range(points.shape[1]):
            v = points[order[t], d]
            low[node, d] = min(low[node, d], v)
            high[node, d] = max(high[node, d], v)


@njit(cache=True)
def _grow(points, order, leaf_size, root, free, limit, start, stop, left, right, low, high, boxed,
          top_depth, big, frontier):
    """Split node ``root`` (its range already in start / stop) and, depth first, every node
    below it, numbering new nodes from ``free`` up to ``limit``; returns the next free number,
    or -1 if the nodes did not fit (``order`` within the root's range is then half sorted).
    A node's box is found while its parent's points are partitioned (``boxed``), so each
    level reads its points once.

    With ``top_depth`` >= 0, a node at that depth below ``root`` is not touched but appended
    to ``frontier`` (frontier[0] counts them) for :func:`build_tree` to grow in parallel;
    one of more than ``big`` points is split further, down to twice that depth.
    """
    dims = points.shape[1]
    stack = np.empty(64, dtype=np.int64)
    stack_depth = np.empty(64, dtype=np.int64)
    box = np.empty((4, dims))  # low / high of the left child, then of the right one
    stack[0] = root
    stack_depth[0] = 0
    depth = 1
    while depth > 0:
        depth -= 1
        node = stack[depth]
        level = stack_depth[depth]
        a, b = start[node], stop[node]
        if top_depth >= 0 and level >= top_depth and (b - a <= big or level == 2 * top_depth):
            frontier[0] += 1
            frontier[frontier[0]] = node
            continue
        if not boxed[node]:
            _bound_box(points, order, a, b, low, high, node)
        if b - a <= leaf_size:
            continue
        axis = 0
        for d in range(1, dims):
            if high[node, d] - low[node, d] > high[node, axis] - low[node, axis]:
                axis = d
        if high[node, axis] <= low[node, axis]:
            continue  # all points equal: keep a (large) leaf
        if free + 2 > limit:
            return -1
        cut = 0.5 * (low[node, axis] + high[node, axis])
        # Partition around the cut; each point is looked at once, and its side's box grows.
        l, r = free, free + 1
        for d in range(dims):
            box[0, d] = np.inf
            box[1, d] = -np.inf
            box[2, d] = np.inf
            box[3, d] = -np.inf
        i, j = a, b - 1
        while i <= j:
            p = order[i]
            if points[p, axis] < cut:
                for d in range(dims):
                    v = points[p, d]
                    box[0, d] = min(box[0, d], v)
                    box[1, d] = max(box[1, d], v)
                i += 1
            else:
                for d in range(dims):
                    v = points[p, d]
                    box[2, d] = min(box[2, d], v)
                    box[3, d] = max(box[3, d], v)
                order[i], order[j] = order[j], order[i]
                j -= 1
        for d in range(dims):
            low[l, d], high[l, d] = box[0, d], box[1, d]
            low[r, d], high[r, d] = box[2, d], box[3, d]
        boxed[l] = True
        boxed[r] = True
        if i == a or i == b:  # sliding midpoint never leaves a side empty here, but be safe
            i = (a + b) // 2
            boxed[l] = False
            boxed[r] = False
        left[node], right[node] = l, r
        start[l], stop[l] = a, i
        start[r], stop[r] = i, b
        if depth + 2 > stack.shape[0]:
            stack = np.concatenate((stack, np.empty_like(stack)))
            stack_depth = np.concatenate((stack_depth, np.empty_like(stack_depth)))
        stack[depth] = l
        stack[depth + 1] = r
        stack_depth[depth] = level + 1
        stack_depth[depth + 1] = level + 1
        depth += 2
        free += 2
    return free


@njit(cache=True)
def _grow_subtree(points, order, leaf_size, root, free, limit, start, stop, left, right, low, high,
                  boxed):
    """:func:`_grow` the whole subtree under ``root`` in node numbers [free, limit); returns the
    next free number, or -1 with ``order`` over the root's range as it was if it did not fit."""
    a, b = start[root], stop[root]
    saved = order[a:b].copy()
    left[root] = right[root] = -1
    grown = _grow(points, order, leaf_size, root, free, limit, start, stop, left, right, low,
                  high, boxed, -1, 0, np.zeros(1, dtype=np.int64))
    if grown < 0:
        order[a:b] = saved
    return grown


@njit(cache=True)
def _with_room(start, stop, left, right, low, high, boxed, size):
    """The node arrays with room for ``size`` nodes (new leaves: left / right -1)."""
    return (_grown(start, size, 0), _grown(stop, size, 0), _grown(left, size, -1),
            _grown(right, size, -1), _grown(low, size, 0.0), _grown(high, size, 0.0),
            _grown(boxed, size, False))


def build_tree(points: np.ndarray, leaf_size: int) -> tuple:
    """k-d tree of ``points`` (N x dims, float64) with leaves of at most ``leaf_size`` points
    (more only where points are equal): see :func:`_build_tree`.

    ValueError if a coordinate is not finite or the points spread so far that a squared
    distance between two of them overflows float64 (every query would then find nothing).
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.shape[0]:
        extent = points.max(axis=0) - points.min(axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            squared = float(np.sum(extent * extent))
        if not np.isfinite(squared):
            raise ValueError("the k-d tree's points must be finite and spread less than about "
                             "1e150 along each axis (squared distances would overflow)")
    return _build_tree(points, int(leaf_size), get_num_threads())


@njit(cache=True)
def _grown(array, size, fill):
    """``array`` (nodes first) with room for ``size`` nodes, new rows set to ``fill``."""
    if array.shape[0] >= size:
        return array
    more = np.empty((size - array.shape[0],) + array.shape[1:], dtype=array.dtype)
    more[...] = fill
    return np.concatenate((array, more))


@njit(cache=True, parallel=True)
def _build_tree(points, leaf_size, threads):
    """k-d tree by sliding-midpoint splits of each node's bounding box on its widest side.

    Returns (order, start, stop, left, right, low, high, ordered): node n holds points
    order[start[n]:stop[n]] inside the box [low[n], high[n]]; left/right are -1 at leaves;
    ``ordered`` is ``points[order]`` so that a leaf's points lie together in memory.

    The top levels (``TOP_LEVELS`` deep, deeper for nodes of more than half a thread's share
    of the points) are split on one thread; the subtrees below them, each on a range of
    ``order`` of its own and a block of node numbers of its own, are dealt out to the
    ``threads`` largest first and grown in parallel; a subtree that outgrows its block is
    grown again, from its range as it was, in a block twice as large; the nodes are then
    renumbered into arrays without gaps, each child after its parent. Each node is split by
    the same rule whatever the order in which nodes are visited, so the tree (its splits and
    ``order``) is the same on any number of threads; only the nodes' numbers depend on the
    schedule.
    """
    n, dims = points.shape
    order = np.arange(n)
    # The top levels make at most 2**(2 TOP_LEVELS + 1) - 1 nodes: they always fit.
    capacity = max(_node_guess(n, leaf_size), 2 ** (2 * TOP_LEVELS + 1))
    start = np.empty(capacity, dtype=np.int64)
    stop = np.empty(capacity, dtype=np.int64)
    left = np.full(capacity, -1, dtype=np.int64)
    right = np.full(capacity, -1, dtype=np.int64)
    low = np.empty((capacity, dims))
    high = np.empty((capacity, dims))
    boxed = np.zeros(capacity, dtype=np.bool_)
    start[0], stop[0] = 0, n
    frontier = np.zeros(4**TOP_LEVELS + 1, dtype=np.int64)
    top = _grow(points, order, leaf_size, 0, 1, capacity, start, stop, left, right, low, high,
                boxed, TOP_LEVELS, n // (2 * max(threads, 1)), frontier)
    if top < 0:
        raise RuntimeError("k-d tree: the top levels outgrew their nodes")
    count = frontier[0]
    subtrees = frontier[1:count + 1].copy()
    # A block of node numbers per subtree, as large as it usually needs.
    first = np.empty(count, dtype=np.int64)
    end = top
    for s in range(count):
        first[s] = end
        end += _node_guess(stop[subtrees[s]] - start[subtrees[s]], leaf_size)
    start, stop, left, right, low, high, boxed = _with_room(start, stop, left, right, low, high,
                                                            boxed, end)
    limit = np.empty(count, dtype=np.int64)
    limit[:count - 1] = first[1:]
    if count > 0:
        limit[count - 1] = end
    # Largest subtree first onto the least loaded thread; then one share per thread.
    shares = max(1, min(threads, count))
    share_of = np.empty(count, dtype=np.int64)
    load = np.zeros(shares, dtype=np.int64)
    for s in np.argsort(start[subtrees] - stop[subtrees], kind="mergesort"):
        least = np.argmin(load)
        share_of[s] = least
        load[least] += stop[subtrees[s]] - start[subtrees[s]]
    grown = np.zeros(count, dtype=np.int64)
    for share in prange(shares):
        for s in range(count):
            if share_of[s] == share:
                grown[s] = _grow_subtree(points, order, leaf_size, subtrees[s], first[s], limit[s],
                                         start, stop, left, right, low, high, boxed)
    # Second tries, one subtree at a time, each in a new block at the end, doubled until it fits.
    for s in range(count):
        block = 2 * (limit[s] - first[s])
        while grown[s] < 0:
            first[s] = end
            end += block
            block *= 2
            start, stop, left, right, low, high, boxed = _with_room(start, stop, left, right, low,
                                                                    high, boxed, end)
            grown[s] = _grow_subtree(points, order, leaf_size, subtrees[s], first[s], end, start,
                                     stop, left, right, low, high, boxed)
    used = grown - first
    # Renumber: the top nodes keep their numbers, the blocks follow one another.
    nodes = top + used.sum()
    keep = np.empty(nodes, dtype=np.int64)
    renumber = np.full(end, -1, dtype=np.int64)
    keep[:top] = np.arange(top)
    renumber[:top] = np.arange(top)
    filled = top
    for s in range(count):
        for m in range(first[s], first[s] + used[s]):
            keep[filled] = m
            renumber[m] = filled
            filled += 1
    start, stop, low, high = start[keep], stop[keep], low[keep], high[keep]
    left, right = left[keep], right[keep]
    for node in range(nodes):
        if left[node] >= 0:
            left[node] = renumber[left[node]]
            right[node] = renumber[right[node]]
    ordered = np.empty_like(points)
    for t in prange(n):
        ordered[t] = points[order[t]]
    return order, start, stop, left, right, low, high, ordered


@njit(cache=True, inline="always")
def _box_distance(query, low, high, node):
    s = 0.0
    for d in range(query.shape[0]):
        v = query[d]
        if v < low[node, d]:
            s += (low[node, d] - v) ** 2
        elif v > high[node, d]:
            s += (v - high[node, d]) ** 2
    return s


#: From this many queries on, :func:`query_tree` answers them in Z order.
Z_ORDER_QUERIES = 4096


def query_tree(tree: tuple, queries: np.ndarray, k: int, bounds: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and squared distances of the k nearest points of ``tree`` (:func:`build_tree`)
    to each of the ``queries`` (Q x dims), exact, nearest first.

    ``bounds`` (Q, squared): only points strictly closer are reported; slots left empty hold
    -1. Many queries are answered in Z order of their coordinates (:func:`morton_order`), so
    that queries answered one after the other walk the same nodes while they are in cache;
    each is answered on its own, so the result is the same in any order (ours; 0.87x / 0.72x
    the time of raster order on the two neighbour sets of knn at 4K, BENCHMARKS.md).
    """
    if int(k) < 1:
        raise ValueError(f"the number of neighbours k must be at least 1, not {k}")
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    bounds = np.ascontiguousarray(bounds, dtype=np.float64)
    if queries.shape[0] >= Z_ORDER_QUERIES:
        visit = morton_order(queries)
    else:
        visit = np.arange(queries.shape[0])
    return _query_tree(tree, queries, int(k), bounds, visit)


@njit(cache=True, parallel=True)
def _query_tree(tree, queries, k, bounds, visit):
    """:func:`query_tree`, the queries answered in the order ``visit`` (a permutation)."""
    order, start, stop, left, right, low, high, points = tree
    count = queries.shape[0]
    found = np.full((count, k), -1, dtype=np.int64)
    found_d = np.empty((count, k))
    # A descent pushes at most one node more per level: the stack needs the tree's depth + 1.
    depth_of = np.zeros(left.shape[0], dtype=np.int64)
    deepest = 0
    for node in range(left.shape[0]):  # children are numbered after their parent
        if left[node] >= 0:
            depth_of[left[node]] = depth_of[right[node]] = depth_of[node] + 1
            deepest = max(deepest, depth_of[node] + 1)
    chunk = 256
    for c in prange((count + chunk - 1) // chunk):
        stack = np.empty(deepest + 2, dtype=np.int64)
        stack_d = np.empty(deepest + 2)
        for r in range(c * chunk, min(count, (c + 1) * chunk)):
            q = visit[r]
            query = queries[q]
            best = found_d[q]
            index = found[q]
            for t in range(k):
                best[t] = bounds[q]
            depth = 0
            stack[0] = 0
            stack_d[0] = _box_distance(query, low, high, 0)
            depth = 1
            while depth > 0:
                depth -= 1
                node = stack[depth]
                if stack_d[depth] >= best[k - 1]:
                    continue
                if left[node] < 0:
                    for t in range(start[node], stop[node]):
                        s = 0.0
                        for d in range(query.shape[0]):
                            s += (points[t, d] - query[d]) ** 2
                        if s < best[k - 1]:
                            u = k - 1
                            while u > 0 and best[u - 1] > s:
                                best[u] = best[u - 1]
                                index[u] = index[u - 1]
                                u -= 1
                            best[u] = s
                            index[u] = t
                    continue
                near, far = left[node], right[node]
                dn = _box_distance(query, low, high, near)
                df = _box_distance(query, low, high, far)
                if dn > df:
                    near, far, dn, df = far, near, df, dn
                if df < best[k - 1]:
                    stack[depth] = far
                    stack_d[depth] = df
                    depth += 1
                stack[depth] = near
                stack_d[depth] = dn
                depth += 1
            for t in range(k):
                if index[t] >= 0:
                    index[t] = order[index[t]]
    return found, found_d


def order_bound(points: np.ndarray, order: np.ndarray, k: int, reach: int) -> np.ndarray:
    """Per point, the squared distance to its k-th nearest (itself first) among the ``reach``
    points on either side of it in ``order``: an upper bound on its true k-th distance (inf
    where fewer than k points lie within reach)."""
    if int(k) < 1:
        raise ValueError(f"the number of neighbours k must be at least 1, not {k}")
    return _order_bound(points, order, int(k), int(reach))


@njit(cache=True, parallel=True)
def _order_bound(points, order, k, reach):
    n = points.shape[0]
    bound = np.full(n, np.inf)
    chunk = 1024
    for c in prange((n + chunk - 1) // chunk):
        best = np.empty(k)
        for r in range(c * chunk, min(n, (c + 1) * chunk)):
            p = order[r]
            lo, hi = max(0, r - reach), min(n, r + reach + 1)
            if hi - lo < k:
                continue
            for t in range(k):
                best[t] = np.inf
            for t in range(lo, hi):
                s = 0.0
                for d in range(points.shape[1]):
                    s += (points[order[t], d] - points[p, d]) ** 2
                if s < best[k - 1]:
                    u = k - 1
                    while u > 0 and best[u - 1] > s:
                        best[u] = best[u - 1]
                        u -= 1
                    best[u] = s
            bound[p] = best[k - 1]
    return bound


@njit(cache=True, parallel=True)
def _morton_codes(points, low, span, bits):
    """Z-order code of each point: its coordinates quantised to ``bits`` bits each over
    [low, low + span], the bits interleaved from the most significant down, first
    coordinate first."""
    n, dims = points.shape
    top = 2**bits - 1
    codes = np.empty(n, dtype=np.uint64)
    for i in prange(n):
        code = np.uint64(0)
        for bit in range(bits - 1, -1, -1):
            for d in range(dims):
                cell = min(np.uint64((points[i, d] - low[d]) / span[d] * 2.0**bits), np.uint64(top))
                code = (code << np.uint64(1)) | ((cell >> np.uint64(bit)) & np.uint64(1))
        codes[i] = code
    return codes


def morton_order(points: np.ndarray) -> np.ndarray:
    """Points sorted along a Z-order curve of their (quantised, 12 bits per coordinate)
    coordinates; ties keep their index order."""
    low = points.min(axis=0)
    span = np.maximum(points.max(axis=0) - low, 1e-12)
    codes = _morton_codes(np.ascontiguousarray(points, dtype=np.float64), low, span, 12)
    return np.argsort(codes, kind="stable")
