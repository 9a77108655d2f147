"""The resource bounds of a check: what one capture line may cost, and what a window may keep.

Every bound is a field of :class:`Limits` (a function parameter of ``scan_capture``,
``read_capture``, ``check_capture`` and ``check_window``) and a ``check`` option of the same name
(``--max-line-bytes``, ...). Past a per-line bound the line is counted as malformed with a reason
naming the bound, and reading goes on; past a per-window bound the figures stay exact and only
the *listing* is cut (the first ones kept, the rest counted). Memory of a check depends on the
baseline and on these bounds, never on the size of the window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

#: Python's csv module refuses a field longer than this (``csv.field_size_limit()``'s default,
#: a process-wide setting we leave alone), so a CSV cell bound cannot exceed it.
CSV_FIELD_LIMIT = 131_072

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on what reading and checking a window may hold in memory at once."""

    max_line_bytes: int = 16 * _MIB
    """Longest capture line read (bytes, newline excluded; default 16 MiB). A SageMaker real-time
    payload is at most 6 MB, BASE64 makes it 8 MB, and a line holds the request and the answer.
    A longer line is skipped in bounded chunks, never loaded, and counted as malformed."""
    max_payload_bytes: int = 8 * _MIB
    """Longest ``data`` string of one request or answer (characters; default 8 MiB). A longer
    one makes its line malformed before it is decoded."""
    max_json_depth: int = 64
    """Deepest nesting of arrays and objects in a capture line or a JSON payload (default 64;
    a real one needs at most 5). Deeper ones make the line malformed."""
    max_number_digits: int = 100
    """Most digits of an integer in a JSON payload or line (default 100; float64 tops out at
    309). A longer integer makes the line malformed."""
    max_csv_cell: int = 65_536
    """Longest CSV cell of a payload (characters; default 64 KiB, at most 131,072, the csv
    module's own limit). A longer cell makes the line malformed."""
    max_unknown_keys: int = 100
    """Distinct JSON keys naming no feature that are listed one violation each (default 100).
    Past it the window gets one ``extra_column_check`` violation naming the first ones and
    counting the rest, instead of one per key."""
    max_unseen_categories: int = 1_000
    """Distinct unseen categories per categorical feature counted one by one (default 1,000).
    The unseen rate and the JS distance stay exact past it (one counter gathers the rest);
    only the list of the most frequent unseen categories is then approximate."""
    max_label_chars: int = 256
    """Longest unknown key or unseen category kept for the report (characters; default 256).
    Longer ones are cut and end with an ellipsis."""
    max_examples: int = 20
    """Malformed lines whose file, line and reason the summary keeps (default 20; all are
    counted)."""
    chunk_rows: int = 65_536
    """Rows (and predictions) held as raw cells before they are folded into counts (default
    65,536): the part of a check's memory that would otherwise grow with the window."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {item.name} must be a whole number >= 1, got {value!r}")
        if self.max_csv_cell > CSV_FIELD_LIMIT:
            raise ValueError(
                f"limit max_csv_cell must be at most {CSV_FIELD_LIMIT} (the csv module's field "
                f"limit), got {self.max_csv_cell}"
            )

    def to_json(self) -> dict[str, int]:
        """The bounds by name, for summary.json."""
        return asdict(self)


#: One line per bound for ``check --help`` (the field docstrings above say more).
HELP = {
    "max_line_bytes": "longest capture line read, in bytes; a longer one is skipped as malformed",
    "max_payload_bytes": "longest request or answer 'data', in characters; longer is malformed",
    "max_json_depth": "deepest nesting of a line or a JSON payload; deeper is malformed",
    "max_number_digits": "most digits of a JSON integer; a longer one makes its line malformed",
    "max_csv_cell": "longest CSV cell, in characters (<= 131072); longer is malformed",
    "max_unknown_keys": "unknown JSON keys listed one violation each; past it one sums them up",
    "max_unseen_categories": "unseen categories counted by name per feature; the rate stays exact",
    "max_label_chars": "longest unknown key or category kept for the report",
    "max_examples": "malformed lines whose file, line and reason the summary keeps",
    "chunk_rows": "rows held as raw cells before they are folded into counts",
}
