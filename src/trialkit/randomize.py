"""Randomization: stratified permuted blocks in the allocation ratio.

Patients arrive in order; each carries a combination of stratification levels (a *cell*). Within each cell, treatment
follows consecutive blocks that contain every arm ``allocation x block_multiple`` times in random order (Zelen 1974;
ICH E9 section 2.3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trialkit.study import Study


@dataclass(frozen=True)
class Randomization:
    """Result of randomizing ``n`` patients in arrival order."""

    arm: NDArray[np.int64]  # index into study.arms, shape (n,)
    strata: NDArray[np.int64]  # level index per stratification factor, shape (n, n_factors)
    cell: NDArray[np.int64]  # randomization cell (combination of levels), shape (n,)
    block: NDArray[np.int64]  # block number within the cell, shape (n,)


def draw_strata(study: Study, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Draw each patient's stratification levels independently from the study's prevalences."""
    cols = []
    for st in study.strata:
        p = np.asarray(st.prevalence, dtype=float)
        cols.append(np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1))
    if not cols:
        return np.zeros((n, 0), dtype=np.int64)
    return np.stack(cols, axis=1).astype(np.int64)


def permuted_blocks(
    strata: NDArray[np.int64], allocation: list[int], block_multiple: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Assign arms by permuted blocks within each stratum cell, patients taken in row order.

    Returns (arm index, cell index, block number).
    """
    n = strata.shape[0]
    if strata.shape[1]:
        _, cell = np.unique(strata, axis=0, return_inverse=True)
        cell = cell.ravel()
    else:
        cell = np.zeros(n, dtype=np.int64)
    base = np.repeat(np.arange(len(allocation)), np.asarray(allocation) * block_multiple)
    size = base.size
    arm = np.empty(n, dtype=np.int64)
    block = np.empty(n, dtype=np.int64)
    for c in range(int(cell.max()) + 1 if n else 0):
        idx = np.flatnonzero(cell == c)
        n_blocks = -(-idx.size // size)
        seq = rng.permuted(np.tile(base, (n_blocks, 1)), axis=1).ravel()
        arm[idx] = seq[: idx.size]
        block[idx] = np.arange(idx.size) // size
    return arm, cell.astype(np.int64), block


def randomize(study: Study, n: int, rng: np.random.Generator) -> Randomization:
    """Randomize ``n`` patients of ``study``: strata from their prevalences, then permuted blocks per cell."""
    strata = draw_strata(study, n, rng)
    arm, cell, block = permuted_blocks(
        strata, [a.allocation for a in study.arms], study.randomization.block_multiple, rng
    )
    return Randomization(arm=arm, strata=strata, cell=cell, block=block)
