"""What a green run must not print: the lines of a command's output that are noise, not its own."""

from __future__ import annotations

import re

NOISE = re.compile(
    "|".join(
        (
            r"\bWARN",  # log4j's WARN, the JVM's WARNING
            r"\w+Warning: ",  # Python's warnings
            r"Traceback \(most recent call last\)",
            r"--- Logging error ---",  # a logging handler writing to a stream already closed
            r"\[Stage \d+",  # Spark's console progress bar
            r"netlib-blas:",  # MLlib's native BLAS loader, from C
            r"default log4j profile|default log level",  # Spark on its own log configuration
        )
    )
)
JVM_MODULE_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector"
"""Printed by the JVM itself at start, before any logger exists: Spark's launcher adds the module to
every JVM it starts, and no JVM option silences the notice."""


def noise(output: str) -> list[str]:
    """The lines of ``output`` (progress bars redraw with carriage returns) that are noise."""
    lines = output.replace("\r", "\n").splitlines()
    return [line for line in lines if NOISE.search(line) and line.strip() != JVM_MODULE_NOTICE]


def assert_calm(output: str, what: str) -> None:
    """``output`` has no noise; else the failure lists every offending line."""
    found = noise(output)
    assert not found, f"{what} printed {len(found)} noise line(s):\n" + "\n".join(found)
