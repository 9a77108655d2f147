"""A base for objects that hold something open and are used in a ``with`` block."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_Closeable = TypeVar("_Closeable", bound="Closeable")


class Closeable:
    """A context manager that calls :meth:`close` when its ``with`` block ends.

    ``with`` hands back the object itself, and leaving the block (normally or by an exception,
    which then propagates) closes it. Subclasses implement :meth:`close`.
    """

    def close(self) -> None:
        """Release what the object holds; called once the ``with`` block ends."""
        raise NotImplementedError

    def __enter__(self: _Closeable) -> _Closeable:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
