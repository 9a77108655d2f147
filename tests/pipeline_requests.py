"""Strict checks of a SageMaker Pipeline definition and of the schedules that start pipelines.

Each step's ``Arguments`` is the request of its step type's operation (``Training`` ->
``CreateTrainingJob`` ...). Pipeline expressions in it are replaced by typed placeholders first:
a parameter by its default value, an execution variable by a value of its documented form, a
``Steps.<name>.<path>`` property by the value the referenced step's own request gives that path
(or a sample of the property's shape), after the path has been resolved through the referenced
step's ``Describe*`` output shape. The placeholder must then pass the position's constraints.
``Std:JsonGet`` must read a PropertyFile its processing step declares for one of its outputs.

``Condition`` steps (their conditions, and the steps of their branches, checked as top-level
steps) and ``Fail`` steps have no operation; their arguments are checked against the schema.

Schema: https://aws-sagemaker-mlops.github.io/sagemaker-model-building-pipeline-definition-JSON-schema/
Retry policies: https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.model import Shape

from tests.service_models import UNRESOLVED, RequestError, operation, request_problems

#: The pipeline definition schema version SageMaker accepts.
SCHEMA_VERSION = "2020-12-01"

#: The request operation of each step type's ``Arguments``.
STEP_OPERATIONS = {
    "Training": "CreateTrainingJob",
    "Tuning": "CreateHyperParameterTuningJob",
    "Processing": "CreateProcessingJob",
    "Transform": "CreateTransformJob",
    "Model": "CreateModel",
    "RegisterModel": "CreateModelPackage",
}

#: The job-name member of each step type's request that SageMaker Pipelines fills when absent
#: (the SageMaker Python SDK leaves it out of a step's arguments: sagemaker/workflow/steps.py).
PIPELINE_NAMED = {
    "Training": "TrainingJobName",
    "Tuning": "HyperParameterTuningJobName",
    "Processing": "ProcessingJobName",
    "Transform": "TransformJobName",
    "Model": "ModelName",
}

#: The operation whose output shape holds a finished step's properties (``Steps.<name>.<path>``).
DESCRIBE_OPERATIONS = {
    "Training": "DescribeTrainingJob",
    "Tuning": "DescribeHyperParameterTuningJob",
    "Processing": "DescribeProcessingJob",
    "Transform": "DescribeTransformJob",
    "Model": "DescribeModel",
    "RegisterModel": "DescribeModelPackage",
}

_STEP_EXCEPTIONS = ("Step.SERVICE_FAULT", "Step.THROTTLING")
_JOB_EXCEPTIONS = (
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)
_NO_INTERNAL_ERROR = (*_STEP_EXCEPTIONS, "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT")

#: The retry ``ExceptionType`` values each step type takes (types missing here take no retry
#: policy). AWS: "Jobs running inside both the tuning and AutoML steps conduct retries internally
#: and will not retry the SageMaker.JOB_INTERNAL_ERROR exception type, even if a retry policy is
#: configured" (pipelines-retry-policy.html above), so listing it there is a promise AWS breaks.
RETRY_EXCEPTIONS: dict[str, tuple[str, ...]] = {
    "Processing": (*_STEP_EXCEPTIONS, *_JOB_EXCEPTIONS),
    "Training": (*_STEP_EXCEPTIONS, *_JOB_EXCEPTIONS),
    "Transform": (*_STEP_EXCEPTIONS, *_JOB_EXCEPTIONS),
    "Model": (*_STEP_EXCEPTIONS, *_JOB_EXCEPTIONS),
    "RegisterModel": (*_STEP_EXCEPTIONS, *_JOB_EXCEPTIONS),
    "NotebookJob": (*_STEP_EXCEPTIONS, *_JOB_EXCEPTIONS),
    "Tuning": _NO_INTERNAL_ERROR,
    "AutoML": _NO_INTERNAL_ERROR,
}

#: A retry policy's numeric fields and their ranges: the page above (IntervalSeconds at most
#: 43200) and the SageMaker Python SDK's checks (sagemaker/workflow/retry.py: MAX_ATTEMPTS_CAP 20,
#: MAX_EXPIRE_AFTER_MIN 14400, rates and intervals non-negative, only one of MaxAttempts and
#: ExpireAfterMin).
RETRY_FIELDS = {
    "IntervalSeconds": (int, 0, 43200),
    "BackoffRate": (float, 0.0, None),
    "MaxAttempts": (int, 0, 20),
    "ExpireAfterMin": (int, 0, 14400),
}

#: A value of each execution variable's documented form (``Execution.<name>``).
EXECUTION_VARIABLES = {
    "PipelineExecutionId": "9vq0zs2kgmj1",
    "PipelineExecutionArn": (
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mlp-dev-x/execution/9vq0zs2kgmj1"
    ),
    "PipelineName": "mlp-dev-x",
    "PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mlp-dev-x",
    "StartDateTime": "2026-12-07T15:49:33Z",
    "CurrentDateTime": "2026-12-07T15:49:33Z",
    "TrainingJobName": "pipelines-9vq0zs2kgmj1-Train-AbCdEf1234",
    "ProcessingJobName": "pipelines-9vq0zs2kgmj1-Check-AbCdEf1234",
}

#: Values of properties only a finished step has (not in its request), by member name.
PROPERTY_SAMPLES = {
    "S3ModelArtifacts": "s3://bucket/training/model.tar.gz",
    "TrainingJobName": "pipelines-9vq0zs2kgmj1-Train-AbCdEf1234",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1",
    "ProcessingJobName": "pipelines-9vq0zs2kgmj1-Check-AbCdEf1234",
    "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/job-1",
    "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/model-1",
    "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/group/1",
}

#: Pipeline parameter types: the JSON type of a default and the model type a value has.
PARAMETER_TYPES = {
    "String": (str, "string"),
    "Integer": (int, "integer"),
    "Float": (float, "float"),
    "Boolean": (bool, "boolean"),
}

_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
_STEP_KEYS = {
    "Name",
    "Type",
    "Arguments",
    "DependsOn",
    "DisplayName",
    "Description",
    "RetryPolicies",
    "CacheConfig",
    "PropertyFiles",
}
_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]|\['([^']*)'\]")


def _is_expression(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _FUNCTIONS


_FUNCTIONS = ("Get", "Std:Join", "Std:JsonGet")

#: A number a ``Std:JsonGet`` of a property file stands for (its file exists only at run time).
JSON_GET_SAMPLE = 0.5

#: The condition types of a ``Condition`` step (the pipeline definition schema's).
CONDITION_TYPES = (
    "Equals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
    "In",
    "Not",
    "Or",
)
_COMPARISONS = CONDITION_TYPES[:5]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Expressions:
    """The resolver of one step's expressions; collects the problems it finds."""

    def __init__(
        self, definition: Mapping[str, Any], step: str, outer: tuple[str, ...] = ()
    ) -> None:
        self.definition = definition
        self.parameters: dict[Any, Any] = {}
        for parameter in _objects(definition.get("Parameters")):
            # A name declared twice is reported on its own; expressions see the first.
            self.parameters.setdefault(parameter.get("Name"), parameter)
        self.steps = {step.get("Name"): step for step in all_steps(definition.get("Steps"))}
        self.step = step
        self.outer = outer
        """The steps whose property led here (a reference back to one of them is a cycle)."""
        self.problems: list[str] = []

    def __call__(self, value: Any, shape: Shape, path: str) -> Any:
        if not _is_expression(value):
            return None
        literal, kind = self.literal(value, path)
        if literal is UNRESOLVED:
            return UNRESOLVED
        wanted = shape.type_name
        if kind is not None and not _fits(kind, wanted):
            self.problems.append(
                f"{path}: {_describe(value)} is {kind}, the request wants {wanted}"
            )
            return UNRESOLVED
        return literal

    def literal(self, value: Mapping[str, Any], path: str) -> tuple[Any, str | None]:
        """A placeholder for an expression and its model type (``None``: any)."""
        ((function, body),) = value.items()
        if function == "Std:Join":
            return self._join(body, path), "string"
        if function == "Std:JsonGet":
            return self._json_get(body, path), None
        if function != "Get" or not isinstance(body, str):
            self.problems.append(f"{path}: the checks cannot resolve {_describe(value)}")
            return UNRESOLVED, None
        scope, _, rest = body.partition(".")
        if scope == "Parameters":
            return self._parameter(rest, path)
        if scope == "Execution":
            if rest not in EXECUTION_VARIABLES:
                self.problems.append(f"{path}: Execution.{rest} is not an execution variable")
                return UNRESOLVED, None
            return EXECUTION_VARIABLES[rest], "string"
        if scope == "Steps":
            return self._property(rest, path)
        self.problems.append(f"{path}: {body!r} is neither Parameters, Execution nor Steps")
        return UNRESOLVED, None

    def _join(self, body: Any, path: str) -> Any:
        if (
            not isinstance(body, Mapping)
            or set(body) - {"On", "Values"}
            or not isinstance(body.get("Values"), list)
        ):
            self.problems.append(f"{path}: Std:Join takes On and a list of Values, got {body!r}")
            return UNRESOLVED
        parts = []
        for item in body["Values"]:
            if _is_expression(item):
                item, _ = self.literal(item, path)
                if item is UNRESOLVED:
                    return UNRESOLVED
            parts.append(_as_text(item))
        return str(body.get("On", "")).join(parts)

    def _json_get(self, body: Any, path: str) -> Any:
        if (
            not isinstance(body, Mapping)
            or set(body) != {"PropertyFile", "Path"}
            or not isinstance(body["Path"], str)
            or not body["Path"]
        ):
            self.problems.append(
                f"{path}: Std:JsonGet takes a PropertyFile and a Path, got {body!r}"
            )
            return UNRESOLVED
        reference = body["PropertyFile"]
        target = reference.get("Get") if isinstance(reference, Mapping) else None
        parts = target.split(".") if isinstance(target, str) else []
        if len(parts) != 4 or parts[0] != "Steps" or parts[2] != "PropertyFiles":
            self.problems.append(f"{path}: {reference!r} is not Steps.<step>.PropertyFiles.<file>")
            return UNRESOLVED
        step = self.steps.get(parts[1])
        declared = [
            item.get("PropertyFileName") for item in _objects((step or {}).get("PropertyFiles"))
        ]
        if step is None or parts[3] not in declared:
            self.problems.append(f"{path}: {target} is not a property file of the pipeline")
            return UNRESOLVED
        return JSON_GET_SAMPLE

    def _parameter(self, name: str, path: str) -> tuple[Any, str | None]:
        parameter = self.parameters.get(name)
        if parameter is None:
            self.problems.append(f"{path}: Parameters.{name} is not a parameter of the pipeline")
            return UNRESOLVED, None
        if "DefaultValue" not in parameter:
            self.problems.append(f"{path}: Parameters.{name} has no default value to check with")
            return UNRESOLVED, None
        declared = PARAMETER_TYPES.get(parameter.get("Type", "String"))
        return parameter["DefaultValue"], None if declared is None else declared[1]

    def _property(self, reference: str, path: str) -> tuple[Any, str | None]:
        name, _, tail = reference.partition(".")
        where = f"{path}: Steps.{reference}"
        step = self.steps.get(name)
        if step is None or name == self.step:
            self.problems.append(f"{where} names no other step of the pipeline")
            return UNRESOLVED, None
        if name in self.outer:
            self.problems.append(f"{where} is a reference cycle")
            return UNRESOLVED, None
        describe = DESCRIBE_OPERATIONS.get(step.get("Type"))
        if describe is None:
            self.problems.append(f"{where}: a {step.get('Type')} step has no properties")
            return UNRESOLVED, None
        shape: Shape = operation("sagemaker", describe).output_shape
        request: Any = step.get("Arguments", {})
        position = 0
        for match in _PATH_TOKEN.finditer("." + tail):
            if match.start() != position:
                break
            position = match.end()
            member, index, key = match.groups()
            if member is not None:
                if shape.type_name != "structure" or member not in shape.members:
                    self.problems.append(f"{where}: {describe} has no {member} there")
                    return UNRESOLVED, None
                shape = shape.members[member]
                request = request.get(member) if isinstance(request, Mapping) else None
            elif shape.type_name == "list" and index is not None:
                shape = shape.member
                request = request[int(index)] if _has_index(request, int(index)) else None
            elif shape.type_name == "list" and key is not None:
                shape, request = shape.member, _named(shape.member, request, key)
                if request is UNRESOLVED:
                    self.problems.append(f"{where}: {step['Name']}'s request has no {key!r} there")
                    return UNRESOLVED, None
            elif shape.type_name == "map" and key is not None:
                shape = shape.value
                request = request.get(key) if isinstance(request, Mapping) else None
            else:
                self.problems.append(f"{where}: cannot index a {shape.type_name} there")
                return UNRESOLVED, None
        if position != len(tail) + 1:
            self.problems.append(f"{where}: cannot read the path after {tail[: position - 1]!r}")
            return UNRESOLVED, None
        if shape.type_name in ("structure", "list", "map"):
            self.problems.append(f"{where} is a whole {shape.type_name}, not a value")
            return UNRESOLVED, None
        if request is not None:
            if _is_expression(request):
                # The referenced step's own expressions, resolved in that step's context.
                inner = _Expressions(self.definition, name, (*self.outer, self.step))
                request, _ = inner.literal(request, f"{path} (through {name})")
                self.problems.extend(inner.problems)
            return request, shape.type_name
        leaf = tail.rsplit(".", 1)[-1]
        if shape.type_name == "string" and leaf in PROPERTY_SAMPLES:
            return PROPERTY_SAMPLES[leaf], "string"
        self.problems.append(f"{where}: no placeholder value for {describe}'s {shape.name}")
        return UNRESOLVED, None


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list in the definition (anything else is reported where it is read)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _branches(step: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """A condition step's ``IfSteps`` and ``ElseSteps`` (empty for any other step)."""
    arguments = step.get("Arguments")
    if step.get("Type") != "Condition" or not isinstance(arguments, Mapping):
        return []
    return [(key, arguments.get(key, [])) for key in ("IfSteps", "ElseSteps")]


def all_steps(steps: Any) -> list[Mapping[str, Any]]:
    """Every step of a definition's ``Steps``, the condition steps' branches included."""
    found = []
    for step in _objects(steps):
        found.append(step)
        for _, branch in _branches(step):
            found += all_steps(branch)
    return found


def _has_index(value: Any, index: int) -> bool:
    return isinstance(value, list) and 0 <= index < len(value)


def _named(element: Shape, request: Any, key: str) -> Any:
    """The item of a request list named ``key`` (by the element's ``...Name`` member).

    ``None`` when the request does not hold the list (a property set by the service).
    """
    if not isinstance(request, list):
        return None
    names = [m for m in element.required_members if m.endswith("Name")]
    for item in request:
        if isinstance(item, Mapping) and any(item.get(m) == key for m in names):
            return item
    return UNRESOLVED


def _fits(kind: str, wanted: str) -> bool:
    groups = [("string",), ("integer", "long"), ("float", "double"), ("boolean",)]
    if kind == "integer" and wanted in ("float", "double"):
        return True
    return any(kind in group and wanted in group for group in groups) or (
        kind == "string" and wanted == "timestamp"
    )


def _describe(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)


def _parameter_problems(parameters: Any) -> Iterator[str]:
    if not isinstance(parameters, list):
        yield "Parameters: expected a list"
        return
    seen: set[str] = set()
    for index, parameter in enumerate(parameters):
        where = f"Parameters[{index}]"
        if not isinstance(parameter, Mapping):
            yield f"{where}: expected an object"
            continue
        name = parameter.get("Name")
        if unknown := sorted(set(parameter) - {"Name", "Type", "DefaultValue", "EnumValues"}):
            yield f"{where}: unknown keys {', '.join(unknown)}"
        if not isinstance(name, str) or not _NAME.match(name):
            yield f"{where}.Name: {name!r} does not match {_NAME.pattern}"
        elif name in seen:
            yield f"{where}.Name: {name!r} is declared twice"
        else:
            seen.add(name)
        kind = parameter.get("Type")
        if kind not in PARAMETER_TYPES:
            yield f"{where}.Type: {kind!r} is not one of {', '.join(PARAMETER_TYPES)}"
            continue
        if "DefaultValue" in parameter:
            default = parameter["DefaultValue"]
            python_type = PARAMETER_TYPES[kind][0]
            ok = isinstance(default, python_type) and (python_type is bool) == isinstance(
                default, bool
            )
            if kind == "Float" and isinstance(default, int) and not isinstance(default, bool):
                ok = True
            if not ok:
                yield f"{where}.DefaultValue: {default!r} is not of type {kind}"


def _retry_problems(step: Mapping[str, Any], where: str) -> Iterator[str]:
    policies = step.get("RetryPolicies")
    if policies is None:
        return
    kind = step.get("Type")
    allowed = RETRY_EXCEPTIONS.get(kind)
    if allowed is None:
        yield f"{where}.RetryPolicies: a {kind} step takes no retry policy"
        return
    if not isinstance(policies, list):
        yield f"{where}.RetryPolicies: expected a list"
        return
    for index, policy in enumerate(policies):
        at = f"{where}.RetryPolicies[{index}]"
        if not isinstance(policy, Mapping):
            yield f"{at}: expected an object"
            continue
        if unknown := sorted(set(policy) - {"ExceptionType", *RETRY_FIELDS}):
            yield f"{at}: unknown keys {', '.join(unknown)}"
        exceptions = policy.get("ExceptionType")
        if not isinstance(exceptions, list) or not exceptions:
            yield f"{at}.ExceptionType: expected a non-empty list"
            exceptions = []
        for exception in exceptions:
            if exception not in allowed:
                yield f"{at}.ExceptionType: a {kind} step does not retry {exception}"
        if "MaxAttempts" in policy and "ExpireAfterMin" in policy:
            yield f"{at}: MaxAttempts and ExpireAfterMin exclude each other"
        for field, (python_type, low, high) in RETRY_FIELDS.items():
            if field not in policy:
                continue
            value = policy[field]
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or (python_type is int and not isinstance(value, int)):
                yield f"{at}.{field}: {value!r} is not a{'n integer' if python_type is int else ' number'}"
            elif high is None and value < low:
                yield f"{at}.{field}: {value!r} is below {low}"
            elif high is not None and not low <= value <= high:
                yield f"{at}.{field}: {value!r} is outside {low}-{high}"


def _property_file_problems(step: Mapping[str, Any], where: str) -> Iterator[str]:
    files = step.get("PropertyFiles")
    if files is None:
        return
    if step.get("Type") != "Processing" or not isinstance(files, list):
        yield f"{where}.PropertyFiles: only a Processing step has a list of them"
        return
    arguments = step.get("Arguments") if isinstance(step.get("Arguments"), Mapping) else {}
    config = arguments.get("ProcessingOutputConfig") or {}
    outputs = {item.get("OutputName") for item in _objects(config.get("Outputs"))}
    for index, item in enumerate(files):
        at = f"{where}.PropertyFiles[{index}]"
        if not isinstance(item, Mapping) or set(item) != {
            "PropertyFileName",
            "OutputName",
            "FilePath",
        }:
            yield f"{at}: needs exactly PropertyFileName, OutputName and FilePath"
            continue
        if not _NAME.match(str(item["PropertyFileName"])):
            yield f"{at}.PropertyFileName: does not match {_NAME.pattern}"
        if item["OutputName"] not in outputs:
            yield f"{at}.OutputName: {item['OutputName']!r} is not an output of the step"
        if not isinstance(item["FilePath"], str) or not item["FilePath"]:
            yield f"{at}.FilePath: expected a non-empty path"


def _operand_problems(resolve: _Expressions, value: Any, at: str) -> Iterator[str]:
    if _is_expression(value):
        resolve.literal(value, at)
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        yield f"{at}: expected a number, a string or an expression, got {value!r}"


def _condition_problems(
    definition: Mapping[str, Any], step: Mapping[str, Any], where: str, names: list[Any]
) -> Iterator[str]:
    arguments = step.get("Arguments")
    if not isinstance(arguments, Mapping) or set(arguments) - {
        "Conditions",
        "IfSteps",
        "ElseSteps",
    }:
        yield f"{where}.Arguments: a Condition step takes Conditions, IfSteps and ElseSteps"
        return
    conditions = arguments.get("Conditions")
    if not isinstance(conditions, list) or not conditions:
        yield f"{where}.Arguments.Conditions: expected a non-empty list"
        conditions = []
    resolve = _Expressions(definition, step.get("Name"))
    for index, condition in enumerate(conditions):
        at = f"{where}.Arguments.Conditions[{index}]"
        kind = condition.get("Type") if isinstance(condition, Mapping) else None
        if kind not in _COMPARISONS:
            yield f"{at}.Type: {kind!r} is not one of {', '.join(_COMPARISONS)}"
            continue
        if set(condition) != {"Type", "LeftValue", "RightValue"}:
            yield f"{at}: a comparison takes exactly Type, LeftValue and RightValue"
            continue
        for side in ("LeftValue", "RightValue"):
            yield from _operand_problems(resolve, condition[side], f"{at}.{side}")
    yield from resolve.problems
    for key, branch in _branches(step):
        if not isinstance(branch, list):
            yield f"{where}.Arguments.{key}: expected a list of steps"
            continue
        for index, inner in enumerate(branch):
            yield from _step_problems(definition, inner, f"{where}.{key}[{index}]", names)


def _fail_problems(
    definition: Mapping[str, Any], step: Mapping[str, Any], where: str
) -> Iterator[str]:
    arguments = step.get("Arguments")
    if not isinstance(arguments, Mapping) or set(arguments) != {"ErrorMessage"}:
        yield f"{where}.Arguments: a Fail step takes an ErrorMessage"
        return
    message = arguments["ErrorMessage"]
    resolve = _Expressions(definition, step.get("Name"))
    if _is_expression(message):
        message = resolve.literal(message, f"{where}.Arguments.ErrorMessage")[0]
    yield from resolve.problems
    if message is not UNRESOLVED and (not isinstance(message, str) or not message):
        yield f"{where}.Arguments.ErrorMessage: expected a non-empty string"


def _step_problems(
    definition: Mapping[str, Any], step: Any, where: str, names: list[Any]
) -> Iterator[str]:
    if not isinstance(step, Mapping):
        yield f"{where}: expected an object"
        return
    name, kind = step.get("Name"), step.get("Type")
    where = f"{where} ({name})"
    if unknown := sorted(set(step) - _STEP_KEYS):
        yield f"{where}: unknown keys {', '.join(unknown)}"
    if not isinstance(name, str) or not _NAME.match(name):
        yield f"{where}.Name: does not match {_NAME.pattern}"
    elif names.count(name) > 1:
        yield f"{where}.Name: used by {names.count(name)} steps"
    depends_on = step.get("DependsOn", [])
    if not isinstance(depends_on, list):
        yield f"{where}.DependsOn: expected a list of step names"
        depends_on = []
    for other in depends_on:
        if other not in names or other == name:
            yield f"{where}.DependsOn: {other!r} names no other step"
    yield from _retry_problems(step, where)
    yield from _property_file_problems(step, where)
    if kind == "Condition":
        yield from _condition_problems(definition, step, where, names)
        return
    if kind == "Fail":
        yield from _fail_problems(definition, step, where)
        return
    operation_name = STEP_OPERATIONS.get(kind)
    if operation_name is None:
        yield f"{where}.Type: no request operation known for {kind!r}"
        return
    resolve = _Expressions(definition, name)
    shape = operation("sagemaker", operation_name).input_shape
    found = request_problems(shape, step.get("Arguments"), "", resolve)
    named = f"{PIPELINE_NAMED.get(kind)}: missing required member"
    found = [problem for problem in found if problem != named]
    for problem in [*resolve.problems, *found]:
        yield f"{where}.Arguments ({operation_name}).{problem}"


def definition_problems(definition: Mapping[str, Any]) -> list[str]:
    """Every way a pipeline definition breaks the schema, its steps' operations or AWS's rules."""
    problems: list[str] = []
    if definition.get("Version") != SCHEMA_VERSION:
        problems.append(f"Version: {definition.get('Version')!r} is not {SCHEMA_VERSION}")
    if unknown := sorted(
        set(definition) - {"Version", "Metadata", "Parameters", "PipelineExperimentConfig", "Steps"}
    ):
        problems.append(f"unknown keys {', '.join(unknown)}")
    problems.extend(_parameter_problems(definition.get("Parameters", [])))
    steps = definition.get("Steps")
    if not isinstance(steps, list) or not steps:
        return [*problems, "Steps: expected a non-empty list"]
    names = [step.get("Name") for step in all_steps(steps)]
    for index, step in enumerate(steps):
        problems.extend(_step_problems(definition, step, f"Steps[{index}]", names))
    return problems


def check_definition(definition: Mapping[str, Any]) -> None:
    """Raise :class:`RequestError` (one line) unless the definition is sound."""
    if problems := definition_problems(definition):
        raise RequestError("pipeline definition: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------------------------

#: Pulumi input names whose API member is not the name with a capital first letter.
_SCHEDULE_NAMES = {
    "sagemakerPipelineParameters": "SageMakerPipelineParameters",
    "pipelineParameters": "PipelineParameterList",
}

#: Pulumi-only inputs that are not members of the request.
_PULUMI_ONLY = {"namePrefix", "region"}

_UNIVERSAL_TARGET = re.compile(r"^arn:aws[a-z-]*:scheduler:::aws-sdk:([a-z0-9-]+):([a-zA-Z0-9]+)$")
_PIPELINE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/(.+)$")


def schedule_request(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded ``aws.scheduler.Schedule``'s inputs as the ``CreateSchedule`` request."""

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                _SCHEDULE_NAMES.get(key, key[:1].upper() + key[1:]): convert(item)
                for key, item in value.items()
                if key not in _PULUMI_ONLY
            }
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    return convert(inputs)


def schedule_problems(
    request: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every way a ``CreateSchedule`` request breaks the model or its target operation.

    ``definitions`` maps pipeline names to their definitions (what a SageMaker target starts).
    """
    problems = request_problems(operation("scheduler", "CreateSchedule").input_shape, request)
    target = request.get("Target", {})
    arn = target.get("Arn", "")
    if universal := _UNIVERSAL_TARGET.match(arn):
        service, action = universal.groups()
        name = action[:1].upper() + action[1:]
        try:
            payload = json.loads(target.get("Input", "{}"))
        except json.JSONDecodeError as error:
            return [*problems, f"Target.Input: not JSON ({error.msg})"]
        try:
            model = operation(service, name)
        except Exception:  # botocore raises several unrelated types for an unknown name
            return [*problems, f"Target.Arn: {service}:{action} is no botocore operation"]
        found = request_problems(model.input_shape, payload)
        return [*problems, *(f"Target.Input ({name}).{problem}" for problem in found)]
    pipeline = _PIPELINE_ARN.match(arn)
    if pipeline is None:
        return [*problems, f"Target.Arn: {arn!r} is neither a pipeline nor a universal target"]
    definition = definitions.get(pipeline[1])
    if definition is None:
        return [*problems, f"Target.Arn: pipeline {pipeline[1]!r} is not in the plan"]
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    given = target.get("SageMakerPipelineParameters", {}).get("PipelineParameterList", [])
    for index, item in enumerate(given):
        where = f"Target.SageMakerPipelineParameters.PipelineParameterList[{index}]"
        name = item.get("Name")
        if name not in declared:
            problems.append(f"{where}.Name: {name!r} is not a parameter of {pipeline[1]}")
            continue
        kind = declared[name].get("Type", "String")
        if not _parses_as(str(item.get("Value")), kind):
            problems.append(f"{where}.Value: {item.get('Value')!r} is not of type {kind}")
    for name, parameter in declared.items():
        if "DefaultValue" not in parameter and name not in {p.get("Name") for p in given}:
            problems.append(f"Target: {pipeline[1]}'s parameter {name} has no default and no value")
    start = {
        "PipelineName": pipeline[1],
        "PipelineParameters": [{"Name": p.get("Name"), "Value": p.get("Value")} for p in given],
    }
    found = request_problems(operation("sagemaker", "StartPipelineExecution").input_shape, start)
    return [*problems, *(f"Target (StartPipelineExecution).{problem}" for problem in found)]


def _parses_as(text: str, kind: str) -> bool:
    if kind == "Integer":
        return re.fullmatch(r"-?\d+", text) is not None
    if kind == "Float":
        try:
            float(text)
        except ValueError:
            return False
        return True
    if kind == "Boolean":
        return text in ("true", "false")
    return True


def check_schedule(
    request: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]]
) -> None:
    """Raise :class:`RequestError` (one line) unless the schedule and its target are sound."""
    if problems := schedule_problems(request, definitions):
        raise RequestError("CreateSchedule: " + "; ".join(problems))
