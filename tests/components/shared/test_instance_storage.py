"""The NVMe instance-storage rule that decides whether SageMaker accepts a volume KMS key."""

from __future__ import annotations

import pytest

from components.shared.instance_storage import has_instance_storage


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("ml.m5.xlarge", False),
        ("ml.m5d.xlarge", True),
        ("ml.c5d.2xlarge", True),
        ("ml.p3.2xlarge", False),
        ("ml.p3dn.24xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.p4de.24xlarge", True),
        ("ml.p5.48xlarge", True),
        ("ml.p5e.48xlarge", True),
        ("ml.p5en.48xlarge", True),
        ("ml.g4dn.xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.g6e.xlarge", True),
        ("ml.t3.medium", False),
        (None, False),
    ],
)
def test_instance_storage_families(instance_type: str | None, expected: bool) -> None:
    # given an instance type / when the rule is asked / then NVMe families are recognised
    assert has_instance_storage(instance_type) is expected
