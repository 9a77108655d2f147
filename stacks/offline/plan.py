"""Offline plan: run a stack's real program under the mock runtime and show what it would create.

    python -m stacks.offline.plan --stack dev            # what `make plan STACK=dev` runs

No cloud account, credentials or Pulumi CLI is needed. It prints a tree of resources grouped by
component with the settings that matter, counts by type, and writes ``build/plan/<stack>.json``.
A config error (including a stack file that is not a YAML mapping with a ``config:`` mapping,
has a duplicate key or an alias) exits with status 2 and the list of problems; a plan file or
manifest that cannot be written exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi

from components.shared.spec_rules import PROJECT_ROOT
from components.training.repositories import RELEASE_IMAGES_KEPT
from stacks.config import ConfigError, load_stack_file
from stacks.offline.mock_runtime import (
    PlanRun,
    RecordedResource,
    flatten_stack_file,
    run_offline,
    tree_order,
)
from stacks.offline.rendered_manifests import write_rendered_manifests

#: Settings shown next to each resource type in the tree: (label, dotted path into the inputs).
SUMMARY_FIELDS: dict[str, Sequence[tuple[str, str]]] = {
    "pulumi:providers:aws": [("region", "region")],
    "aws:kms/key:Key": [
        ("rotation", "enableKeyRotation"),
        ("deletion_window_days", "deletionWindowInDays"),
    ],
    "aws:kms/alias:Alias": [("name", "name")],
    "aws:sagemaker/featureGroup:FeatureGroup": [
        ("name", "featureGroupName"),
        ("online", "onlineStoreConfig.enableOnlineStore"),
        ("storage", "onlineStoreConfig.storageType"),
        ("ttl_days", "onlineStoreConfig.ttlDuration.value"),
        ("table", "offlineStoreConfig.dataCatalogConfig.tableName"),
        ("format", "offlineStoreConfig.tableFormat"),
    ],
    "aws:athena/workgroup:Workgroup": [
        ("results", "configuration.resultConfiguration.encryptionConfiguration.encryptionOption"),
        ("scan_limit_bytes", "configuration.bytesScannedCutoffPerQuery"),
    ],
    "aws:s3/bucket:Bucket": [("force_destroy", "forceDestroy")],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        ("sse", "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm"),
        ("bucket_key", "rules.0.bucketKeyEnabled"),
    ],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": [
        ("block_public_acls", "blockPublicAcls"),
        ("block_public_policy", "blockPublicPolicy"),
        ("ignore_public_acls", "ignorePublicAcls"),
        ("restrict_public_buckets", "restrictPublicBuckets"),
    ],
    "aws:s3/bucketVersioning:BucketVersioning": [
        ("status", "versioningConfiguration.status"),
    ],
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": [
        ("ownership", "rule.objectOwnership"),
    ],
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": [
        ("transitions", "rules.0.transitions"),
        ("expire_days", "rules.0.expiration.days"),
        ("noncurrent_expire_days", "rules.0.noncurrentVersionExpiration.noncurrentDays"),
        ("abort_upload_days", "rules.0.abortIncompleteMultipartUpload.daysAfterInitiation"),
    ],
    "aws:s3/bucketLogging:BucketLogging": [("prefix", "targetPrefix")],
    "aws:ec2/vpc:Vpc": [("cidr", "cidrBlock")],
    "aws:ec2/subnet:Subnet": [
        ("zone", "availabilityZone"),
        ("cidr", "cidrBlock"),
        ("public_ip", "mapPublicIpOnLaunch"),
    ],
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": [
        ("ingress", "ingress"),
        ("egress", "egress"),
    ],
    "aws:ec2/vpcEndpoint:VpcEndpoint": [
        ("service", "serviceName"),
        ("type", "vpcEndpointType"),
    ],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        ("protocol", "ipProtocol"),
        ("port", "fromPort"),
        ("from", "cidrIpv4"),
    ],
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": [
        ("protocol", "ipProtocol"),
        ("port", "fromPort"),
        ("to_prefix_list", "prefixListId"),
    ],
    "aws:ec2/flowLog:FlowLog": [("traffic", "trafficType"), ("to", "logDestinationType")],
    "aws:cloudwatch/logGroup:LogGroup": [
        ("name", "name"),
        ("retention_days", "retentionInDays"),
    ],
    "aws:glue/catalogDatabase:CatalogDatabase": [("name", "name")],
    "aws:sns/topic:Topic": [("name", "name")],
    "aws:s3/bucketObjectv2:BucketObjectv2": [("key", "key")],
    "aws:sagemaker/model:Model": [
        ("image", "primaryContainer.image"),
        ("model_package", "primaryContainer.modelPackageName"),
        ("network_isolation", "enableNetworkIsolation"),
        ("vpc_subnets", "vpcConfig.subnets"),
    ],
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": [
        ("capture_percent", "dataCaptureConfig.initialSamplingPercentage"),
    ],
    "aws:sagemaker/endpoint:Endpoint": [
        ("name", "name"),
        ("rollout", "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type"),
        (
            "canary_percent",
            "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.canarySize.value",
        ),
        (
            "linear_step_percent",
            "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration"
            ".linearStepSize.value",
        ),
        ("baking_s", "deploymentConfig.blueGreenUpdatePolicy.terminationWaitInSeconds"),
    ],
    "pulumi-python:dynamic/serving:RolloutGate": [("timeout_s", "timeout_seconds")],
    "pulumi-python:dynamic/serving:ModelApproval": [
        ("group", "group_name"),
        ("version", "version"),
        ("serving_version", "serving_version"),
    ],
    "aws:appautoscaling/target:Target": [
        ("variant", "resourceId"),
        ("min", "minCapacity"),
        ("max", "maxCapacity"),
    ],
    "aws:appautoscaling/policy:Policy": [
        (
            "metric",
            "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification"
            ".predefinedMetricType",
        ),
        ("target", "targetTrackingScalingPolicyConfiguration.targetValue"),
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [
        ("metric", "metricName"),
        ("stat", "statistic"),
        ("stat", "extendedStatistic"),
        ("threshold", "threshold"),
    ],
    "aws:ec2/launchTemplate:LaunchTemplate": [
        ("ami", "imageId"),
        ("imds_tokens", "metadataOptions.httpTokens"),
        ("public_ip", "networkInterfaces.0.associatePublicIpAddress"),
        ("root_gb", "blockDeviceMappings.0.ebs.volumeSize"),
        ("ebs_encrypted", "blockDeviceMappings.0.ebs.encrypted"),
        ("key_pair", "keyName"),
    ],
    "aws:ecr/repository:Repository": [
        ("name", "name"),
        ("tags", "imageTagMutability"),
        ("scan_on_push", "imageScanningConfiguration.scanOnPush"),
        ("encryption", "encryptionConfigurations.0.encryptionType"),
        ("force_delete", "forceDelete"),
    ],
    "aws:sagemaker/mlflowApp:MlflowApp": [
        ("name", "name"),
        ("artifacts", "artifactStoreUri"),
        ("registration", "modelRegistrationMode"),
    ],
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": [
        ("name", "trackingServerName"),
        ("size", "trackingServerSize"),
        ("mlflow", "mlflowVersion"),
        ("artifacts", "artifactStoreUri"),
        ("auto_register", "automaticModelRegistration"),
    ],
    "aws:sagemaker/notebookInstance:NotebookInstance": [
        ("name", "name"),
        ("type", "instanceType"),
        ("platform", "platformIdentifier"),
        ("internet", "directInternetAccess"),
        ("root", "rootAccess"),
        ("imds", "instanceMetadataServiceConfiguration.minimumInstanceMetadataServiceVersion"),
    ],
    "aws:sagemaker/domain:Domain": [
        ("name", "domainName"),
        ("auth", "authMode"),
        ("network", "appNetworkAccessType"),
        ("home_efs", "retentionPolicy.homeEfsFileSystem"),
    ],
    "aws:sagemaker/userProfile:UserProfile": [("user", "userProfileName")],
    "aws:sagemaker/pipeline:Pipeline": [("name", "pipelineName")],
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": [("name", "modelPackageGroupName")],
    "aws:scheduler/scheduleGroup:ScheduleGroup": [("name", "name")],
    "aws:scheduler/schedule:Schedule": [
        ("name", "name"),
        ("expression", "scheduleExpression"),
        ("timezone", "scheduleExpressionTimezone"),
        ("flexible_window", "flexibleTimeWindow.mode"),
        ("retries", "target.retryPolicy.maximumRetryAttempts"),
        ("parameters", "target.sagemakerPipelineParameters.pipelineParameters"),
    ],
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": [
        ("type", "jobResources.clusterConfig.instanceType"),
        ("isolation", "networkConfig.enableNetworkIsolation"),
        ("inter_container_encryption", "networkConfig.enableInterContainerTrafficEncryption"),
    ],
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": [
        ("name", "name"),
        ("type", "monitoringScheduleConfig.monitoringType"),
        ("expression", "monitoringScheduleConfig.scheduleConfig.scheduleExpression"),
    ],
    "aws:cloudwatch/eventRule:EventRule": [("name", "name"), ("state", "state")],
    "aws:cloudwatch/eventTarget:EventTarget": [
        ("target", "arn"),
        ("retries", "retryPolicy.maximumRetryAttempts"),
    ],
    "pulumi:providers:kubernetes": [("render_to", "renderYamlToDirectory")],
    "aws:eks/cluster:Cluster": [
        ("version", "version"),
        ("private", "vpcConfig.endpointPrivateAccess"),
        ("public", "vpcConfig.endpointPublicAccess"),
        ("logs", "enabledClusterLogTypes"),
    ],
    "aws:eks/nodeGroup:NodeGroup": [
        ("types", "instanceTypes"),
        ("capacity", "capacityType"),
        ("ami", "amiType"),
        ("min", "scalingConfig.minSize"),
        ("max", "scalingConfig.maxSize"),
        ("taints", "taints"),
    ],
    "aws:eks/addon:Addon": [("addon", "addonName")],
    "aws:rds/instance:Instance": [
        ("engine", "engine"),
        ("version", "engineVersion"),
        ("class", "instanceClass"),
        ("multi_az", "multiAz"),
        ("encrypted", "storageEncrypted"),
        ("public", "publiclyAccessible"),
        ("deletion_protection", "deletionProtection"),
    ],
    "kubernetes:core/v1:Namespace": [
        ("pod_security", "metadata.labels.pod-security\\.kubernetes\\.io/enforce"),
    ],
    "kubernetes:core/v1:Service": [("type", "spec.type"), ("ports", "spec.ports")],
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": [
        ("name", "metadata.name"),
        ("types", "spec.policyTypes"),
    ],
    "kubernetes:apps/v1:Deployment": [("replicas", "spec.replicas")],
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": [
        ("canary_percent", "spec.predictor.canaryTrafficPercent"),
        ("min_replicas", "spec.predictor.minReplicas"),
        ("max_replicas", "spec.predictor.maxReplicas"),
    ],
    "kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob": [
        ("nodes", "spec.trainer.numNodes"),
        ("procs_per_node", "spec.trainer.numProcPerNode"),
    ],
    "kubernetes:helm.sh/v3:Release": [("chart", "chart"), ("version", "version")],
    "kubernetes:helm.sh/v4:Chart": [("chart", "chart"), ("version", "version")],
    "aws:autoscaling/group:Group": [
        ("min", "minSize"),
        ("max", "maxSize"),
        ("desired", "desiredCapacity"),
        ("types", "mixedInstancesPolicy.launchTemplate.overrides"),
        ("spot", "mixedInstancesPolicy.instancesDistribution.spotAllocationStrategy"),
        (
            "on_demand_base",
            "mixedInstancesPolicy.instancesDistribution.onDemandBaseCapacity",
        ),
        (
            "on_demand_above_base_percent",
            "mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity",
        ),
    ],
}


def _lookup(inputs: Any, path: str) -> Any:
    value = inputs
    # A backslash escapes a dot that belongs to a key (pod-security\.kubernetes\.io/enforce).
    for part in (piece.replace("\\.", ".") for piece in re.split(r"(?<!\\)\.", path)):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return "[" + ", ".join("/".join(str(v) for v in item.values()) for item in value) + "]"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _variants_summary(inputs: dict[str, Any]) -> str:
    """``variants=blue:ml.m5.large x1 @90%, ...`` with each variant's traffic share."""
    variants = inputs.get("productionVariants") or []
    total = sum(variant.get("initialVariantWeight", 1) for variant in variants) or 1
    shown = []
    for variant in variants:
        weight = variant.get("initialVariantWeight", 1)
        serverless = variant.get("serverlessConfig")
        compute = (
            f"serverless {serverless.get('memorySizeInMb')}MB"
            if serverless
            else f"{variant.get('instanceType')} x{variant.get('initialInstanceCount')}"
        )
        shown.append(f"{variant['variantName']}:{compute} @{100 * weight / total:.0f}%")
    for shadow in inputs.get("shadowProductionVariants") or []:
        shown.append(f"{shadow['variantName']}:shadow {shadow.get('instanceType')}")
    return "variants=" + ", ".join(shown)


def _repository_lifecycle_summary(inputs: dict[str, Any]) -> list[str]:
    """``expire_untagged_days=7  never_expire=*.*.*  keep_scratch=dev-*:30,ci-*:30``.

    From an ECR lifecycle policy document; a rule that keeps as many images as a repository may
    hold never expires anything.
    """
    untagged, never, scratch = [], [], []
    for rule in json.loads(inputs.get("policy") or "{}").get("rules", []):
        selection = rule.get("selection", {})
        patterns = ",".join(selection.get("tagPatternList") or [])
        if selection.get("tagStatus") == "untagged":
            untagged.append(f"expire_untagged_days={selection.get('countNumber')}")
        elif selection.get("countNumber", 0) >= RELEASE_IMAGES_KEPT:
            never.append(patterns)
        else:
            scratch.append(f"{patterns}:{selection.get('countNumber')}")
    return [
        *untagged,
        *([f"never_expire={','.join(never)}"] if never else []),
        *([f"keep_scratch={','.join(scratch)}"] if scratch else []),
    ]


def _processing_step_summary(step: dict[str, Any]) -> list[str]:
    """``step=Processing:<name> <type> x<count> isolation=... volume_kms=... output_kms=...``."""
    arguments = step.get("Arguments", {})
    cluster = arguments.get("ProcessingResources", {}).get("ClusterConfig", {})
    network = arguments.get("NetworkConfig", {})
    command = (arguments.get("AppSpecification", {}).get("ContainerEntrypoint") or [""])[-1]
    parts = [
        f"step=Processing:{step.get('Name')}({command})",
        f"compute={cluster.get('InstanceType')} x{cluster.get('InstanceCount')}",
        f"isolation={_show(bool(network.get('EnableNetworkIsolation')))}",
        f"vpc={_show('VpcConfig' in network)}",
        f"volume_kms={_show('VolumeKmsKeyId' in cluster)}",
    ]
    if "ProcessingOutputConfig" in arguments:
        parts.append(f"output_kms={_show('KmsKeyId' in arguments['ProcessingOutputConfig'])}")
    return parts


#: How the plan writes a condition step's comparisons.
_CONDITION_SIGNS = {
    "GreaterThanOrEqualTo": ">=",
    "GreaterThan": ">",
    "LessThanOrEqualTo": "<=",
    "LessThan": "<",
    "Equals": "==",
}


def _register_step_summary(step: dict[str, Any]) -> str:
    """``RegisterModel:<name>(group=<group> approval=<status>)``."""
    arguments = step.get("Arguments", {})
    return (
        f"RegisterModel:{step.get('Name')}(group={arguments.get('ModelPackageGroupName')} "
        f"approval={arguments.get('ModelApprovalStatus')})"
    )


def _condition_step_summary(step: dict[str, Any]) -> list[str]:
    """``step=Condition:<name>(metric>=bound, ...)`` and what runs when it holds and when not."""
    arguments = step.get("Arguments", {})
    tests = []
    for condition in arguments.get("Conditions", []):
        left = condition.get("LeftValue")
        path = left.get("Std:JsonGet", {}).get("Path", "?") if isinstance(left, dict) else left
        sign = _CONDITION_SIGNS.get(condition.get("Type"), condition.get("Type"))
        tests.append(f"{path}{sign}{condition.get('RightValue')}")
    parts = [f"step=Condition:{step.get('Name')}({', '.join(tests)})"]
    for label, key in (("then", "IfSteps"), ("else", "ElseSteps")):
        for inner in arguments.get(key, []):
            kind = inner.get("Type")
            shown = (
                _register_step_summary(inner)
                if kind == "RegisterModel"
                else f"{kind}:{inner.get('Name')}"
            )
            parts.append(f"{label}={shown}")
    return parts


def _pipeline_summary(inputs: dict[str, Any]) -> list[str]:
    """Each step of a SageMaker Pipeline definition: compute, spot, isolation, tuning, gates."""
    steps = json.loads(inputs.get("pipelineDefinition") or "{}").get("Steps", [])
    parts = []
    for step in steps:
        arguments = step.get("Arguments", {})
        if step.get("Type") == "Processing":
            parts += _processing_step_summary(step)
            continue
        if step.get("Type") == "Condition":
            parts += _condition_step_summary(step)
            continue
        if step.get("Type") == "RegisterModel":
            parts.append(f"step={_register_step_summary(step)}")
            continue
        job = arguments.get("TrainingJobDefinition", arguments)
        compute = job.get("ResourceConfig", {})
        stopping = job.get("StoppingCondition", {})
        parts += [
            f"step={step.get('Type')}",
            f"compute={compute.get('InstanceType')} x{compute.get('InstanceCount')}",
            f"spot={_show(bool(job.get('EnableManagedSpotTraining')))}",
            f"max_run_s={stopping.get('MaxRuntimeInSeconds')}",
        ]
        if "MaxWaitTimeInSeconds" in stopping:
            parts.append(f"max_wait_s={stopping['MaxWaitTimeInSeconds']}")
        parts += [
            f"isolation={_show(bool(job.get('EnableNetworkIsolation')))}",
            f"volume_kms={_show('VolumeKmsKeyId' in compute)}",
        ]
        if job.get("EnableInterContainerTrafficEncryption"):
            parts.append("inter_container_encryption=on")
        tuning = arguments.get("HyperParameterTuningJobConfig")
        if tuning:
            objective = tuning.get("HyperParameterTuningJobObjective", {})
            limits = tuning.get("ResourceLimits", {})
            parts.append(
                f"tuning={tuning.get('Strategy')} {objective.get('Type')} "
                f"{objective.get('MetricName')} {limits.get('MaxNumberOfTrainingJobs')} jobs"
                f"/{limits.get('MaxParallelTrainingJobs')} parallel"
            )
    return parts


def _alarm_rule_summary(pattern_json: str) -> list[str]:
    """An EventBridge rule on alarm state changes: which alarms, which state."""
    pattern = json.loads(pattern_json)
    detail = pattern.get("detail") or {}
    alarms = detail.get("alarmName")
    states = (detail.get("state") or {}).get("value")
    if not alarms or not states:
        return []
    return [f"on={_show(alarms)}", f"to={_show(states)}"]


def _retraining_lines(exports: dict[str, Any]) -> list[str]:
    """Which monitored endpoint starts which training pipeline, on drift or on a schedule."""
    monitors = (exports.get("monitoring") or {}).get("monitors") or {}
    lines = []
    for endpoint, monitor in sorted(monitors.items()):
        retraining = monitor.get("retraining")
        if not retraining:
            continue
        starts = [
            f"drift alarm (rule {retraining['rule_name']})" if retraining["rule_name"] else "",
            f"schedule {retraining['schedule_name']}" if retraining["schedule_name"] else "",
        ]
        lines.append(
            f"  {endpoint}: {' and '.join(s for s in starts if s)} -> {retraining['pipeline_name']}"
        )
    return ["\nretraining (what starts a training pipeline):", *lines] if lines else []


def _optimization_lines(exports: dict[str, Any]) -> list[str]:
    """Each optimization job: what it solves, from where, and what starts it."""
    jobs = (exports.get("optimization") or {}).get("jobs") or {}
    lines = [
        f"  {name}: {job['kind']} from {job['problem']}, "
        + (f"scheduled {job['schedule']}" if job["schedule"] else "started by hand")
        + f" (failures: alarm {job['failure_alarm']})"
        for name, job in sorted(jobs.items())
    ]
    return ["\noptimization jobs (OR-Tools solves, one pipeline each):", *lines] if lines else []


def summarize(resource: RecordedResource) -> str:
    """The settings that matter for one resource, as ``label=value`` pairs."""
    parts = []
    for label, path in SUMMARY_FIELDS.get(resource.type, ()):
        value = _lookup(resource.inputs, path)
        if value is not None:
            parts.append(f"{label}={_show(value)}")
    if resource.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        parts[:0] = [_variants_summary(resource.inputs)]
    if resource.type == "aws:ecr/lifecyclePolicy:LifecyclePolicy":
        parts += _repository_lifecycle_summary(resource.inputs)
    if resource.type == "aws:sagemaker/pipeline:Pipeline":
        parts += _pipeline_summary(resource.inputs)
    if resource.type == "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition":
        cluster = _lookup(resource.inputs, "jobResources.clusterConfig") or {}
        output = resource.inputs.get("dataQualityJobOutputConfig") or {}
        parts += [
            f"volume_kms={_show('volumeKmsKeyId' in cluster)}",
            f"output_kms={_show('kmsKeyId' in output)}",
        ]
    if resource.type == "aws:sagemaker/endpoint:Endpoint":
        rollback = _lookup(resource.inputs, "deploymentConfig.autoRollbackConfiguration.alarms")
        if rollback:
            parts.append(f"rollback_alarms={len(rollback)}")
    if resource.type == "aws:cloudwatch/eventRule:EventRule" and resource.inputs.get(
        "eventPattern"
    ):
        parts += _alarm_rule_summary(resource.inputs["eventPattern"])
    if resource.type == "aws:cloudwatch/dashboard:Dashboard":
        parts.append(f"widgets={len(json.loads(resource.inputs['dashboardBody'])['widgets'])}")
    if resource.type == "pulumi-python:dynamic/serving:RolloutGate":
        parts.append(f"watches_alarms={len(resource.inputs.get('alarm_names') or [])}")
    if any(key in resource.inputs for key in ("kmsKeyId", "kmsKeyArn", "kmsMasterKeyId")):
        parts.append("kms=on")
    flags = [
        flag
        for flag, on in (("protect", resource.protect), ("retain", resource.retain_on_delete))
        if on
    ]
    if flags:
        parts.append(f"[{', '.join(flags)}]")
    return "  ".join(parts)


def render(run: PlanRun) -> str:
    """The human-readable plan: the resource tree, counts, and what survives a destroy."""
    lines = [f"Offline plan of stack '{run.stack}' (mock runtime: nothing is deployed)", ""]
    for depth, resource in tree_order(run.resources):
        indent = "   " * depth + ("└─ " if depth else "")
        summary = summarize(resource)
        lines.append(
            f"{indent}{resource.type}  {resource.name}" + (f"   {summary}" if summary else "")
        )
    counts = Counter(resource.type for resource in run.resources)
    custom = sum(1 for resource in run.resources if resource.custom)
    lines += [
        "",
        f"{len(run.resources)} resources "
        f"({custom} cloud resources, {len(run.resources) - custom} components):",
    ]
    lines += [
        f"  {count:4d}  {type_}"
        for type_, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    protected = sum(1 for resource in run.resources if resource.protect)
    retained = sum(1 for resource in run.resources if resource.retain_on_delete)
    lines.append(f"\nprotected: {protected}   retained on delete: {retained}")
    endpoints = (run.exports.get("serving") or {}).get("endpoints") or {}
    if endpoints:
        lines.append("\nendpoints (traffic share = weight / sum of weights):")
        for name, endpoint in sorted(endpoints.items()):
            shares = ", ".join(
                f"{variant} {100 * share:.0f}%"
                for variant, share in endpoint["traffic_shares"].items()
            )
            lines.append(f"  {name}: {shares}")
        lines.append("\nwhat each variant runs (registered versions must be Approved at `up`):")
        for name, endpoint in sorted(endpoints.items()):
            for variant, model in (endpoint.get("variant_models") or {}).items():
                lines.append(f"  {name}/{variant}: {_variant_model(model)}")
    lines += _retraining_lines(run.exports)
    lines += _optimization_lines(run.exports)
    return "\n".join(lines)


def _variant_model(model: dict[str, Any]) -> str:
    """``model group mlp-dev-churn version 1`` or ``artifact churn/v1/model.tar.gz``."""
    if "model_group" in model:
        return f"model group {model['model_group']} version {int(model['model_version'])}"
    return f"artifact {model.get('model_artifact')}"


def write_plan(run: PlanRun, out_dir: Path) -> Path:
    """Write ``<out_dir>/<stack>.json``; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{run.stack}.json"
    path.write_text(json.dumps(run.as_json(), indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the offline plan; return the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m stacks.offline.plan", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stack", default="dev", help="stack name (default: dev)")
    parser.add_argument(
        "--config-file", type=Path, help="stack config (default: Pulumi.<stack>.yaml)"
    )
    parser.add_argument("--out", type=Path, default=Path("build/plan"), help="output folder")
    args = parser.parse_args(argv)

    config_file = args.config_file or Path(f"Pulumi.{args.stack}.yaml")
    if not config_file.is_file():
        print(f"error: no stack config {config_file} (stacks here: dev, prod)", file=sys.stderr)
        return 2
    try:
        # Read strictly (no aliases, no duplicate keys, a mapping at the root and under
        # config:); every problem there is a one-line config error, like the program's own.
        config = load_stack_file(config_file, args.stack)
        flat = flatten_stack_file({"config": config})
        # The program validates its config before registering anything and stops with RunError.
        run = run_offline(args.stack, flat)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (pulumi.RunError, ValueError) as error:
        print(f"error: {config_file}: {error}", file=sys.stderr)
        return 2
    print(render(run))
    try:
        print(f"wrote {write_plan(run, args.out)}")
        # Relative render folders are taken from the project, where Pulumi runs the program
        # (the config checked them there: not a file, writable, inside the project).
        manifests = write_rendered_manifests(run.resources, PROJECT_ROOT)
    except OSError as error:
        # The config's checks ran before the plan; the disk can still change or fill since.
        print(f"error: cannot write the plan's files: {error}", file=sys.stderr)
        return 1
    if manifests:
        folders = sorted({str(path.parent.parent) for path in manifests})
        outside = [folder for folder in folders if not Path(folder).is_relative_to(PROJECT_ROOT)]
        print(f"wrote {len(manifests)} Kubernetes manifests to {', '.join(folders)}")
        if outside:
            print(f"note: {', '.join(outside)} is outside the project (an absolute render_to)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
