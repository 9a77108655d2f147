"""Which SageMaker instance types carry local NVMe instance storage.

SageMaker refuses a volume KMS key (``VolumeKmsKeyId`` of a training job, ``KmsKeyId`` of an
endpoint configuration) on these types: their instance store is always encrypted by the hardware,
and they attach no EBS volume to encrypt. Serving and training ask this one rule.
"""

from __future__ import annotations

import re

# The "d" families (m5d, c5d, r5d, ...) and the GPU families that ship with NVMe drives.
_INSTANCE_STORE = re.compile(
    r"^ml\.([a-z]+\d+[a-z]*d[a-z]*|g4dn|g5|g6|g6e|p4de?|p5(?:e|en)?|p3dn)\."
)


def has_instance_storage(instance_type: str | None) -> bool:
    """Whether ``instance_type`` (``ml.g5.2xlarge``) has local NVMe storage (no volume KMS key)."""
    return bool(_INSTANCE_STORE.match(instance_type or ""))
