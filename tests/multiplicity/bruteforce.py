"""Brute-force closed testing written from the definitions, independent of trialkit.multiplicity.

Intersection weights: remove the hypotheses outside J one by one (Bretz et al. 2009, Algorithm 1 update) in a
random order; local tests by their literal definitions; adjusted p-value of H_i = max over J containing i.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
from scipy import stats


def remove(w: list[float], g: list[list[float]], j: int) -> tuple[list[float], list[list[float]]]:
    m = len(w)
    w2 = [0.0 if l == j else w[l] + w[j] * g[j][l] for l in range(m)]
    g2 = [[0.0] * m for _ in range(m)]
    for l in range(m):
        for k in range(m):
            if l in (k, j) or k == j:
                continue
            d = 1.0 - g[l][j] * g[j][l]
            g2[l][k] = (g[l][k] + g[l][j] * g[j][k]) / d if d > 0 else 0.0
    return w2, g2


def all_intersection_weights(w, g, seed: int = 0) -> dict[tuple[int, ...], list[float]]:
    rnd = random.Random(seed)
    m = len(w)
    out = {}
    for r in range(1, m + 1):
        for J in itertools.combinations(range(m), r):
            drop = [i for i in range(m) if i not in J]
            rnd.shuffle(drop)
            ww, gg = list(map(float, w)), [list(map(float, row)) for row in g]
            for j in drop:
                ww, gg = remove(ww, gg, j)
            out[J] = ww
    return out


def local_p(p, w, J, method, groups=None, corr=None) -> float:
    groups = groups or [list(range(len(p)))]
    q = float("inf")
    for grp in groups:
        h = [i for i in grp if i in J and w[i] > 0]
        if not h:
            continue
        if method == "bonferroni":
            qh = min(p[i] / w[i] if p[i] / w[i] < 1e300 else float("inf") for i in h)
        elif method == "simes":
            qh = min(min(p[i] / sum(w[k] for k in h if p[k] <= p[i]), float("inf")) for i in h)
        elif method == "hochberg":
            k = len(h)
            W = sum(w[i] for i in h)
            qh = min(p[i] * (k - sum(1 for j in h if p[j] <= p[i]) + 1) / W for i in h)
        elif method == "parametric":
            t = min(p[i] / w[i] for i in h)
            z = np.array([stats.norm.isf(min(w[i] * t, 1.0)) for i in h])
            if len(h) == 1:
                prob = stats.norm.sf(z[0])
            else:
                c = np.asarray(corr)[np.ix_(h, h)]
                prob = 1.0 - stats.multivariate_normal(np.zeros(len(h)), c, abseps=1e-12, releps=0).cdf(z)
            qh = prob / sum(w[i] for i in h)
        else:
            raise ValueError(method)
        q = min(q, qh)
    return min(q, 1.0)


def closed_test(w, g, p, method="bonferroni", alpha=0.025, groups=None, corr=None, weights_table=None):
    """(adjusted p-values, rejected) of the closed test."""
    table = weights_table or all_intersection_weights(w, g)
    m = len(p)
    adj = [0.0] * m
    rej = [True] * m
    for J, wJ in table.items():
        q = local_p(p, wJ, J, method, groups, corr)
        for i in J:
            adj[i] = max(adj[i], q)
            if q > alpha:
                rej[i] = False
    return np.minimum(adj, 1.0), np.array(rej)


def sequential_rejections(w, g, p, alpha, rnd: random.Random | None = None) -> set[int]:
    """Algorithm 1, rejecting a *random* rejectable hypothesis at each step (order must not matter)."""
    w, g = list(map(float, w)), [list(map(float, r)) for r in g]
    active = set(range(len(w)))
    done: set[int] = set()
    while True:
        cand = [j for j in active if w[j] > 0 and p[j] <= w[j] * alpha]
        if not cand:
            return done
        j = rnd.choice(cand) if rnd else cand[0]
        done.add(j)
        active.discard(j)
        w, g = remove(w, g, j)
