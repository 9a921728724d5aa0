"""numba kernels of :mod:`trialkit.design.fast` (imported only when that path runs; see there for the model).

``trials`` simulates trials one by one, each in blocks of ``LANES`` patients: the ``lane_*`` helpers (inlined) loop
over the lanes with no branches or calls inside, so LLVM vectorizes them; what is rare (ziggurat wedges and tail,
screening failures) is finished afterwards one lane at a time. Scalar helpers take and return scalars only (the
generator state travels as two uint64 values) and read the constant tables as globals: passing arrays to a
non-inlined numba function costs reference counting on every call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir
from numba import int64, njit, prange, types, uint64
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from trialkit.design.fast import FI as _FI
from trialkit.design.fast import FI1024, KI, KI1024, LOG_HALF_STEPS, LOG_SIGN_W, W_REGION, WI, WI1024, ZIG_R, ZIG_R1024

KI44 = (KI >> np.uint64(8)).astype(np.int64)  # 44-bit magnitudes: the low 9 of 53 bits pick layer and sign
WI44 = WI * 256.0
WS44 = np.concatenate([WI44, -WI44])  # signed widths by the low 9 bits (layer, sign)
FI = _FI.copy()
WR = W_REGION.copy()
INV53 = 1.0 / 9007199254740992.0
INV32 = 1.0 / 4294967296.0
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
def splitmix64(x: Any) -> Any:
    """splitmix64 (Steele, Lea & Flood 2014): (new state, 64-bit output); seeds the lanes' xoroshiro streams."""
    x = x + uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return x, z ^ (z >> uint64(31))


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
def tail(s0: Any, s1: Any, negative: int, edge: float = ZIG_R) -> Any:
    """The ziggurat's base-layer tail beyond ``edge`` (Marsaglia 1964), with the sign of the candidate."""
    while True:
        u, s0, s1 = uniform(s0, s1)
        v, s0, s1 = uniform(s0, s1)
        xx = -(1.0 / edge) * math.log1p(-u)
        yy = -math.log1p(-v)
        if yy + yy > xx * xx:
            return (-(edge + xx) if negative else edge + xx), s0, s1


@_inl
def in_wedge(f_below: float, f_at: float, x: float, s0: Any, s1: Any) -> Any:
    """The ziggurat's wedge test for a candidate ``x`` of a layer whose density runs from ``f_at`` (its outer edge)
    to ``f_below`` (the edge of the layer below): accept when a uniform point under the layer's rectangle lies
    under the density. Returns (accepted, new state)."""
    u, s0, s1 = uniform(s0, s1)
    return (f_below - f_at) * u + f_at < math.exp(-0.5 * x * x), s0, s1


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
        ok, s0, s1 = in_wedge(FI[idx - 1], FI[idx], x, s0, s1)
        if ok:
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
    ok, s0, s1 = in_wedge(FI[idx - 1], FI[idx], x, s0, s1)
    if ok:
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



@intrinsic
def _bits_as_float(typingctx: Any, x: Any) -> Any:
    """The float64 whose bit pattern is the int64 ``x`` (LLVM ``bitcast``; vectorizes)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # ln 2 split as in fdlibm's exp: k * LN2_HI is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10
EXP_C = np.array([1.0 / math.factorial(k) for k in range(14)])


@_inl
def exp_small(x: float) -> float:
    """exp(x) for -700 <= x <= 700 without a call (so loops over lanes vectorize): x = k ln 2 + r, |r| <= ln 2 / 2,
    e**r by its Taylor polynomial of degree 13 (remainder < 3e-17 relative), 2**k from the exponent bits
    (Tang 1989; Muller, Elementary Functions, ch. 11). Relative error about 1e-14."""
    k = math.floor(x * LOG2E + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO
    r2 = r * r
    pe = EXP_C[12]
    po = EXP_C[13]
    for j in range(5, -1, -1):
        pe = pe * r2 + EXP_C[2 * j]
        po = po * r2 + EXP_C[2 * j + 1]
    p = pe + r * po
    return p * _bits_as_float((int64(k) + 1023) << 52)


def _phi_series_coefficients(zmax: float, tol: float = 1e-17) -> np.ndarray:
    """1 / (2k + 1)!!, k = 0, 1, ..., enough terms that the series below leaves out less than ``tol`` for
    |z| <= ``zmax`` (once the ratio of successive terms, z**2 / (2k + 3), is below 1/2, the rest is at most the
    last term kept)."""
    a = [1.0]
    phi_max = math.exp(-0.5 * zmax * zmax) / math.sqrt(2.0 * math.pi)
    while True:
        k = len(a)
        a.append(a[-1] / (2 * k + 1))
        if zmax * zmax / (2 * k + 3) < 0.5 and zmax ** (2 * k + 1) * a[-1] * phi_max < tol:
            return np.array(a)


#: Phi(z) = 1/2 + phi(z) sum_k z**(2k+1) / (2k+1)!! (Marsaglia 2004, J Stat Softw 11(4)), a series of positive
#: terms, used for |z| <= PHI_Z (44 terms); beyond it, ``math.erfc``.
PHI_Z = 4.0
_PHI_A = _phi_series_coefficients(PHI_Z)
PHI_N4 = -(-_PHI_A.size // 4)
PHI_A4 = np.zeros((4, PHI_N4))  # coefficient k in row k % 4, column k // 4
PHI_A4[np.arange(_PHI_A.size) % 4, np.arange(_PHI_A.size) // 4] = _PHI_A


@_inl
def phi_series(z: float) -> float:
    """Standard normal CDF for |z| <= PHI_Z by Marsaglia's series, within 1e-15 of ``ndtr``; the polynomial in
    w = z**2 as four interleaved Horner chains in w**4 (shorter dependency chains); no branch or call, so a loop
    over lanes vectorizes."""
    w = z * z
    w2 = w * w
    w4 = w2 * w2
    q0 = PHI_A4[0, PHI_N4 - 1]
    q1 = PHI_A4[1, PHI_N4 - 1]
    q2 = PHI_A4[2, PHI_N4 - 1]
    q3 = PHI_A4[3, PHI_N4 - 1]
    for j in range(PHI_N4 - 2, -1, -1):
        q0 = q0 * w4 + PHI_A4[0, j]
        q1 = q1 * w4 + PHI_A4[1, j]
        q2 = q2 * w4 + PHI_A4[2, j]
        q3 = q3 * w4 + PHI_A4[3, j]
    p = (q0 + w * q1) + w2 * (q2 + w * q3)
    return 0.5 + z * p * exp_small(-0.5 * w) * 0.3989422804014327


@_jit
def phi_lanes(x: Any) -> None:
    """``x[:] = Phi(x)`` for |x| <= PHI_Z. A function of its own: inlined into the kernel, LLVM leaves this loop
    scalar (about 12 ns per patient instead of 3)."""
    for lane in range(LANES):
        x[lane] = phi_series(x[lane])


@_inl
def phi_cdf(z: float) -> float:
    """Standard normal CDF (scalar): the series within PHI_Z, ``erfc`` beyond."""
    if abs(z) <= PHI_Z:
        return phi_series(z)
    return 0.5 * math.erfc(-z * 0.7071067811865476)


# float32 constants of the recorded EASI (the numpy model's precision; a rounding boundary moves by about 1e-7
# relative): a loop over lanes gets twice the lanes per vector instruction
F1 = np.float32(1.0)
F0 = np.float32(0.0)
T1F, T2F, T3F, T4F, T5F, T6F = (np.float32(x) for x in LOG_HALF_STEPS)  # log(m - 1/2), m = 1..6
LW0F, LW1F, LW2F, LW3F = (np.float32(x) for x in LOG_SIGN_W)  # log sign weights
C025 = np.float32(0.25)
C010 = np.float32(0.10)
C015 = np.float32(0.15)


@_inl
def steps32(x: Any) -> Any:
    """min(rint(exp(x)), 6) as a count of thresholds (ties have probability zero), in float32 (integer-valued,
    exact); constants, so a loop over lanes vectorizes."""
    return ((F1 if x >= T1F else F0) + (F1 if x >= T2F else F0) + (F1 if x >= T3F else F0)) + \
        ((F1 if x >= T4F else F0) + (F1 if x >= T5F else F0) + (F1 if x >= T6F else F0))


@_inl
def region_points(l6s: Any, pi: float, pa: float, zi: float, za: float, z0: float, z1: float, z2: float,
                  z3: float) -> float:
    """Half-point sign-score sum times area score of one region (not yet weighted): ``l6s`` = log(6 sqrt(q)) in
    float32, ``pi``, ``pa`` the intensity and area regional pattern, ``zi``, ``za`` their visit noise and
    ``z0..z3`` the four signs' noise."""
    li = l6s + C025 * np.float32(pi) + C010 * np.float32(zi)
    area = steps32(l6s + C025 * np.float32(pa) + C010 * np.float32(za))
    hs = (steps32(li + LW0F + C015 * np.float32(z0)) + steps32(li + LW1F + C015 * np.float32(z1))) + \
        (steps32(li + LW2F + C015 * np.float32(z2)) + steps32(li + LW3F + C015 * np.float32(z3)))
    return float(hs * area)


@_inl
def log6sqrtq(log_easi: float) -> Any:
    """log(6 sqrt(q)), q = min(EASI / 72, 1), from log EASI (float32): the log of the half-point intensity and of
    the area before the regional terms."""
    return np.float32(LOG6 + 0.5 * min(log_easi - LOG72, 0.0))


@_inl
def recorded(log_easi: float, p0: float, p1: float, p2: float, p3: float, p4: float, p5: float, p6: float,
             p7: float, s0: Any, s1: Any) -> Any:
    """Recorded EASI of one patient at one visit from the log of its latent EASI (the model's
    ``q = min(EASI / 72, 1)`` on the log scale: no logarithm or exponential needed); p0..p3 intensity and p4..p7
    area regional pattern."""
    l6s = log6sqrtq(log_easi)
    tot = 0.0
    for r in range(4):
        pi = p0 if r == 0 else (p1 if r == 1 else (p2 if r == 2 else p3))
        pa = p4 if r == 0 else (p5 if r == 1 else (p6 if r == 2 else p7))
        zi, za, s0, s1 = normal2(s0, s1)
        z0, z1, s0, s1 = normal2(s0, s1)
        z2, z3, s0, s1 = normal2(s0, s1)
        tot += region_points(l6s, pi, pa, zi, za, z0, z1, z2, z3) * (0.5 * WR[r])
    return tot, s0, s1


@_inl
def respond(kind: int, a: float, b: float, aval: float, base: float) -> bool:
    if kind == 0:
        return base > 0 and 100.0 * (base - aval) >= a * base - 1e-9 * abs(base)
    if kind == 1:
        return aval <= a and base - aval >= b
    return base >= b and base - aval >= a - 1e-9


LANES = 32  # patients simulated side by side, one xoroshiro128++ stream each (SIMD over patients)
_NB = 34  # normals per lane at baseline: truncated-normal candidate, 8 pattern, 24 recorded-EASI, patient effect
_NV = 28  # normals per lane at an endpoint visit: 24 recorded-EASI, 3 IGA (the third used once), one spare


@_inl
def lane_next(S0: Any, S1: Any, lane: int) -> Any:
    """xoroshiro128++ output of lane ``lane``; its state advanced in place."""
    res, S0[lane], S1[lane] = nx(S0[lane], S1[lane])
    return res


# The lanes' 1024-layer ziggurat: a 32-bit candidate is layer (low 10 bits), sign (bit 10), magnitude (21 bits).
# Layer widths as 32-bit integers M (x = magnitude * M * 2**-50: the product is an exact integer below 2**53;
# M has 26 to 32 significant bits, finer than numpy's float32 tables) packed with the fast-test bounds KI21, so one
# table lookup (a vector gather) serves both.
KI21 = (KI1024 >> np.uint64(31)).astype(np.int64)
M21 = np.rint(WI1024 * 2.0**81).astype(np.int64)  # WI1024 * 2**31 (21-bit magnitudes) * 2**50
assert M21.max() < 2**32 and KI21.max() < 2**21
ZT21 = np.concatenate([(M21 << 21) | KI21, (-M21 << 21) | KI21])  # by layer and sign (low 11 bits): signed width
WS21 = np.concatenate([M21, -M21]) * 2.0**-50  # the same signed widths as floats, for the rare path
FI21 = FI1024.copy()


@_inl
def normal_slow1024(s0: Any, s1: Any, r: int) -> Any:
    """The rare path of a lane candidate ``r`` (32 bits, 1024-layer ziggurat): tail or wedge test; on rejection a
    fresh standard normal (:func:`normal`). Inlined into :func:`lane_normals`' finishing loop (as a call it cost
    2 ns more per patient)."""
    idx = r & 0x3FF
    x = float(r >> 11) * WS21[r & 0x7FF]
    if idx == 0:
        return tail(s0, s1, (r >> 10) & 1, ZIG_R1024)
    ok, s0, s1 = in_wedge(FI21[idx - 1], FI21[idx], x, s0, s1)
    if ok:
        return x, s0, s1
    return normal(s0, s1)


_MARK = -1e10  # a candidate that failed the fast test is kept in Z as _MARK - (its 32 bits): exact, below any normal


@_inl
def lane_normals(S0: Any, S1: Any, Z: Any, rows: int, s0: Any, s1: Any, bad: Any) -> Any:
    """``Z[:rows]`` (``rows`` even, at most 64): standard normals for every lane, two per 64-bit output, each from a
    32-bit candidate of a 1024-layer ziggurat (10 bits layer, 1 sign, 21 magnitude). The loop over lanes
    vectorizes; the rare candidates that fail the fast test (0.43 %) are marked (a bit per row in each lane's mask)
    and then finished one by one by :func:`normal_slow1024` from the scalar stream ``s0, s1``, whose new state is
    returned (independent of the candidates, so the result is exact; the lanes' own states are not touched)."""
    for lane in range(LANES):
        bad[lane] = 0
    for q in range(0, rows, 2):
        for lane in range(LANES):
            u = lane_next(S0, S1, lane)
            ra = int64(u & uint64(0xFFFFFFFF))
            rb = int64(u >> uint64(32))
            ta = ZT21[ra & 0x7FF]
            tb = ZT21[rb & 0x7FF]
            oka = (ra >> 11) < (ta & 0x1FFFFF)
            okb = (rb >> 11) < (tb & 0x1FFFFF)
            xa = float((ra >> 11) * (ta >> 21)) * 2.0**-50  # arithmetic shift: the signed width
            xb = float((rb >> 11) * (tb >> 21)) * 2.0**-50
            Z[q, lane] = xa if oka else _MARK - float(ra)
            Z[q + 1, lane] = xb if okb else _MARK - float(rb)
            bad[lane] |= (int64(~oka) << q) | (int64(~okb) << (q + 1))
    for lane in range(LANES):  # about 5 candidates in a call of 34 rows
        m = bad[lane]
        while m:
            q = trailing_zeros(m)
            m &= m - 1
            Z[q, lane], s0, s1 = normal_slow1024(s0, s1, int64(_MARK - Z[q, lane]))
    return s0, s1


@_inl
def lane_uniforms(S0: Any, S1: Any, U: Any, rows: int) -> None:
    """``U[:rows]`` (``rows`` even): uniforms on [0, 1) for every lane, two per 64-bit output (32 bits each, finer
    than the numpy model's float32 uniforms)."""
    for q in range(0, rows, 2):
        for lane in range(LANES):
            u = lane_next(S0, S1, lane)
            U[q, lane] = float(int64(u & uint64(0xFFFFFFFF))) * INV32
            U[q + 1, lane] = float(int64(u >> uint64(32))) * INV32


@_inl
def lane_recorded(LE: Any, P: Any, Z: Any, z0: int, out: Any) -> None:
    """:func:`recorded` for every lane at once: log latent EASI ``LE``, regional pattern ``P`` (8 rows) and the
    visit's 24 normals ``Z[z0:z0 + 24]`` (per region: intensity, area, four signs). The threshold counts in float32
    give vector instructions twice the lanes: 21 -> 16 ns per patient for the two evaluations."""
    for lane in range(LANES):
        out[lane] = 0.0
    for r in range(4):
        zr = z0 + 6 * r
        wr = 0.5 * WR[r]
        for lane in range(LANES):
            out[lane] += region_points(log6sqrtq(LE[lane]), P[r, lane], P[4 + r, lane], Z[zr, lane], Z[zr + 1, lane],
                                       Z[zr + 2, lane], Z[zr + 3, lane], Z[zr + 4, lane], Z[zr + 5, lane]) * wr


@_jit
def trials(r0: int, r1: int, n: int, seed: Any, arm_out: Any, stratum_out: Any, resp: Any, aux: Any, weeks: Any, g: Any,
           f: Any, drug: Any, iga_eff: Any, riga_str: Any, dropout: Any, rescue_at: Any, jitter: int, c_lut: Any,
           c_thr: Any, c_add: Any, c_rand: Any, c_astr: Any, c_iga0: Any, c_prior: Any, n_rcells: int, mu: Any,
           zlo: Any, zhi: Any, plo: Any, phi: Any, base: Any, e_visit: Any, e_score: Any, e_kind: Any, e_a: Any,
           e_b: Any, sc: Any) -> None:
    """Trials ``r0 <= r < r1`` of a chunk (working arrays allocated once for them all), each of ``n`` patients in
    arrival order from its own streams (``seed[r]`` is the state of the stream for strata, randomization and the
    lanes' rare draws; the ``LANES`` lane streams are seeded from it by splitmix64, as Blackman & Vigna recommend),
    simulated ``LANES`` patients at a time. A trial's numbers do not depend on which call simulates it."""
    pbe, pla, psd, vsd, dmult, lrescue, rprob, reff = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6], sc[7]
    ipl, ivsd, rvsd, min_easi, lsd, rnr = sc[8], sc[9], sc[10], sc[11], sc[12], sc[13] > 0.5
    v = weeks.size
    n_e = e_visit.size
    last = 0
    for i in range(n_e):
        last = max(last, e_visit[i])
    n_cells = n_rcells
    bsize = base.size
    blocks = np.empty((n_cells, bsize), dtype=np.int8)
    filled = np.full(n_cells, bsize, dtype=np.int64)  # next slot of the cell's current block
    early_stop = rnr and jitter == 0
    z_wide = False
    for i in range(zlo.size):
        z_wide |= max(-zlo[i], zhi[i]) > PHI_Z
    nz = max(_NB, _NV, last + (last % 2))
    Z = np.empty((nz, LANES))
    U = np.empty((2 * last, LANES))
    US = np.empty((2, LANES))  # one uniform per patient for its stratum cell (and a spare: uniforms come in pairs)
    nbins = float(c_lut.size)
    P = np.empty((8, LANES))
    A = np.zeros(LANES, dtype=np.int64)
    CELL = np.zeros(LANES, dtype=np.int64)
    PRIOR = np.zeros(LANES, dtype=np.bool_)
    IGA0 = np.zeros(LANES, dtype=np.int64)
    DRUGM = np.zeros(LANES)  # drug effect (times the prior-biologic multiplier)
    DROPP = np.zeros(LANES)  # dropout probability per visit
    IGAE = np.zeros(LANES)  # the arm's effect on the latent vIGA-AD
    RIGAS = np.zeros(LANES)  # the arm's rIGA strictness
    VIGA = np.zeros(LANES)
    RIGA = np.zeros(LANES)
    RIGA0 = np.zeros(LANES)
    IGA0F = np.zeros(LANES)  # baseline vIGA-AD as a float
    L0 = np.zeros(LANES)  # its latent value
    LE0 = np.zeros(LANES)
    U0 = np.zeros(LANES)
    REC0 = np.zeros(LANES)
    B = np.zeros(LANES)
    LE = np.zeros(LANES)
    REC = np.zeros(LANES)
    ETA = np.zeros((v, LANES))
    RESC = np.zeros(LANES, dtype=np.int64)
    DROP = np.zeros(LANES, dtype=np.int64)
    OK = np.zeros(LANES, dtype=np.bool_)
    JIT = np.zeros((v, LANES), dtype=np.int64)
    BAD = np.zeros(LANES, dtype=np.int64)
    S0 = np.empty(LANES, dtype=np.uint64)
    S1 = np.empty(LANES, dtype=np.uint64)
    for r in range(r0, r1):
        s0 = uint64(seed[r, 0])
        s1 = uint64(seed[r, 1])
        x = s0 ^ ((s1 << uint64(32)) | (s1 >> uint64(32)))  # the lanes' states: splitmix64 from the trial's key
        for lane in range(LANES):
            x, S0[lane] = splitmix64(x)
            x, S1[lane] = splitmix64(x)
            if S0[lane] == 0 and S1[lane] == 0:  # probability 2**-128; xoroshiro's state must not be all zero
                S0[lane] = uint64(1)
        filled[:] = bsize  # a fresh set of permuted blocks per trial
        for p_first in range(0, n, LANES):
            m_lanes = min(LANES, n - p_first)
            # strata (a uniform from each lane), then the permuted-block treatment patient by patient
            lane_uniforms(S0, S1, US, 2)
            for lane in range(LANES):  # the stratum cell from one uniform (table reads: vectorizes)
                u = US[0, lane]
                b = int64(u * nbins)
                jc = c_lut[b] + (c_add[b] if u >= c_thr[b] else 0)
                CELL[lane] = jc
                IGA0[lane] = c_iga0[jc]
                PRIOR[lane] = c_prior[jc]
            for lane in range(m_lanes):  # the permuted-block treatment, patient by patient
                jc = CELL[lane]
                cell = c_rand[jc]  # randomization cell (all factors)
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
                A[lane] = a
                arm_out[r, p_first + lane] = a
                stratum_out[r, p_first + lane] = c_astr[jc]
            for lane in range(m_lanes, LANES):  # padding lanes: simulated, never stored
                A[lane] = 0
            for lane in range(LANES):  # the arm's parameters (vectorizes)
                a = A[lane]
                DRUGM[lane] = drug[a] * (pbe if PRIOR[lane] else 1.0)
                DROPP[lane] = dropout[a]
                IGAE[lane] = iga_eff[a]
                RIGAS[lane] = riga_str[a]
            # baseline: truncated log-normal latent EASI, regional pattern, recorded EASI (all lanes at once)
            s0, s1 = lane_normals(S0, S1, Z, _NB, s0, s1, BAD)
            for lane in range(LANES):  # rejection outside the eligible range (fresh draws from the trial stream)
                i0 = IGA0[lane]
                z = Z[0, lane]
                if z < zlo[i0] or z > zhi[i0]:  # (written back only when redrawn: a scalar store stalls vector loads)
                    while z < zlo[i0] or z > zhi[i0]:
                        z, s0, s1 = normal(s0, s1)
                    Z[0, lane] = z
            for lane in range(LANES):  # vectorizes
                i0 = IGA0[lane]
                z = Z[0, lane]
                LE0[lane] = mu[i0] + lsd * z  # log latent EASI (at most log 72: the truncation)
                U0[lane] = min(max(z, -PHI_Z), PHI_Z)
                B[lane] = Z[33, lane]
            phi_lanes(U0)
            for lane in range(LANES):
                i0 = IGA0[lane]
                U0[lane] = (U0[lane] - plo[i0]) / (phi[i0] - plo[i0])
            if z_wide:  # an eligible range beyond PHI_Z (not IGNITE's)
                for lane in range(LANES):
                    z = Z[0, lane]
                    if abs(z) > PHI_Z:
                        i0 = IGA0[lane]
                        U0[lane] = (phi_cdf(z) - plo[i0]) / (phi[i0] - plo[i0])
            for q in range(8):
                for lane in range(LANES):
                    P[q, lane] = Z[1 + q, lane]
            lane_recorded(LE0, P, Z, 9, REC0)
            for lane in range(m_lanes):  # screening failures: the whole baseline drawn again (trial stream)
                if REC0[lane] >= min_easi:
                    continue
                i0 = IGA0[lane]
                le0 = u0 = rec0 = 0.0
                p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
                for _ in range(200):
                    z, s0, s1 = normal(s0, s1)
                    while z < zlo[i0] or z > zhi[i0]:
                        z, s0, s1 = normal(s0, s1)
                    le0 = mu[i0] + lsd * z
                    u0 = (phi_cdf(z) - plo[i0]) / (phi[i0] - plo[i0])
                    p0, p1, s0, s1 = normal2(s0, s1)
                    p2, p3, s0, s1 = normal2(s0, s1)
                    p4, p5, s0, s1 = normal2(s0, s1)
                    p6, p7, s0, s1 = normal2(s0, s1)
                    rec0, s0, s1 = recorded(le0, p0, p1, p2, p3, p4, p5, p6, p7, s0, s1)
                    if rec0 >= min_easi:
                        break
                LE0[lane] = le0
                U0[lane] = u0
                REC0[lane] = rec0
                P[0, lane], P[1, lane], P[2, lane], P[3, lane] = p0, p1, p2, p3
                P[4, lane], P[5, lane], P[6, lane], P[7, lane] = p4, p5, p6, p7
            # trajectory, discontinuation and rescue up to the last endpoint visit
            s0, s1 = lane_normals(S0, S1, Z, last + (last % 2), s0, s1, BAD)
            lane_uniforms(S0, S1, U, 2 * last)
            for lane in range(LANES):
                RESC[lane] = -1
                DROP[lane] = -1
            for k in range(1, last + 1):  # branch-free over lanes (vectorizes)
                gk = g[k]
                fk = f[k]
                rk = rescue_at[k]
                for lane in range(LANES):
                    eta = (-(DRUGM[lane] * fk + pla * gk) + psd * B[lane] * gk) + vsd * Z[k - 1, lane]
                    rescued = RESC[lane] >= 0
                    on = (DROP[lane] < 0) & ~(early_stop & rescued)
                    p_k = DROPP[lane] * (dmult if (k > 1) & (ETA[k - 1, lane] > 0) else 1.0)
                    drop_now = on & (U[2 * k - 2, lane] < p_k)
                    DROP[lane] = k if drop_now else DROP[lane]
                    eta = eta - reff if rescued else eta
                    resc_now = on & ~drop_now & rk & ~rescued & (eta > lrescue) & (U[2 * k - 1, lane] < rprob)
                    RESC[lane] = k if resc_now else RESC[lane]
                    ETA[k, lane] = eta
            if aux.shape[0] > 0:  # diagnostics for the tests: recorded baseline EASI, rescue and discontinuation visit
                for lane in range(m_lanes):
                    row = r * n + p_first + lane
                    aux[row, 0] = REC0[lane]
                    aux[row, 1] = RESC[lane]
                    aux[row, 2] = DROP[lane]
            if jitter > 0:
                for lane in range(LANES):
                    a0 = S0[lane]
                    a1 = S1[lane]
                    for k in range(1, v):
                        jj, a0, a1 = below(a0, a1, 2 * jitter + 1)
                        JIT[k, lane] = jj - jitter
                    S0[lane] = a0
                    S1[lane] = a1
            # the endpoint visits
            for lane in range(LANES):  # baseline vIGA-AD and its latent value L0 (vectorizes)
                IGA0F[lane] = float(IGA0[lane])
                L0[lane] = IGA0F[lane] + 0.45 * (2.0 * U0[lane] - 1.0)
            done_k = -1
            have_r0 = False  # the baseline rIGA: one draw per patient, at the first endpoint visit simulated
            for i in range(n_e):
                k = e_visit[i]
                if k == done_k:
                    continue
                done_k = k
                any_ok = False
                for lane in range(m_lanes):
                    ok = DROP[lane] < 0 or k < DROP[lane]
                    if ok and RESC[lane] >= 0 and rnr:
                        ok = 7 * weeks[RESC[lane]] + 1 + JIT[RESC[lane], lane] + 1 > 7 * weeks[k] + 1 + JIT[k, lane]
                    OK[lane] = ok
                    any_ok |= ok
                if not any_ok:
                    continue
                for lane in range(LANES):
                    LE[lane] = LE0[lane] + ETA[k, lane]  # log latent EASI
                s0, s1 = lane_normals(S0, S1, Z, _NV, s0, s1, BAD)
                lane_recorded(LE, P, Z, 0, REC)
                if not have_r0:  # the baseline rIGA, once per patient (vectorizes)
                    for lane in range(LANES):
                        riga0 = math.floor(L0[lane] + rvsd * Z[26, lane] + 0.5)
                        RIGA0[lane] = max(IGA0F[lane], min(max(riga0, 0.0), 4.0))
                    have_r0 = True
                fk = f[k]
                for lane in range(LANES):  # latent vIGA-AD and rIGA (vectorizes)
                    lat = ((L0[lane] + ipl * ETA[k, lane]) - IGAE[lane] * fk) + ivsd * Z[24, lane]
                    viga = min(max(math.floor(lat + 0.5), 0.0), 4.0)
                    VIGA[lane] = viga
                    riga = math.floor((lat + RIGAS[lane]) + rvsd * Z[25, lane] + 0.5)
                    RIGA[lane] = max(viga, min(max(riga, 0.0), 4.0))
                for j in range(n_e):
                    if e_visit[j] != k:
                        continue
                    kind, ea, eb, score = e_kind[j], e_a[j], e_b[j], e_score[j]
                    now = REC if score == 0 else (VIGA if score == 1 else RIGA)
                    then = REC0 if score == 0 else (IGA0F if score == 1 else RIGA0)
                    row0 = r * n + p_first
                    for lane in range(m_lanes):
                        resp[j, row0 + lane] = OK[lane] and respond(kind, ea, eb, now[lane], then[lane])


@njit(nogil=True, cache=True)
def run_serial(n_rep: int, n: int, seed: Any, arm_out: Any, stratum_out: Any, resp: Any, aux: Any, weeks: Any, g: Any,
               f: Any, drug: Any, iga_eff: Any, riga_str: Any, dropout: Any, rescue_at: Any, jitter: int, c_lut: Any,
               c_thr: Any, c_add: Any, c_rand: Any, c_astr: Any, c_iga0: Any, c_prior: Any, n_rcells: int, mu: Any,
               zlo: Any, zhi: Any, plo: Any, phi: Any, base: Any, e_visit: Any, e_score: Any, e_kind: Any, e_a: Any,
               e_b: Any, sc: Any) -> None:
    trials(0, n_rep, n, seed, arm_out, stratum_out, resp, aux, weeks, g, f, drug, iga_eff, riga_str, dropout, rescue_at,
           jitter, c_lut, c_thr, c_add, c_rand, c_astr, c_iga0, c_prior, n_rcells, mu, zlo, zhi, plo, phi, base,
           e_visit, e_score, e_kind, e_a, e_b, sc)


GROUP = 4  # trials per task of run_parallel (they share working arrays)


@njit(nogil=True, cache=True, parallel=True)
def run_parallel(n_rep: int, n: int, seed: Any, arm_out: Any, stratum_out: Any, resp: Any, aux: Any, weeks: Any, g: Any,
                 f: Any, drug: Any, iga_eff: Any, riga_str: Any, dropout: Any, rescue_at: Any, jitter: int, c_lut: Any,
                 c_thr: Any, c_add: Any, c_rand: Any, c_astr: Any, c_iga0: Any, c_prior: Any, n_rcells: int, mu: Any,
                 zlo: Any, zhi: Any, plo: Any, phi: Any, base: Any, e_visit: Any, e_score: Any, e_kind: Any, e_a: Any,
                 e_b: Any, sc: Any) -> None:
    for i in prange((n_rep + GROUP - 1) // GROUP):
        trials(i * GROUP, min(i * GROUP + GROUP, n_rep), n, seed, arm_out, stratum_out, resp, aux, weeks, g, f, drug,
               iga_eff, riga_str, dropout, rescue_at, jitter, c_lut, c_thr, c_add, c_rand, c_astr, c_iga0, c_prior,
               n_rcells, mu, zlo, zhi, plo, phi, base, e_visit, e_score, e_kind, e_a, e_b, sc)


@njit(nogil=True, cache=True)
def normals(seed: Any, out: Any) -> None:
    s0 = uint64(seed[0])
    s1 = uint64(seed[1])
    for i in range(out.size // 2):  # the pair generator (both halves)
        out[2 * i], out[2 * i + 1], s0, s1 = normal2(s0, s1)
    if out.size % 2:
        out[-1], s0, s1 = normal(s0, s1)


@njit(nogil=True, cache=True)
def lane_sample(seed: Any, out: Any) -> None:
    """``out`` (blocks, 32, LANES): normals from :func:`lane_normals`, 32 rows at a time (for testing)."""
    s0 = uint64(seed[0])
    s1 = uint64(seed[1])
    S0 = np.empty(LANES, dtype=np.uint64)
    S1 = np.empty(LANES, dtype=np.uint64)
    x = s0
    for lane in range(LANES):
        x, S0[lane] = splitmix64(x)
        x, S1[lane] = splitmix64(x)
    Z = np.empty((32, LANES))
    BAD = np.zeros(LANES, dtype=np.int64)
    for b in range(out.shape[0]):
        s0, s1 = lane_normals(S0, S1, Z, 32, s0, s1, BAD)
        out[b] = Z



@njit(nogil=True, cache=True)
def count_tables(arm: Any, stratum: Any, resp: Any, ends: Any, arm_d: Any, tab: Any) -> None:
    """Stratified 2x2 tables of the first ``ends[g]`` patients of each trial (prefix counts; ``ends`` ascending):
    ``tab[g, r, e, d, k]`` = rows (active arm ``d``, placebo), columns (responder, non-responder) of endpoint
    ``e`` in analysis stratum ``k``. ``arm``, ``stratum`` (R, n), ``resp`` (E, R, n) bool; ``arm_d[a]`` is arm
    ``a``'s position among the active arms, -1 for placebo (its patients are the control row of every dose's
    table). Each trial's patients are counted once, by cell (stratum x arm) and pattern of the E responder flags
    (2**E patterns, for E <= 8; else once per endpoint), in a small table; the tables are sums over it."""
    n_rep, n = arm.shape
    n_e, n_dose, n_k = tab.shape[2], tab.shape[3], tab.shape[4]
    n_arms = arm_d.size
    n_cells = n_k * n_arms
    bits = n_e if n_e <= 8 else 1  # flags per pattern
    nb = 1 << bits
    dose_arm = np.zeros(n_dose, dtype=np.int64)
    pbo = 0
    for a in range(n_arms):
        if arm_d[a] >= 0:
            dose_arm[arm_d[a]] = a
        else:
            pbo = a
    code = np.empty(n, dtype=np.int64)
    cnt = np.empty(n_cells * nb, dtype=np.int64)
    tot = np.empty(n_cells, dtype=np.int64)
    yes = np.empty((n_e, n_cells), dtype=np.int64)
    for r in range(n_rep):
        arm_r = arm[r]
        st_r = stratum[r]
        for p in range(n):
            code[p] = (int64(st_r[p]) * n_arms + int64(arm_r[p])) * nb
        for e0 in range(0, n_e, bits):
            if bits < n_e:  # one endpoint at a time: patterns are its flag
                for p in range(n):
                    code[p] = (code[p] // nb) * nb
            for e in range(e0, min(e0 + bits, n_e)):
                resp_er = resp[e, r]
                for p in range(n):
                    code[p] += int64(resp_er[p]) << (e - e0)
            cnt[:] = 0
            start = 0
            for g in range(ends.size):
                for p in range(start, ends[g]):
                    cnt[code[p]] += 1
                start = ends[g]
                for c in range(n_cells):
                    t = 0
                    for b in range(nb):
                        t += cnt[c * nb + b]
                    tot[c] = t
                    for e in range(e0, min(e0 + bits, n_e)):
                        x = 0
                        for b in range(nb):
                            x += cnt[c * nb + b] * ((b >> (e - e0)) & 1)
                        yes[e, c] = x
                for e in range(e0, min(e0 + bits, n_e)):
                    for d in range(n_dose):
                        for k in range(n_k):
                            ca = k * n_arms + dose_arm[d]
                            cp = k * n_arms + pbo
                            tab[g, r, e, d, k, 0, 0] = yes[e, ca]
                            tab[g, r, e, d, k, 0, 1] = tot[ca] - yes[e, ca]
                            tab[g, r, e, d, k, 1, 0] = yes[e, cp]
                            tab[g, r, e, d, k, 1, 1] = tot[cp] - yes[e, cp]
