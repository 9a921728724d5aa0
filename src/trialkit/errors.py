"""The one exception type for problems a user can cause (bad file, missing variable, impossible value).

Programming errors stay ordinary Python exceptions. The CLI prints a ``TrialkitError`` and exits with code 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class TrialkitError(Exception):
    """A user-facing error whose message names where the problem is and how to fix it.

    Parameters
    ----------
    problem:
        What is wrong, in one sentence.
    source:
        The file or dataset concerned (e.g. ``studies/ignite.toml`` or ``ADSL``).
    variable:
        The key or variable concerned (e.g. ``arms[1].allocation`` or ``USUBJID``).
    rows:
        Example row numbers or identifiers where the problem occurs.
    fix:
        What the user should do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        variable: str | None = None,
        rows: Sequence[object] | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.variable = variable
        self.rows = list(rows) if rows is not None else None
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.variable:
            where.append(str(self.variable))
        head = ": ".join(where)
        msg = f"{head}: {self.problem}" if head else self.problem
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:5])
            more = f" (and {len(self.rows) - 5} more)" if len(self.rows) > 5 else ""
            msg += f" [rows: {shown}{more}]"
        if self.fix:
            msg += f". Fix: {self.fix}"
        return msg


class TrialkitErrors(TrialkitError):
    """Several user-facing problems reported together (e.g. all failed input checks)."""

    def __init__(self, errors: Iterable[TrialkitError], *, summary: str = "input checks failed") -> None:
        self.errors = list(errors)
        lines = [f"{summary} ({len(self.errors)} problem{'s' if len(self.errors) != 1 else ''}):"]
        lines += [f"  - {e}" for e in self.errors]
        Exception.__init__(self, "\n".join(lines))
        self.problem = summary
        self.source = None
        self.variable = None
        self.rows = None
        self.fix = None

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.args[0]
