"""Stratified permuted-block randomization of many trials at once (the rule of :mod:`trialkit.randomize`).

Each replicate trial enrols ``n`` patients in arrival order; each patient's strata are drawn from the study's
prevalences (:func:`trialkit.randomize.draw_strata`'s rule) and, within each randomization cell of each replicate,
treatment follows consecutive permuted blocks containing every arm ``allocation x block_multiple`` times (Zelen
1974; ICH E9 2.3.1). Vectorized over replicates: a stable sort of the cells within each replicate gives every
patient its rank in its cell, hence its block and slot; each block is an independent random permutation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trialkit.study import Study


def draw_strata(study: Study, n: int, rng: Any, xp: Any = np) -> Any:
    """Stratification levels, shape (n, n_factors): :func:`trialkit.randomize.draw_strata` for any array module."""
    cols = []
    for st in study.strata:
        p = np.asarray(st.prevalence, dtype=float)
        cdf = xp.asarray(np.cumsum(p / p.sum()))
        cols.append(xp.searchsorted(cdf, rng.random(n), side="right").clip(0, len(p) - 1).astype(np.int8))
    if not cols:
        return xp.zeros((n, 0), dtype=np.int8)
    return xp.stack(cols, axis=1)


def cell_index(strata: Any, n_levels: list[int], xp: Any = np) -> Any:
    """Mixed-radix index of the combination of levels (first factor slowest), shape strata.shape[:-1]."""
    cell = xp.zeros(strata.shape[:-1], dtype=np.int16)
    for j, k in enumerate(n_levels):
        cell = cell * k + strata[..., j].astype(np.int16)
    return cell


def permuted_blocks(cell: Any, n_cells: int, allocation: list[int], block_multiple: int, rng: Any,
                    xp: Any = np) -> Any:
    """Arm index (int8) of every patient, shape (R, n), from cells (R, n) in arrival order.

    Same rule as :func:`trialkit.randomize.permuted_blocks` within each replicate (row).
    """
    r, n = cell.shape
    base = np.repeat(np.arange(len(allocation), dtype=np.int8), np.asarray(allocation) * block_multiple)
    size = base.size
    order = xp.argsort(cell, axis=1, kind="stable")  # arrival order kept within a cell
    cs = xp.take_along_axis(cell, order, axis=1).astype(np.int64)
    key = (xp.arange(r, dtype=np.int64)[:, None] * n_cells + cs).ravel()  # (replicate, cell), sorted
    counts = xp.bincount(key, minlength=r * n_cells)
    starts = xp.cumsum(counts) - counts
    pos = xp.arange(r * n, dtype=np.int64) - xp.repeat(starts, counts)  # rank within the cell
    n_blocks = -(-counts // size)
    first_block = xp.cumsum(n_blocks) - n_blocks
    block = first_block[key] + pos // size
    total = int(n_blocks.sum())
    if hasattr(rng, "permuted"):  # numpy: Fisher-Yates per row
        slots = rng.permuted(xp.broadcast_to(xp.asarray(base), (total, size)), axis=1)
    else:  # generators without permuted (cupy): sort random keys
        slots = xp.asarray(base)[xp.argsort(rng.random((total, size)), axis=1)]
    arm_sorted = slots[block, pos % size].reshape(r, n)
    arm = xp.empty((r, n), dtype=np.int8)
    xp.put_along_axis(arm, order, arm_sorted, axis=1)
    return arm
