"""numba kernels of :mod:`trialkit.design.fast` (imported only when that path runs; see there for the model).

Hot helpers take and return scalars only (the generator state travels as two uint64 values) and read the
constant tables as globals: passing arrays to a non-inlined numba function costs reference counting on every call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import int64, njit, prange, uint64

from trialkit.design.fast import FI as _FI
from trialkit.design.fast import KI, LOG_HALF_STEPS, LOG_SIGN_W, W_REGION, WI, ZIG_R

KI44 = (KI >> np.uint64(8)).astype(np.int64)  # 44-bit magnitudes: the low 9 of 53 bits pick layer and sign
WI44 = WI * 256.0
WS44 = np.concatenate([WI44, -WI44])  # signed widths by the low 9 bits (layer, sign)
FI = _FI.copy()
STEPS = LOG_HALF_STEPS.copy()
LSW = LOG_SIGN_W.copy()
WR = W_REGION.copy()
INV53 = 1.0 / 9007199254740992.0
LOG6 = math.log(6.0)
LOG72 = math.log(72.0)

#: Floating-point licences without assumptions about NaN or infinity (results are reproducible on one machine).
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
_inl = njit(inline="always", nogil=True, cache=True, fastmath=FAST, error_model="numpy")
_jit = njit(nogil=True, cache=True, fastmath=FAST, error_model="numpy")


@_inl
def nx(s0: Any, s1: Any) -> Any:
    """xoroshiro128++: (64-bit output, new state)."""
    t = s0 + s1
    res = ((t << uint64(17)) | (t >> uint64(47))) + s0
    s1 ^= s0
    return res, ((s0 << uint64(49)) | (s0 >> uint64(15))) ^ s1 ^ (s1 << uint64(21)), \
        (s1 << uint64(28)) | (s1 >> uint64(36))


@_inl
def uniform(s0: Any, s1: Any) -> Any:
    u, s0, s1 = nx(s0, s1)
    return float(int64(u >> uint64(11))) * INV53, s0, s1


@_inl
def below(s0: Any, s1: Any, k: int) -> Any:
    """Integer in [0, k) (Lemire's multiply-shift)."""
    u, s0, s1 = nx(s0, s1)
    return int64(((u >> uint64(32)) * uint64(k)) >> uint64(32)), s0, s1


@_jit
def tail(s0: Any, s1: Any, negative: int) -> Any:
    """The ziggurat's base-layer tail beyond ZIG_R (Marsaglia 1964), with the sign of the candidate."""
    while True:
        u, s0, s1 = uniform(s0, s1)
        v, s0, s1 = uniform(s0, s1)
        xx = -(1.0 / ZIG_R) * math.log1p(-u)
        yy = -math.log1p(-v)
        if yy + yy > xx * xx:
            return (-(ZIG_R + xx) if negative else ZIG_R + xx), s0, s1


@_jit
def normal_slow(s0: Any, s1: Any, r: int) -> Any:
    """The ziggurat's rare path (wedges and tail), then fresh tries."""
    while True:
        idx = r & 0xFF
        rabs = r >> 9
        x = float(rabs) * WI44[idx] * (1.0 - 2.0 * float((r >> 8) & 1))
        if rabs < KI44[idx]:
            return x, s0, s1
        if idx == 0:
            return tail(s0, s1, (r >> 8) & 1)
        u, s0, s1 = uniform(s0, s1)
        if (FI[idx - 1] - FI[idx]) * u + FI[idx] < math.exp(-0.5 * x * x):
            return x, s0, s1
        w, s0, s1 = nx(s0, s1)
        r = int64(w >> uint64(11))


@_inl
def normal(s0: Any, s1: Any) -> Any:
    """Standard normal: 256-layer ziggurat (Marsaglia & Tsang 2000; numpy's tables and tail rule)."""
    u, s0, s1 = nx(s0, s1)
    r = int64(u >> uint64(11))
    idx = r & 0xFF
    rabs = r >> 9
    if rabs < KI44[idx]:
        return float(rabs) * WS44[r & 0x1FF], s0, s1
    return normal_slow(s0, s1, r)


KI23 = (KI >> np.uint64(29)).astype(np.int64)  # 23-bit magnitudes (numpy's float32 ziggurat resolution)
WI23 = WI * 2.0**29
WS23 = np.concatenate([WI23, -WI23])


@_jit
def normal_slow32(s0: Any, s1: Any, r: int) -> Any:
    """The rare path of a 32-bit candidate ``r`` (wedge or tail test on it); on rejection a fresh normal."""
    idx = r & 0xFF
    x = float(r >> 9) * WI23[idx] * (1.0 - 2.0 * float((r >> 8) & 1))
    if idx == 0:
        return tail(s0, s1, (r >> 8) & 1)
    u, s0, s1 = uniform(s0, s1)
    if (FI[idx - 1] - FI[idx]) * u + FI[idx] < math.exp(-0.5 * x * x):
        return x, s0, s1
    w, s0, s1 = nx(s0, s1)
    return normal_slow(s0, s1, int64(w >> uint64(11)))


@_inl
def zig32(s0: Any, s1: Any, r: int) -> Any:
    idx = r & 0xFF
    rabs = r >> 9
    if rabs < KI23[idx]:
        return float(rabs) * WS23[r & 0x1FF], s0, s1
    return normal_slow32(s0, s1, r)


@_inl
def normal2(s0: Any, s1: Any) -> Any:
    """Two independent standard normals from one 64-bit output (a 32-bit ziggurat candidate in each half)."""
    u, s0, s1 = nx(s0, s1)
    a, s0, s1 = zig32(s0, s1, int64(u & uint64(0xFFFFFFFF)))
    b, s0, s1 = zig32(s0, s1, int64(u >> uint64(32)))
    return a, b, s0, s1


@_inl
def steps(x: float) -> int:
    """min(rint(exp(x)), 6) (ties have probability zero)."""
    c = 0
    for m in range(6):
        c += x >= STEPS[m]
    return c


@_inl
def recorded(log_easi: float, p0: float, p1: float, p2: float, p3: float, p4: float, p5: float, p6: float,
             p7: float, s0: Any, s1: Any) -> Any:
    """Recorded EASI of one patient at one visit from the log of its latent EASI (the model's
    ``q = min(EASI / 72, 1)`` on the log scale: no logarithm or exponential needed); p0..p3 intensity and p4..p7
    area regional pattern."""
    l6s = LOG6 + 0.5 * min(log_easi - LOG72, 0.0)  # log(6 sqrt(q)): log of the half-point intensity and of the area
    tot = 0.0
    for r in range(4):
        pi = p0 if r == 0 else (p1 if r == 1 else (p2 if r == 2 else p3))
        pa = p4 if r == 0 else (p5 if r == 1 else (p6 if r == 2 else p7))
        zi, za, s0, s1 = normal2(s0, s1)
        li = l6s + 0.25 * pi + 0.10 * zi
        area = steps(l6s + 0.25 * pa + 0.10 * za)
        za, zb, s0, s1 = normal2(s0, s1)
        zc, zd, s0, s1 = normal2(s0, s1)
        hs = steps(li + LSW[0] + 0.15 * za) + steps(li + LSW[1] + 0.15 * zb) + steps(li + LSW[2] + 0.15 * zc) \
            + steps(li + LSW[3] + 0.15 * zd)
        tot += (hs * area) * 0.5 * WR[r]
    return tot, s0, s1


@_inl
def respond(kind: int, a: float, b: float, aval: float, base: float) -> bool:
    if kind == 0:
        return base > 0 and 100.0 * (base - aval) >= a * base - 1e-9 * abs(base)
    if kind == 1:
        return aval <= a and base - aval >= b
    return base >= b and base - aval >= a - 1e-9


@_jit
def replicate(r: int, n: int, seed: Any, arm_out: Any, strata_out: Any, resp: Any, aux: Any, weeks: Any, g: Any, f: Any,
              drug: Any, iga_eff: Any, riga_str: Any, dropout: Any, rescue_at: Any, jitter: int, cdf: Any,
              n_lev: Any, n_fac: int, iga_fac: int, iga_map: Any, pb_fac: int, pb_map: Any, mu: Any, zlo: Any,
              zhi: Any, plo: Any, phi: Any, base: Any, e_visit: Any, e_score: Any, e_kind: Any, e_a: Any, e_b: Any,
              sc: Any) -> None:
    """Trial ``r`` of a chunk: ``n`` patients in arrival order, from its own stream."""
    s0 = uint64(seed[2 * r])
    s1 = uint64(seed[2 * r + 1])
    pbe, pla, psd, vsd, dmult, lrescue, rprob, reff = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6], sc[7]
    ipl, ivsd, rvsd, min_easi, lsd, rnr = sc[8], sc[9], sc[10], sc[11], sc[12], sc[13] > 0.5
    v = weeks.size
    n_e = e_visit.size
    last = 0
    for i in range(n_e):
        last = max(last, e_visit[i])
    n_cells = 1
    for j in range(n_fac):
        n_cells *= n_lev[j]
    bsize = base.size
    blocks = np.empty((n_cells, bsize), dtype=np.int8)
    filled = np.full(n_cells, bsize, dtype=np.int64)  # next slot of the cell's current block
    eta = np.zeros(v)
    jit_d = np.zeros(v, dtype=np.int64)
    early_stop = rnr and jitter == 0
    sqrt_half = math.sqrt(0.5)
    for p in range(n):
        row = r * n + p
        # strata, randomization cell and permuted-block treatment
        cell = 0
        iga0 = 3
        prior = False
        for j in range(n_fac):
            u, s0, s1 = uniform(s0, s1)
            lev = 0
            for m in range(n_lev[j] - 1):  # branch-free: the level is the number of cdf steps at or below u
                lev += u >= cdf[j, m]
            strata_out[row, j] = lev
            cell = cell * n_lev[j] + lev
            if j == iga_fac:
                iga0 = iga_map[lev]
            if j == pb_fac:
                prior = pb_map[lev]
        if iga_fac < 0:
            u, s0, s1 = uniform(s0, s1)
            iga0 = 3 if u < 0.5 else 4
        if filled[cell] == bsize:  # a new block: Fisher-Yates shuffle of the allocation
            for i in range(bsize):
                blocks[cell, i] = base[i]
            for i in range(bsize - 1, 0, -1):
                k, s0, s1 = below(s0, s1, i + 1)
                tmp = blocks[cell, i]
                blocks[cell, i] = blocks[cell, k]
                blocks[cell, k] = tmp
            filled[cell] = 0
        a = blocks[cell, filled[cell]]
        filled[cell] += 1
        arm_out[r, p] = a
        # baseline: truncated log-normal latent EASI, screened on the recorded EASI
        le0 = u0 = rec0 = 0.0
        p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
        for _ in range(200):
            z, s0, s1 = normal(s0, s1)
            while z < zlo[iga0] or z > zhi[iga0]:
                z, s0, s1 = normal(s0, s1)
            le0 = mu[iga0] + lsd * z  # log latent EASI (at most log 72: the truncation)
            u0 = (0.5 * math.erfc(-z * sqrt_half) - plo[iga0]) / (phi[iga0] - plo[iga0])
            p0, p1, s0, s1 = normal2(s0, s1)
            p2, p3, s0, s1 = normal2(s0, s1)
            p4, p5, s0, s1 = normal2(s0, s1)
            p6, p7, s0, s1 = normal2(s0, s1)
            rec0, s0, s1 = recorded(le0, p0, p1, p2, p3, p4, p5, p6, p7, s0, s1)
            if rec0 >= min_easi:
                break
        # trajectory, discontinuation and rescue up to the last endpoint visit
        b, s0, s1 = normal(s0, s1)
        mult = pbe if prior else 1.0
        rescue_v = -1
        drop_v = -1
        for k in range(1, last + 1):
            e, s0, s1 = normal(s0, s1)
            eta[k] = (-(drug[a] * mult * f[k] + pla * g[k]) + psd * b * g[k]) + vsd * e
            p_k = dropout[a] * (dmult if k > 1 and eta[k - 1] > 0 else 1.0)
            u, s0, s1 = uniform(s0, s1)
            if u < p_k:
                drop_v = k
                break
            if rescue_v >= 0:
                eta[k] -= reff
            if rescue_at[k] and rescue_v < 0 and eta[k] > lrescue:
                u, s0, s1 = uniform(s0, s1)
                if u < rprob:
                    rescue_v = k
                    if early_stop:
                        break
        if aux.shape[0] > 0:  # diagnostics for the tests: recorded baseline EASI, rescue and discontinuation visit
            aux[row, 0] = rec0
            aux[row, 1] = rescue_v
            aux[row, 2] = drop_v
        if jitter > 0:
            for k in range(1, v):
                jj, s0, s1 = below(s0, s1, 2 * jitter + 1)
                jit_d[k] = jj - jitter
        # the endpoint visits
        done_k = -1
        for i in range(n_e):
            k = e_visit[i]
            if k == done_k:
                continue
            ok = drop_v < 0 or k < drop_v
            if ok and rescue_v >= 0 and rnr:
                ok = 7 * weeks[rescue_v] + 1 + jit_d[rescue_v] + 1 > 7 * weeks[k] + 1 + jit_d[k]
            if not ok:
                continue
            done_k = k
            rec, s0, s1 = recorded(le0 + eta[k], p0, p1, p2, p3, p4, p5, p6, p7, s0, s1)  # log latent EASI
            z1, z2, s0, s1 = normal2(s0, s1)
            z3, s0, s1 = normal(s0, s1)
            l0 = iga0 + 0.45 * (2.0 * u0 - 1.0)
            lat = ((l0 + ipl * eta[k]) - iga_eff[a] * f[k]) + ivsd * z1
            viga = min(max(math.floor(lat + 0.5), 0.0), 4.0)
            riga = max(viga, min(max(math.floor((lat + riga_str[a]) + rvsd * z2 + 0.5), 0.0), 4.0))
            riga0 = max(float(iga0), min(max(math.floor(l0 + rvsd * z3 + 0.5), 0.0), 4.0))
            for j in range(n_e):
                if e_visit[j] != k:
                    continue
                if e_score[j] == 0:
                    resp[j, row] = respond(e_kind[j], e_a[j], e_b[j], rec, rec0)
                elif e_score[j] == 1:
                    resp[j, row] = respond(e_kind[j], e_a[j], e_b[j], viga, float(iga0))
                else:
                    resp[j, row] = respond(e_kind[j], e_a[j], e_b[j], riga, riga0)


@njit(nogil=True, cache=True)
def run_serial(n_rep: int, n: int, seed: Any, arm_out: Any, strata_out: Any, resp: Any, aux: Any, weeks: Any, g: Any,
               f: Any, drug: Any, iga_eff: Any, riga_str: Any, dropout: Any, rescue_at: Any, jitter: int, cdf: Any,
               n_lev: Any, n_fac: int, iga_fac: int, iga_map: Any, pb_fac: int, pb_map: Any, mu: Any, zlo: Any,
               zhi: Any, plo: Any, phi: Any, base: Any, e_visit: Any, e_score: Any, e_kind: Any, e_a: Any,
               e_b: Any, sc: Any) -> None:
    for r in range(n_rep):
        replicate(r, n, seed, arm_out, strata_out, resp, aux, weeks, g, f, drug, iga_eff, riga_str, dropout, rescue_at,
                  jitter, cdf, n_lev, n_fac, iga_fac, iga_map, pb_fac, pb_map, mu, zlo, zhi, plo, phi, base,
                  e_visit, e_score, e_kind, e_a, e_b, sc)


@njit(nogil=True, cache=True, parallel=True)
def run_parallel(n_rep: int, n: int, seed: Any, arm_out: Any, strata_out: Any, resp: Any, aux: Any, weeks: Any, g: Any,
                 f: Any, drug: Any, iga_eff: Any, riga_str: Any, dropout: Any, rescue_at: Any, jitter: int,
                 cdf: Any, n_lev: Any, n_fac: int, iga_fac: int, iga_map: Any, pb_fac: int, pb_map: Any, mu: Any,
                 zlo: Any, zhi: Any, plo: Any, phi: Any, base: Any, e_visit: Any, e_score: Any, e_kind: Any,
                 e_a: Any, e_b: Any, sc: Any) -> None:
    for r in prange(n_rep):
        replicate(r, n, seed, arm_out, strata_out, resp, aux, weeks, g, f, drug, iga_eff, riga_str, dropout, rescue_at,
                  jitter, cdf, n_lev, n_fac, iga_fac, iga_map, pb_fac, pb_map, mu, zlo, zhi, plo, phi, base,
                  e_visit, e_score, e_kind, e_a, e_b, sc)


@njit(nogil=True, cache=True)
def normals(seed: Any, out: Any) -> None:
    s0 = uint64(seed[0])
    s1 = uint64(seed[1])
    for i in range(out.size // 2):  # the pair generator (both halves)
        out[2 * i], out[2 * i + 1], s0, s1 = normal2(s0, s1)
    if out.size % 2:
        out[-1], s0, s1 = normal(s0, s1)
