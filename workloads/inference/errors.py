"""Errors that carry the HTTP status a client should see.

A bad request is the client's problem, never the server's: each class below maps one kind of bad
input to its 4xx status, and its message is short, safe to show, and free of tracebacks.
"""

from __future__ import annotations


class InferenceError(Exception):
    """A request that cannot be answered; ``status`` is the HTTP status to send."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedInput(InferenceError):
    """The body cannot be decoded into rows of numbers for this model (400)."""

    status = 400


class UnsupportedContentType(InferenceError):
    """The request's Content-Type is not one we decode (415)."""

    status = 415


class NotAcceptable(InferenceError):
    """Nothing in the request's Accept is a format we encode (406)."""

    status = 406


class PayloadTooLarge(InferenceError):
    """The body is over the size limit (413)."""

    status = 413
