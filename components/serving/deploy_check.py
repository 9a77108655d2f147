"""DeployCheck: the dynamic provider shape of a check that ``pulumi up`` runs at deploy time.

The rollout gate and the approval check are Pulumi dynamic resources that own nothing in AWS:
each runs a check when it is created and whenever one of its inputs changes, records the inputs
with the check's outputs, and fails the operation when the check raises. A failed check leaves
the recorded inputs as they were, so the next ``pulumi up`` checks again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult


class DeployCheck(ResourceProvider):
    """A provider that runs :meth:`check` on create and on every change of its ``INPUTS``."""

    # Nothing secret is captured, so the serialized provider need not be stored as a secret.
    serialize_as_secret_always = False

    #: The resource's inputs; everything else in its state is the provider's or an output.
    INPUTS: tuple[str, ...] = ()
    #: The input whose value is the resource's id.
    ID_INPUT = ""

    def check(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Run the check for ``props``; the outputs besides the inputs (raises when it fails)."""
        raise NotImplementedError

    def inputs(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs present in ``props``.

        Only those present: a resource recorded before an input existed differs from one that
        sets it, so its first update after an upgrade checks once more.
        """
        return {key: props[key] for key in self.INPUTS if key in props}

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Check what the resource is first created with."""
        return CreateResult(
            id_=props[self.ID_INPUT], outs={**self.inputs(props), **self.check(props)}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """A change (so a new check) whenever an input changes."""
        return DiffResult(
            changes=self.inputs(olds) != self.inputs(news),
            replaces=[],
            delete_before_replace=False,
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Check what this update deploys."""
        return UpdateResult(outs={**self.inputs(news), **self.check(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the check owns nothing in AWS."""
