"""R-style model formulas for :func:`trialkit.stats.mmrm` and :func:`trialkit.stats.ancova`, through formulaic.

formulaic (https://matthewwardrop.github.io/formulaic/) parses the formula (``*`` expands to main effects and
the interaction, ``- 1`` / ``0 +`` drop the intercept, terms are ordered by degree as in R) and builds the design
matrix with treatment contrasts and R's full-rank rule. The fitted models also need to know which column codes
which level of which factor (for LS means and Type III tests), so the terms formulaic parsed are coded again by
:func:`trialkit.stats.mmrm.design.build_design` with the same level order; the two matrices are checked to be
equal column by column, and formulaic's is used for the fit.

Supported right-hand sides: column names (`` `NAME WITH SPACES` `` in backticks), ``C(NAME)`` to read a numeric
column as a factor, ``:``, ``*``, ``+``, ``-``, ``0`` / ``1``, parentheses and ``**`` powers of sums. Text,
categorical, enum and boolean columns are factors (read identifiers such as SITEGR1 as text, or write
``C(SITEGR1)``); numeric columns are covariates. Transformations such as ``np.log(x)`` are not supported: add
the transformed column to the data first.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from trialkit.errors import TrialkitError

if TYPE_CHECKING:  # the mmrm package imports this module
    from trialkit.stats.mmrm.design import Design

_C_FACTOR = re.compile(r"^C\(\s*(?:`([^`]+)`|([A-Za-z_][A-Za-z0-9_.]*))\s*\)$")


@dataclass(frozen=True)
class ParsedFormula:
    """A formula reduced to what the models need: the response, the terms ("A", "A:B"), the intercept, the
    variables written as ``C(name)`` (factors whatever their type), and formulaic's right-hand side."""

    text: str
    response: str
    terms: tuple[str, ...]
    intercept: bool
    factors: tuple[str, ...]
    rhs: Any


def _variable(factor: Any, formula: str, source: str) -> tuple[str, bool]:
    """(column name, forced factor) of one formulaic factor."""
    method = getattr(factor.eval_method, "value", str(factor.eval_method))
    expr = str(factor.expr)
    if method == "lookup":
        return expr, False
    m = _C_FACTOR.match(expr.strip())
    if method == "python" and m:
        return m.group(1) or m.group(2), True
    raise TrialkitError(
        f"formula term {expr!r} is not a column name",
        source=source, variable=expr,
        fix="use column names, C(column) for a numeric factor, and :, *, +; add transformed columns "
        "(e.g. logs) to the data before fitting",
    ) from None


def is_formula(x: Any) -> bool:
    """A formula string, or a formulaic ``Formula`` (only possible once formulaic is imported)."""
    if isinstance(x, str):
        return True
    formulaic = sys.modules.get("formulaic")
    return formulaic is not None and isinstance(x, formulaic.Formula)


def _variable_order(text: str, rhs_terms: list[Any], source: str) -> dict[str, int]:
    """Variables in the order they appear in the formula (R's ``variables`` attribute)."""
    from formulaic import Formula

    try:
        written = list(Formula(text, _ordering="none").rhs)
    except Exception:  # older formulaic, or a Formula object: fall back to degree order
        written = rhs_terms
    order: dict[str, int] = {}
    for t in written:
        for fac in getattr(t, "factors", ()):
            if getattr(fac.eval_method, "value", "") != "literal":
                order.setdefault(_variable(fac, text, source)[0], len(order))
    return order


def parse_formula(formula: Any, source: str = "data") -> ParsedFormula:
    """Parse ``"RESPONSE ~ terms"`` with formulaic (R's operators; terms ordered by degree, as in R)."""
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    text = str(formula)
    try:
        f = formula if isinstance(formula, Formula) else Formula(text)
        lhs, rhs = f.lhs, f.rhs
    except AttributeError:
        raise TrialkitError(f"formula {text!r} needs a response and one right-hand side: 'Y ~ A + B'",
                            source=source, fix='write e.g. "CHG ~ TRTP * AVISIT + BASE * AVISIT"') from None
    except (FormulaicError, SyntaxError, ValueError) as exc:
        msg = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        why = msg.splitlines()[0] if msg else type(exc).__name__
        raise TrialkitError(f"formula {text!r} cannot be parsed ({why})", source=source,
                            fix='write e.g. "CHG ~ TRTP * AVISIT + BASE * AVISIT"') from None
    lhs_terms = list(lhs)
    if len(lhs_terms) != 1 or len(lhs_terms[0].factors) != 1:
        raise TrialkitError(f"formula {text!r} must have one response variable on the left of ~", source=source)
    response, forced = _variable(lhs_terms[0].factors[0], text, source)
    if forced:
        raise TrialkitError("the response cannot be a factor", source=source, variable=response)
    try:
        rhs_terms = list(rhs)
        for t in rhs_terms:
            _ = t.factors
    except AttributeError:
        raise TrialkitError(f"formula {text!r} has more than one right-hand side ('|')", source=source,
                            fix="give the fixed effects only; the covariance is set by visit=, subject=, "
                            "covariance=") from None
    order = _variable_order(text, rhs_terms, source)
    terms: list[str] = []
    factors: list[str] = []
    intercept = False
    for t in rhs_terms:
        if t.degree == 0:
            intercept = True
            continue
        names = []
        for fac in t.factors:
            name, is_factor = _variable(fac, text, source)
            if is_factor and name not in factors:
                factors.append(name)
            names.append(name)
        if any(":" in n for n in names):
            raise TrialkitError(f"column names with ':' cannot be used in formulas ({names})", source=source,
                                fix="rename the column")
        # R names an interaction with its variables in formula order: AVISIT:BASE for ... AVISIT ... BASE
        terms.append(":".join(sorted(names, key=lambda n: order.get(n, len(order)))))
    return ParsedFormula(text, response, tuple(terms), intercept, tuple(factors), rhs)


def resolve_model_arguments(
    formula: Any,
    data: Any,
    response: str | None,
    fixed: Sequence[str] | None,
    levels: Mapping[str, Sequence[object]] | None,
    source: str,
    name: str,
) -> tuple[Any, str, list[str], dict[str, Any], ParsedFormula | None]:
    """(data, response, fixed terms, levels, parsed formula or None) from the two call styles
    ``name(data, response=..., fixed=[...])`` and ``name("Y ~ terms", data=...)``."""
    if is_formula(formula):
        parsed = parse_formula(formula, source)
        if data is None:
            raise TrialkitError(f"{name}(formula) needs the data", source=source, variable="data",
                                fix=f'{name}("{parsed.text}", data=df, ...)')
        if fixed is not None:
            raise TrialkitError("the fixed effects are given twice (formula and fixed=)", source=source,
                                variable="fixed", fix="give either the formula or response= and fixed=")
        if response is not None and response != parsed.response:
            raise TrialkitError(f"response={response!r} differs from the formula's response {parsed.response!r}",
                                source=source, variable="response", fix="leave response= out with a formula")
        lev: dict[str, Any] = dict(levels or {})
        for f in parsed.factors:
            lev.setdefault(f, None)  # C(name): a factor with its observed levels in natural order
        return data, parsed.response, list(parsed.terms), lev, parsed
    if formula is not None:
        if data is not None:
            raise TrialkitError("the data are given twice", source=source, variable="data",
                                fix=f"{name}(df, response=..., fixed=[...]) or {name}(\"Y ~ terms\", data=df)")
        data = formula
    if data is None:
        raise TrialkitError(f"{name} needs the data", source=source, variable="data",
                            fix=f'{name}("Y ~ A + B", data=df) or {name}(df, response="Y", fixed=["A", "B"])')
    if response is None or fixed is None:
        raise TrialkitError(f"{name} needs a formula or response= and fixed=", source=source,
                            variable="response" if response is None else "fixed",
                            fix=f'{name}("Y ~ A + B", data=df) or {name}(df, response="Y", fixed=["A", "B"])')
    return data, response, list(fixed), dict(levels or {}), None


def _match_columns(A: np.ndarray, X: np.ndarray) -> np.ndarray | None:
    """Column permutation p with A[:, p] == X (exact, else to rounding), or None."""
    if A.shape != X.shape:
        return None
    if np.array_equal(A, X):
        return np.arange(X.shape[1])
    scale = max(1.0, float(np.abs(X).max())) if X.size else 1.0
    free = list(range(A.shape[1]))
    perm = []
    for j in range(X.shape[1]):
        hit = next((k for k in free if np.allclose(A[:, k], X[:, j], rtol=0, atol=1e-12 * scale)), None)
        if hit is None:
            return None
        free.remove(hit)
        perm.append(hit)
    return np.array(perm)


def formula_matrix(parsed: ParsedFormula, used: pl.DataFrame, design: Design, source: str) -> tuple[np.ndarray, Any]:
    """formulaic's model matrix of ``parsed`` on the analysed rows, its columns in ``design`` order, and the
    formulaic ``ModelSpec`` (to rebuild the matrix on new data). Factors enter as pandas categoricals with
    ``design``'s level order (first level = reference)."""
    import pandas as pd
    from formulaic import model_matrix

    variables = sorted({v for t in design.terms for v in t.factors + t.covariates})
    cols: dict[str, Any] = {}
    for v in variables:
        if v in design.factor_levels:
            cols[v] = pd.Categorical(used.get_column(v).cast(pl.Utf8).to_list(), categories=design.factor_levels[v])
        else:
            cols[v] = used.get_column(v).cast(pl.Float64).to_numpy()
    frame = pd.DataFrame(cols, index=pd.RangeIndex(used.height))
    mm = model_matrix(parsed.rhs, frame, ensure_full_rank=True, na_action="raise")
    A = np.asarray(mm, dtype=float)
    X_ref = design.matrix(used)
    perm = _match_columns(A, X_ref)
    if perm is None:
        raise TrialkitError(
            f"formulaic coded {parsed.text!r} with columns {list(mm.columns)}, which differ from the R-style "
            f"coding {design.names}",
            source=source, fix="write the model with main effects and interactions only (A, B, A:B, A*B)")
    return A[:, perm], mm.model_spec
