"""Container images: the ``image`` setting of every spec and the pinned prebuilt tags."""

from __future__ import annotations

from pydantic import (
    Field,
    field_validator,
)

from components.shared.spec_rules import Section

#: Frameworks whose AWS prebuilt inference containers run our handlers, with the image tag used
#: when a variant names none. The tag must match the framework version the model was trained
#: with (the training layer records it in the model's metadata).
PREBUILT_FRAMEWORK_TAGS = {
    "sklearn": "1.4-2",
    "xgboost": "1.7-1",
    "pytorch": "2.6.0-cpu-py312",
}


class ImageConfig(Section):
    """An image of our own in this account's ECR (built from a Dockerfile in docker/)."""

    repository: str = Field(pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$", max_length=256)
    """The ECR repository name (in the stack's account and region; 2-256 characters)."""
    tag: str = Field(pattern=r"^[\w][\w.-]{0,127}$")
    """An immutable tag (never ``latest``: a moving tag makes deploys unrepeatable)."""

    @field_validator("tag")
    @classmethod
    def _not_latest(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("must not be 'latest' (pin an immutable tag)")
        return value


#: Prebuilt SageMaker training containers that run our training code in script mode, with the tag
#: used when a pipeline names none. The serving container of the same framework must load what
#: they train, so these versions match PREBUILT_FRAMEWORK_TAGS.
PREBUILT_TRAINING_TAGS = {
    "sklearn": "1.4-2",
    "xgboost": "1.7-1",
    "pytorch": "2.6.0-cpu-py312",
}


#: The PyTorch training container tag used on GPU instances (same version as the CPU tag).
PYTORCH_GPU_TRAINING_TAG = "2.6.0-gpu-py312"


#: AWS's prebuilt scikit-learn processing image the monitor runs in when no image of ours is set
#: (numpy, scipy and boto3 inside); its repository in ``get_prebuilt_ecr_image``.
PREBUILT_MONITORING_REPOSITORY = "sagemaker-scikit-learn"


PREBUILT_MONITORING_TAG = "1.4-2-cpu-py3"
