"""Array backends of the design simulator: the same array code on numpy (CPU) or cupy (GPU).

A backend bundles the array module ``xp``, a random generator factory seeded from a
:class:`numpy.random.SeedSequence`, and the transfer of small results to the host. The CPU ``numpy`` backend is the
reference. The ``cupy`` backend runs the same code with ``xp = cupy`` and cupy's generator (so its random streams,
and hence its numbers, differ from numpy's but are reproducible per seed); tests exercise that code path on CPU
machines with :func:`array_backend` ``("cupy", xp=numpy)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trialkit.errors import TrialkitError


@dataclass(frozen=True)
class ArrayBackend:
    """``name`` (``numpy`` or ``cupy``), the array module and how to make generators."""

    name: str
    xp: Any

    def rng(self, seed: np.random.SeedSequence) -> Any:
        """A generator for one chunk: numpy's SFC64 (the fastest of numpy's generators for float32 normals, which
        dominate the design simulation; it passes TestU01 BigCrush and PractRand), or cupy's default generator
        seeded from the same sequence."""
        if self.xp is np:
            return np.random.Generator(np.random.SFC64(seed))
        return self.xp.random.default_rng(int(seed.generate_state(1, np.uint64)[0]))

    def to_host(self, a: Any) -> np.ndarray:
        return a if isinstance(a, np.ndarray) else (a.get() if hasattr(a, "get") else np.asarray(a))

    def asarray(self, a: Any) -> Any:
        return self.xp.asarray(a)


def cupy_available() -> bool:
    """Whether cupy imports and sees a GPU."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any import or driver failure means "no GPU"
        return False


def array_backend(name: str = "numpy", xp: Any = None) -> ArrayBackend:
    """The backend called ``name``; ``xp`` overrides the module (``("cupy", numpy)`` tests the GPU path on CPU)."""
    if name == "numpy":
        return ArrayBackend("numpy", np if xp is None else xp)
    if name == "cupy":
        if xp is None:
            if not cupy_available():
                raise TrialkitError("the cupy backend needs cupy and a CUDA GPU; neither was found",
                                    variable="--backend", fix="install cupy on a GPU machine, or use numpy or dask")
            import cupy

            xp = cupy
        return ArrayBackend("cupy", xp)
    raise TrialkitError(f"unknown array backend {name!r}", variable="--backend", fix="use numpy, dask or cupy")
