"""Normal orthant probabilities for the parametric (Dunnett-type) intersection tests.

The bivariate case, the one two doses against a shared placebo produce, uses Genz's (2004) double-precision
algorithm (Drezner and Wesolowsky 1990, as refined in A. Genz, "Numerical computation of rectangular bivariate and
trivariate normal and t probabilities", Statistics and Computing 14:251-260), vectorized over any number of
evaluation points. Higher dimensions fall back to ``scipy.stats.multivariate_normal.cdf`` (Genz's quasi-Monte
Carlo method; absolute error about 1e-7 with the settings used here).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

# Gauss-Legendre abscissae/weights on [-1, 1] (positive half), n = 6, 12, 20 (Genz 2004, bvnu).
_GL = {
    3: (
        np.array([0.9324695142031522, 0.6612093864662647, 0.2386191860831970]),
        np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904]),
    ),
    6: (
        np.array([0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
                  0.5873179542866171, 0.3678314989981802, 0.1252334085114692]),
        np.array([0.04717533638651177, 0.1069393259953183, 0.1600783285433464,
                  0.2031674267230659, 0.2334925365383547, 0.2491470458134029]),
    ),
    10: (
        np.array([0.9931285991850949, 0.9639719272779138, 0.9122344282513259, 0.8391169718222188,
                  0.7463319064601508, 0.6360536807265150, 0.5108670019508271, 0.3737060887154196,
                  0.2277858511416451, 0.07652652113349733]),
        np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475,
                  0.1019301198172404, 0.1181945319615184, 0.1316886384491766, 0.1420961093183821,
                  0.1491729864726037, 0.1527533871307259]),
    ),
}


def _phi_upper(x: np.ndarray) -> np.ndarray:
    """P(Z > x), accurate in the far tail."""
    return special.ndtr(-x)


def bvn_upper(h: np.ndarray, k: np.ndarray, r: float) -> np.ndarray:
    """P(X > h, Y > k) for a standard bivariate normal with correlation ``r`` (Genz 2004, ``bvnu``).

    ``h`` and ``k`` broadcast against each other; ``r`` is a scalar. Infinite limits are handled.
    """
    h, k = np.broadcast_arrays(np.asarray(h, dtype=float), np.asarray(k, dtype=float))
    out = np.empty(h.shape, dtype=float)
    fin = np.isfinite(h) & np.isfinite(k)
    # Infinite limits: P(X > inf, .) = 0; P(X > -inf, Y > k) = P(Y > k).
    out[~fin] = np.where(
        (h[~fin] == np.inf) | (k[~fin] == np.inf),
        0.0,
        np.where(h[~fin] == -np.inf, _phi_upper(np.where(k[~fin] == -np.inf, -np.inf, k[~fin])),
                 _phi_upper(h[~fin])),
    )
    if not fin.any():
        return out
    hh, kk = h[fin], k[fin]
    out[fin] = _bvnu_finite(hh, kk, float(r))
    return out


def _bvnu_finite(h: np.ndarray, k: np.ndarray, r: float) -> np.ndarray:
    ar = abs(r)
    lg = 3 if ar < 0.3 else (6 if ar < 0.75 else 10)
    x, w = _GL[lg]
    hk = h * k
    if ar < 0.925:
        hs = (h * h + k * k) / 2.0
        asr = np.arcsin(r)
        bvn = np.zeros_like(h)
        for xi, wi in zip(x, w, strict=True):
            for sgn in (-1.0, 1.0):
                sn = np.sin(asr * (1.0 + sgn * xi) / 2.0)
                bvn += wi * np.exp((sn * hk - hs) / (1.0 - sn * sn))
        return np.clip(bvn * asr / (4.0 * np.pi) + _phi_upper(h) * _phi_upper(k), 0.0, 1.0)
    twopi = 2.0 * np.pi
    if r < 0:
        k = -k
        hk = -hk
    bvn = np.zeros_like(h)
    if ar < 1.0:
        as_ = (1.0 - r) * (1.0 + r)
        a = np.sqrt(as_)
        bs = (h - k) ** 2
        c = (4.0 - hk) / 8.0
        d = (12.0 - hk) / 16.0
        asr = -(bs / as_ + hk) / 2.0
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            t1 = a * np.exp(asr) * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0 + c * d * as_ * as_ / 5.0)
            bvn = np.where(asr > -100.0, t1, 0.0)
            b = np.sqrt(bs)
            sp = np.sqrt(twopi) * special.ndtr(-b / a)
            t2 = np.exp(-hk / 2.0) * sp * b * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0)
            bvn = bvn - np.where(hk > -100.0, t2, 0.0)
            a2 = a / 2.0
            for xi, wi in zip(x, w, strict=True):
                for sgn in (-1.0, 1.0):
                    xs = (a2 * (sgn * xi + 1.0)) ** 2
                    rs = np.sqrt(1.0 - xs)
                    asr2 = -(bs / xs + hk) / 2.0
                    sp2 = 1.0 + c * xs * (1.0 + d * xs)
                    ep = np.exp(-hk * (1.0 - rs) / (2.0 * (1.0 + rs))) / rs
                    term = a2 * wi * np.exp(asr2) * (ep - sp2)
                    bvn = bvn + np.where(asr2 > -100.0, term, 0.0)
        bvn = -bvn / twopi
    if r > 0:
        bvn = bvn + _phi_upper(np.maximum(h, k))
    else:
        low = np.where(h < 0, special.ndtr(k) - special.ndtr(h), _phi_upper(h) - _phi_upper(k))
        bvn = np.where(h >= k, -bvn, low - bvn)
    return np.clip(bvn, 0.0, 1.0)


def prob_any_exceeds(z: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """P(Z_i > z_i for at least one i) for Z ~ N(0, corr); ``z`` has shape (..., d).

    Computed without the cancellation of ``1 - cdf`` where possible: for d = 2 by inclusion-exclusion,
    P(Z1 > z1) + P(Z2 > z2) - P(Z1 > z1, Z2 > z2).
    """
    z = np.asarray(z, dtype=float)
    d = z.shape[-1]
    if d == 1:
        return _phi_upper(z[..., 0])
    if d == 2:
        r = float(corr[0, 1])
        both = bvn_upper(z[..., 0], z[..., 1], r)
        return np.clip(_phi_upper(z[..., 0]) + _phi_upper(z[..., 1]) - both, 0.0, 1.0)
    flat = z.reshape(-1, d)
    out = np.empty(flat.shape[0])
    mvn = stats.multivariate_normal(
        mean=np.zeros(d), cov=corr, allow_singular=True, seed=20240611, maxpts=200_000 * d, abseps=1e-9, releps=0.0
    )
    for i, zi in enumerate(flat):
        if np.all(zi == np.inf):
            out[i] = 0.0
            continue
        zi = np.minimum(zi, 40.0)
        out[i] = 1.0 - mvn.cdf(zi)
    return np.clip(out, 0.0, 1.0).reshape(z.shape[:-1])
