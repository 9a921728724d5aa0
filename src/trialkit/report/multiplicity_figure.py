"""Figure of a multiple testing graph: nodes with weights, edges with transition weights, rejections shaded."""

from __future__ import annotations

from typing import Any

import numpy as np

from trialkit.multiplicity.graph import Graph


def _fmt_weight(x: float) -> str:
    for den in (2, 3, 4, 5, 6, 8, 10):
        num = x * den
        if abs(num - round(num)) < 1e-9 and 0 < x < 1:
            return f"{int(round(num))}/{den}"
    if 0 < x < 1e-3:
        return "\u03b5"
    return f"{x:.3g}"


def draw_graph(graph: Graph, ax: Any = None, result: Any = None, *, layout: np.ndarray | None = None,
               node_radius: float = 0.11, title: str | None = None) -> Any:
    """Draw ``graph`` on a matplotlib axis (a new figure if ``ax`` is None) and return the axis.

    Nodes show name and initial weight; arrows show transition weights (bidirectional pairs are curved apart).
    With ``result`` (a single-vector :class:`~trialkit.multiplicity.MultiplicityResult`), rejected hypotheses are
    shaded and the adjusted p-value is printed under each node. ``layout`` is an (m, 2) array of positions;
    the default is a circle (or a line for two hypotheses).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch

    m = graph.m
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.3 * m ** 0.8, 1.2 + 1.1 * m ** 0.6))
    if layout is None:
        if m == 1:
            layout = np.array([[0.0, 0.0]])
        elif m == 2:
            layout = np.array([[-0.5, 0.0], [0.5, 0.0]])
        else:
            ang = np.pi / 2 - 2 * np.pi * np.arange(m) / m
            layout = 0.6 * np.column_stack([np.cos(ang), np.sin(ang)])
    pos = np.asarray(layout, dtype=float)
    rejected = np.zeros(m, dtype=bool)
    adj = None
    if result is not None:
        rejected = np.asarray(result.rejected, dtype=bool)
        if rejected.ndim != 1:
            raise ValueError("draw_graph needs the result of a single p-value vector")
        adj = np.asarray(result.adjusted_pvalues)
    for i in range(m):
        face = "#9ecae1" if rejected[i] else "white"
        ax.add_patch(Circle(pos[i], node_radius, facecolor=face, edgecolor="black", lw=1.2, zorder=3))
        ax.text(*pos[i] + [0, 0.025], graph.names[i], ha="center", va="center", fontsize=8, zorder=4,
                fontweight="bold")
        ax.text(*pos[i] - [0, 0.04], _fmt_weight(graph.weights[i]) if graph.weights[i] else "0",
                ha="center", va="center", fontsize=7, zorder=4)
        if adj is not None:
            ax.text(*pos[i] - [0, node_radius + 0.05], f"p\u0303={adj[i]:.4g}", ha="center", va="top", fontsize=6.5,
                    color="#08519c" if rejected[i] else "#444444")
    g = graph.transitions
    for i, j in zip(*np.nonzero(g), strict=True):
        both = g[j, i] > 0
        rad = 0.25 if both else 0.0
        d = pos[j] - pos[i]
        u = d / np.linalg.norm(d)
        a, b = pos[i] + u * node_radius, pos[j] - u * node_radius
        arrow = FancyArrowPatch(a, b, connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>", mutation_scale=9,
                                lw=0.9, color="#333333", zorder=2)
        ax.add_patch(arrow)
        mid = (a + b) / 2 + rad * 0.5 * np.array([u[1], -u[0]]) * np.linalg.norm(b - a)
        ax.text(*mid, _fmt_weight(g[i, j]), fontsize=6.5, ha="center", va="center", zorder=5,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})
    pad = node_radius + 0.15
    ax.set_xlim(pos[:, 0].min() - pad, pos[:, 0].max() + pad)
    ax.set_ylim(pos[:, 1].min() - pad - (0.08 if adj is not None else 0), pos[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
