"""Online feature lookup: the latest values of an entity, as an inference handler needs them.

:class:`OnlineFeatures` reads a group's online store with GetRecord (one entity) and
BatchGetRecord (many, in chunks of :data:`BATCH_GET_LIMIT`), and converts each ``ValueAsString``
back to the Python type of its feature (Integral ``int``, Fractional ``float``, String ``str``).
:meth:`OnlineFeatures.enrich` adds the features to request rows before predicting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from workloads.features.definitions import FRACTIONAL, INTEGRAL, FeatureGroupDefinition
from workloads.features.ingestion import (
    FeatureStoreClient,
    RetryPolicy,
    describe_error,
    fatal_reason,
    is_fatal,
    is_retryable,
)
from workloads.features.validation import FeatureValueError, value_as_string

#: BatchGetRecord takes at most 100 record identifiers per group entry
#: (BatchGetRecordIdentifier.RecordIdentifiersValueAsString: 1-100 items, API reference).
BATCH_GET_LIMIT = 100

RecordId = str | int


class FeatureLookupError(Exception):
    """A lookup that failed: the group is missing, access is denied, or records had errors."""


class OnlineFeatures:
    """The online store of one feature group, read with its definition's types.

    ``client`` is a ``sagemaker-featurestore-runtime`` client (default: a new one with botocore's
    retries off, since this class retries with its own backoff). ``retry`` governs retries of
    throttling, transient errors and unprocessed identifiers.
    """

    def __init__(
        self,
        definition: FeatureGroupDefinition,
        group_name: str,
        client: FeatureStoreClient | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.definition = definition
        self.group_name = group_name
        if client is None:
            from workloads.features.ingestion import default_client

            client = default_client()
        self.client = client
        self.retry = retry or RetryPolicy(max_attempts=4, base_seconds=0.05, cap_seconds=1.0)

    def get(
        self, record_id: RecordId, features: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        """The latest values of ``record_id`` (GetRecord); None when the record does not exist.

        Every requested feature (default: all of the group's) is a key; a value the record does
        not have is None.
        """
        names = self._feature_names(features)
        request: dict[str, Any] = {
            "FeatureGroupName": self.group_name,
            "RecordIdentifierValueAsString": self._id_text(record_id),
        }
        if features is not None:
            request["FeatureNames"] = list(names)
        response = self._call("GetRecord", self.client.get_record, request)
        record = response.get("Record")
        if not record:
            return None
        return self._values(record, names)

    def get_many(
        self, record_ids: Iterable[RecordId], features: Sequence[str] | None = None
    ) -> dict[RecordId, dict[str, Any]]:
        """The latest values of each record that exists, keyed by the ids as given.

        Uses BatchGetRecord, :data:`BATCH_GET_LIMIT` ids per call; unprocessed identifiers and
        retryable errors are retried with backoff. Records that do not exist are left out (a
        per-record ``ResourceNotFound`` error counts as not existing). Raises
        :class:`FeatureLookupError` listing every other per-record error.
        """
        names = self._feature_names(features)
        by_text: dict[str, RecordId] = {}
        for record_id in record_ids:
            by_text.setdefault(self._id_text(record_id), record_id)
        found: dict[RecordId, dict[str, Any]] = {}
        texts = list(by_text)
        for start in range(0, len(texts), BATCH_GET_LIMIT):
            chunk = texts[start : start + BATCH_GET_LIMIT]
            for text, record in self._batch_get(chunk, names, features is not None).items():
                found[by_text[text]] = self._values(record, names)
        return found

    def enrich(
        self,
        rows: Sequence[Mapping[str, Any]],
        key: str | None = None,
        features: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Copies of ``rows`` with the features of the entity each names in ``key``.

        ``key`` defaults to the group's record identifier. Features default to the group's value
        features; an entity not in the store (or a row without a key) gets None for each. A
        feature already in a row is overwritten: the store is the source of truth at inference.
        """
        key = key or self.definition.record_identifier
        wanted = (
            list(features)
            if features is not None
            else [feature.name for feature in self.definition.value_features]
        )
        # Match rows to records by the id's stored text, so 42 and "42" find the same entity.
        texts = [None if row.get(key) in (None, "") else self._id_text(row[key]) for row in rows]
        ids = [text for text in texts if text is not None]
        looked_up = self.get_many(ids, wanted) if ids else {}
        return [
            {**row, **{name: looked_up.get(text, {}).get(name) for name in wanted}}
            for row, text in zip(rows, texts, strict=True)
        ]

    def _batch_get(
        self, ids: list[str], names: Sequence[str], explicit: bool
    ) -> dict[str, list[dict[str, str]]]:
        """One chunk: records by id text, retrying unprocessed ids and retryable record errors."""
        records: dict[str, list[dict[str, str]]] = {}
        remaining = ids
        for attempt in range(1, self.retry.max_attempts + 1):
            identifier: dict[str, Any] = {
                "FeatureGroupName": self.group_name,
                "RecordIdentifiersValueAsString": remaining,
            }
            if explicit:
                identifier["FeatureNames"] = list(names)
            response = self._call(
                "BatchGetRecord", self.client.batch_get_record, {"Identifiers": [identifier]}
            )
            for item in response.get("Records", []):
                records[item["RecordIdentifierValueAsString"]] = item.get("Record", [])
            again: list[str] = []
            failures = []
            for error in response.get("Errors", []):
                code = error.get("ErrorCode", "")
                if code.startswith("ResourceNotFound"):
                    continue
                pseudo = ClientError({"Error": {"Code": code}}, "BatchGetRecord")
                if is_retryable(pseudo):
                    again.append(error["RecordIdentifierValueAsString"])
                else:
                    failures.append(
                        f"'{error.get('RecordIdentifierValueAsString')}': {code}: "
                        f"{error.get('ErrorMessage', '')}"
                    )
            if failures:
                raise FeatureLookupError(
                    f"BatchGetRecord on feature group '{self.group_name}' failed for "
                    f"{len(failures)} record(s): " + "; ".join(failures)
                )
            for unprocessed in response.get("UnprocessedIdentifiers", []):
                again.extend(unprocessed.get("RecordIdentifiersValueAsString", []))
            if not again:
                return records
            remaining = again
            if attempt < self.retry.max_attempts:
                self.retry.backoff(attempt)
        raise FeatureLookupError(
            f"BatchGetRecord on feature group '{self.group_name}' left {len(remaining)} record(s) "
            f"unprocessed after {self.retry.max_attempts} attempts: "
            + ", ".join(f"'{text}'" for text in remaining[:10])
            + (" ..." if len(remaining) > 10 else "")
        )

    def _call(self, operation: str, method: Any, request: dict[str, Any]) -> dict[str, Any]:
        """``method(**request)`` with retries; fatal and final errors as FeatureLookupError."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return method(**request)
            except Exception as error:
                if is_fatal(error):
                    raise FeatureLookupError(self._fatal_message(operation, error)) from error
                if not is_retryable(error) or attempt == self.retry.max_attempts:
                    raise FeatureLookupError(
                        f"{operation} on feature group '{self.group_name}' failed"
                        + (f" after {attempt} attempts" if attempt > 1 else "")
                        + f": {describe_error(error)}"
                    ) from error
                self.retry.backoff(attempt)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _fatal_message(self, operation: str, error: BaseException) -> str:
        what = fatal_reason(self.group_name, error, "read")
        return f"{operation}: {what}: {describe_error(error)}"

    def _feature_names(self, features: Sequence[str] | None) -> tuple[str, ...]:
        if features is None:
            return self.definition.feature_names
        if isinstance(features, str):
            raise TypeError("features must be a list of feature names, not one string")
        for name in features:
            self.definition.type_of(name)  # KeyError naming the group for an unknown feature
        return tuple(features)

    def _id_text(self, record_id: RecordId) -> str:
        feature = self.definition.record_identifier
        try:
            return value_as_string(record_id, self.definition.type_of(feature))
        except FeatureValueError as error:
            raise ValueError(f"record identifier '{feature}': {error}") from None

    def _values(self, record: list[dict[str, str]], names: Sequence[str]) -> dict[str, Any]:
        given = {item["FeatureName"]: item.get("ValueAsString") for item in record}
        return {name: self._typed(name, given.get(name)) for name in names}

    def _typed(self, name: str, text: str | None) -> Any:
        if text is None:
            return None
        kind = self.definition.type_of(name)
        if kind == INTEGRAL:
            return int(text)
        if kind == FRACTIONAL:
            return float(text)
        return text
