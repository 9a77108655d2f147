"""AWS's prebuilt SageMaker containers: their repositories and the tags the platform pins.

Plain tables, without Pulumi, so the specs that default and check tags stay light to import;
:mod:`components.shared.images` turns them into images and URIs.
"""

from __future__ import annotations

from typing import Literal

#: What a prebuilt container is for: serving, training in script mode, or a processing job.
ImageUse = Literal["inference", "training", "processing"]

#: AWS's prebuilt repositories per use and framework (``get_prebuilt_ecr_image``).
PREBUILT_REPOSITORIES: dict[str, dict[str, str]] = {
    "inference": {
        "sklearn": "sagemaker-scikit-learn",
        "xgboost": "sagemaker-xgboost",
        "pytorch": "pytorch-inference",
    },
    # The training containers run our code in script mode (the sagemaker-training toolkit).
    "training": {
        "sklearn": "sagemaker-scikit-learn",
        "xgboost": "sagemaker-xgboost",
        "pytorch": "pytorch-training",
    },
    "processing": {"sklearn": "sagemaker-scikit-learn"},
}

#: Frameworks whose AWS prebuilt inference containers run our handlers, with the image tag used
#: when a variant names none. The tag's version must be the major.minor the model was trained
#: with (the training code records it in the model's metadata.json): scikit-learn 1.9 and
#: XGBoost 3.2, what ``workloads`` trains with. Tags as the SageMaker Python SDK's image URI
#: tables (sagemaker-core's ``image_uri_config``) name them; tests/components/shared/
#: test_images.py checks each against those tables for every stack's region.
PREBUILT_FRAMEWORK_TAGS = {
    "sklearn": "1.9-0-cpu-py3",
    "xgboost": "3.2-0",
    "pytorch": "2.6.0-cpu-py312",
}

#: Prebuilt SageMaker training containers that run our training code in script mode, with the tag
#: used when a pipeline names none. The serving container of the same framework must load what
#: they train, so these are PREBUILT_FRAMEWORK_TAGS' versions, taken from that one table.
PREBUILT_TRAINING_TAGS = dict(PREBUILT_FRAMEWORK_TAGS)

#: The PyTorch training container tag used on GPU instances (same version as the CPU tag).
PYTORCH_GPU_TRAINING_TAG = "2.6.0-gpu-py312"

#: The tag of AWS's prebuilt scikit-learn processing image (numpy, scipy and boto3 inside), which
#: the monitor runs in when no image of ours is set.
PREBUILT_MONITORING_TAG = "1.4-2-cpu-py3"


def tag_version(tag: str) -> str:
    """The framework's major.minor version a prebuilt container's tag names.

    ``1.9-0-cpu-py3`` (scikit-learn) and ``3.2-0`` (XGBoost) name 1.9 and 3.2, ``2.6.0-cpu-py312``
    (PyTorch) names 2.6: the tags start with the version, its parts joined by dots, then ``-``.
    """
    return ".".join(tag.split("-")[0].split(".")[:2])
