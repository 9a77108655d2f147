"""The resource bounds every ingestion reader works within, so memory stays bounded on any input.

A record past a bound is rejected (kind ``over_limit``) with a reason naming the bound; the run
goes on with the next line. The defaults suit feature records, which are flat and small; the
``ml-platform-features ingest`` flags of the same names (``--max-line-bytes`` ...) change them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: SageMaker's largest ``ValueAsString`` (PutRecord, FeatureValue: "Maximum length of 358400",
#: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_FeatureValue.html).
SAGEMAKER_MAX_VALUE_LENGTH = 358_400


@dataclass(frozen=True)
class InputLimits:
    """Bounds on one input record; each must be at least 1."""

    max_line_bytes: int = 1_048_576
    """Longest physical line (CSV, JSON Lines), its line ending not counted: 1 MiB. A longer
    line is skipped in chunks without being held in memory and rejected."""
    max_record_bytes: int = 1_048_576
    """Largest record: the lines of one CSV record (a quoted field may span lines), one JSON
    line, or the text and binary values of one Parquet row: 1 MiB."""
    max_record_lines: int = 100
    """Most physical lines one CSV record may span (a quoted field with line breaks): 100. An
    unterminated quote is given up after this many lines: its first line is rejected and
    reading resumes on the next line."""
    max_field_bytes: int = SAGEMAKER_MAX_VALUE_LENGTH
    """Largest single value in UTF-8 bytes (a CSV field, a JSON string, a Parquet text or binary
    value): 358400, SageMaker's ``ValueAsString`` maximum."""
    max_json_depth: int = 32
    """Deepest nesting of JSON arrays and objects in one line (a record itself is depth 1): 32."""
    max_number_digits: int = 100
    """Most digits in one number: a JSON number, or numeric text given to an Integral, a
    Fractional or an event time: 100 (an int64 has 19, a double's shortest form at most 17
    significant digits). Also keeps clear of Python's 4300-digit int conversion limit."""

    def __post_init__(self) -> None:
        for bound in fields(self):
            value = getattr(self, bound.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"{bound.name} must be a whole number of at least 1, not {value!r}"
                )


DEFAULT_LIMITS = InputLimits()
