"""Type III hypotheses of the fixed-effect terms as contrast matrices.

For a term with factors F and covariates C the hypothesis is built on the cell-mean function: the design row
of each combination of the levels of F, averaged with equal weights over the other factors, keeping only the
columns whose covariates are exactly C (the mixed partial derivative in C at all other covariates = 0), then
differenced across the levels of each factor in F (Kronecker product of "level minus first level" contrasts).
With all cells present this is the SAS Type III hypothesis (SAS/STAT User's Guide, "The Four Types of
Estimable Functions"; Goodnight 1980); note that, as in SAS, main effects of a factor that interacts with a
covariate are tested at covariate = 0.
"""

from __future__ import annotations

import itertools

import numpy as np

from trialkit.stats.mmrm.design import Design


def type3_contrasts(design: Design) -> dict[str, np.ndarray]:
    """Contrast matrix (full row rank) of each term's Type III hypothesis."""
    out: dict[str, np.ndarray] = {}
    lev = design.factor_levels
    for term in design.terms:
        F = list(term.factors)
        cset = set(term.covariates)
        others = [f for f in design.factors if f not in F]
        rows = []
        for combo in itertools.product(*[range(len(lev[f])) for f in F]):
            w = {f: np.full(len(lev[f]), 1.0 / len(lev[f])) for f in others}
            for f, lvl in zip(F, combo, strict=True):
                e = np.zeros(len(lev[f]))
                e[lvl] = 1.0
                w[f] = e
            row = np.zeros(len(design.columns))
            for j, col in enumerate(design.columns):
                if set(col.covariates) != cset:
                    continue
                v = 1.0
                for f, lvl in col.levels.items():
                    v *= w[f][lvl]
                row[j] = v
            rows.append(row)
        G = np.array(rows)
        D = np.ones((1, 1))
        for f in F:
            k = len(lev[f])
            Df = np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])
            D = np.kron(D, Df)
        L = D @ G
        # Keep the rows themselves (dropping dependent ones): the multi-df Satterthwaite approximation depends
        # on the basis, and "level minus reference level" is the basis SAS uses when ref= is that level.
        kept: list[np.ndarray] = []
        for row in L:
            cand = np.array(kept + [row])
            if np.linalg.matrix_rank(cand, tol=1e-9 * max(1.0, np.abs(L).max())) == len(cand):
                kept.append(row)
        out[term.label] = np.array(kept) if kept else np.zeros((0, L.shape[1]))
    return out
