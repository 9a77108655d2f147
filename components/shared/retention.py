"""Whether a stack's data survives ``pulumi destroy``: the one helper every stateful resource uses.

Stateful resources are the ones whose loss loses data or makes data unreadable: buckets (and the
settings that keep a bucket private and encrypted), KMS keys, the Glue database, log groups, and
later feature groups and ECR repositories. In a retaining stack they are

* ``protect``-ed, so ``pulumi destroy`` and any accidental replacement stop with an error, and
* ``retain_on_delete``, so even after an explicit ``pulumi state unprotect`` a destroy only
  forgets them, leaving the cloud resource (and its data) in place;
* and buckets are not ``force_destroy``-ed, so a non-empty bucket is never emptied by Pulumi.

In a non-retaining stack (dev) all three are off and ``pulumi destroy`` removes everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class DataRetention:
    """The teardown policy of one stack's stateful resources."""

    retain: bool
    """True in a stack whose data must survive ``pulumi destroy`` (production)."""

    def stateful(self, parent: pulumi.Resource, **options: object) -> pulumi.ResourceOptions:
        """Return resource options for a stateful child of ``parent``.

        ``options`` are passed through to ``ResourceOptions`` (e.g. ``depends_on``); protection and
        retention always come from this policy so no caller can set them differently.
        """
        if "protect" in options or "retain_on_delete" in options:
            raise ValueError(
                "protect/retain_on_delete of stateful resources come from DataRetention"
            )
        return pulumi.ResourceOptions(
            parent=parent,
            protect=self.retain,
            retain_on_delete=self.retain,
            **options,  # type: ignore[arg-type]
        )

    @property
    def force_destroy(self) -> bool:
        """Whether Pulumi may delete a bucket that still holds objects."""
        return not self.retain
