"""The GPU layer's input model: the ``gpu`` section of a stack (the GPU instance fleet)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    field_validator,
)

from components.shared.spec_rules import (
    Section,
    at_least_min_size,
    between_min_and_max_size,
    gpu_instance_types,
)


class GpuConfig(Section):
    """Self-managed GPU instances (the gpu layer): an Auto Scaling group of GPU boxes."""

    instance_types: tuple[Annotated[str, Field(pattern=r"^[a-z0-9-]+\.\w+$")], ...] = (
        "g5.xlarge",
        "g4dn.xlarge",
    )
    """EC2 GPU instance types the group may launch (several give spot more pools)."""
    min_size: int = Field(default=0, ge=0, le=100)
    """The fewest instances (0 lets the group scale to nothing)."""
    max_size: int = Field(default=2, ge=0, le=100)
    """The most instances."""
    desired_capacity: int | None = Field(default=None, ge=0, le=100, validate_default=True)
    """Instances at deploy (between min_size and max_size); unset starts at min_size."""
    on_demand_base_capacity: int = Field(default=0, ge=0, le=100)
    """Instances that are always on-demand, before any spot (at most 100, the group's bound)."""
    on_demand_percentage_above_base: int = Field(default=0, ge=0, le=100)
    """Share of on-demand above the base; the rest is spot (capacity-optimized)."""
    ami_name_filter: str = Field(
        default="Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *",
        min_length=1,
        max_length=255,
    )
    """Name filter of the GPU deep-learning AMI (the newest match owned by Amazon is used)."""
    root_volume_size_gb: int = Field(default=200, ge=50, le=16384)
    """Size of each instance's encrypted root volume."""

    _gpu_types = field_validator("instance_types")(gpu_instance_types)

    _above_minimum = field_validator("max_size")(at_least_min_size)

    _within_bounds = field_validator("desired_capacity")(between_min_and_max_size)
