"""How far long work got, for whoever shows it: ``progress(what, done, total)``, called as the work
advances (``total`` None while it is not known). The CLI draws bars from it; the rest of the
code only calls it."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, "int | None"], None]


def quiet(what: str, done: int, total: int | None) -> None:
    """The default: nobody is watching."""
