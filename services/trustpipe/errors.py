"""The one root of every error trustpipe raises on purpose, and the split the edges act on.

- ``UserError``: the caller's mistake (a bad argument, bad settings, a stack that is not up). The
  CLI prints one line and exits 2; nothing was started.
- ``RunError``: a run was started and did not finish as it must (counts disagree, files missing,
  a tool failed). The CLI prints one line and exits 1.
- ``TransientError``: the world is briefly unwell (an endpoint unreachable, a throttle, the
  database restarting); retrying later may succeed. Workers retry it with capped backoff.
- ``PermanentError``: this input can never be processed (undecodable, unknown schema, oversize);
  it is set aside with its reason and the rest proceeds.

Each package's own errors subclass one of these, so an edge catches ``TrustpipeError`` and decides
by kind, never by a hand-kept list of classes.
"""

from __future__ import annotations


class TrustpipeError(Exception):
    """Root of every error trustpipe raises on purpose."""


class UserError(TrustpipeError):
    """The caller's mistake: fix the argument, the settings or the environment and try again."""


class RunError(TrustpipeError):
    """A run was started and failed; its message says what is incomplete."""


class TransientError(RunError):
    """A dependency is briefly unavailable; the same call may succeed later."""


class PermanentError(TrustpipeError):
    """This input can never be processed: set it aside with the reason, let the rest proceed."""


class EndpointUnreachableError(TransientError):
    """An AWS endpoint did not answer (moto server down, no network, wrong endpoint)."""


class DatabaseUnreachableError(TransientError):
    """PostgreSQL did not answer (down, restarting, wrong host or port)."""


EXIT_USAGE = 2
EXIT_FAILED = 1


def exit_code(err: TrustpipeError) -> int:
    """2 for the user's mistake, 1 for a run that failed."""
    return EXIT_USAGE if isinstance(err, UserError) else EXIT_FAILED
