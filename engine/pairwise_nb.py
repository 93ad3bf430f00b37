"""numpy's order of summation in compiled code: ``row_sum_nb(row)`` is ``row.sum()`` bit for bit.

numpy sums a contiguous run of floats pairwise (eight partial sums per block of up to 128 values,
blocks halved and added), not one after another, so a plain running sum differs in the last bits.
Compiled kernels that restate a numpy computation exactly (``engine.tracking_nb``, the exposure of
``engine.metrics``) sum with :func:`row_sum_nb` (``tests/engine/test_measured_simulation.py``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


@njit(cache=True)
def _block_sum_nb(a, lo, n):
    """numpy's sum of a block of at most 128 values: eight partial sums, then the rest one by one."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3, r4, r5, r6, r7 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _pairwise_nb(a):
    """numpy's pairwise sum of ``a``: halves (cut at a multiple of 8) summed apart down to blocks of 128.

    The halving runs on an explicit stack (Numba's cache does not keep recursive functions).
    """
    if len(a) <= _PAIRWISE_BLOCK:
        return _block_sum_nb(a, 0, len(a))
    nodes = np.empty((128, 3), dtype=np.int64)  # lo, n, next child to visit (0, 1, 2 = both done)
    sums = np.empty(128)
    top, done = 0, 0
    nodes[0, 0], nodes[0, 1], nodes[0, 2] = 0, len(a), 0
    while top >= 0:
        lo, n, child = nodes[top, 0], nodes[top, 1], nodes[top, 2]
        if n <= _PAIRWISE_BLOCK:
            sums[done] = _block_sum_nb(a, lo, n)
            done += 1
            top -= 1
            continue
        half = n // 2
        half -= half % 8
        if child == 2:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
            top -= 1
            continue
        nodes[top, 2] = child + 1
        top += 1
        nodes[top, 0], nodes[top, 1], nodes[top, 2] = (lo, half, 0) if child == 0 else (lo + half, n - half, 0)
    return sums[0]


@njit(cache=True)
def row_sum_nb(row):
    """``row.sum()`` of a contiguous float row exactly as numpy reduces it (``0.0 +`` the pairwise sum)."""
    return 0.0 + _pairwise_nb(row)
