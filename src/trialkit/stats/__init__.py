"""Pure, vectorized statistics: no I/O. Leading array axes are replicates."""
