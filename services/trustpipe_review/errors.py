"""The review API's refusals: each an HTTP status and one reason the caller can act on."""

from __future__ import annotations

from http import HTTPStatus


class ReviewError(Exception):
    """A request the API refuses; ``status`` is its HTTP answer, the message its one reason."""

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequestError(ReviewError):
    """A malformed parameter, header or body."""


class UnauthenticatedError(ReviewError):
    """No token, or one that is forged, expired, of another pool or client, or not an id token."""

    status = HTTPStatus.UNAUTHORIZED


class ForbiddenError(ReviewError):
    """A valid token whose role may not do this (a viewer deciding), or of no served enterprise."""

    status = HTTPStatus.FORBIDDEN


class NotFoundError(ReviewError):
    """No such message at the caller's enterprise (another enterprise's is 'not found' too)."""

    status = HTTPStatus.NOT_FOUND


class ConflictError(ReviewError):
    """An idempotency key already used for another message or decision."""

    status = HTTPStatus.CONFLICT


class TooLargeError(ReviewError):
    """A body or query string over the API's limits."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
