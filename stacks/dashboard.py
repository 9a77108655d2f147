"""The stack's CloudWatch dashboard, ``mlp-<env>``: its body, built from the validated config.

The dashboard spans layers (endpoints, their monitors, training pipelines), and a layer package
may not import another, so it lives beside the program, which adds it after the layers with the
stack's provider. Everything here is plain data: :func:`dashboard_body` returns the JSON document
CloudWatch's PutDashboard takes (its structure:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html),
with widgets only for the layers the stack lists.

Metrics shown, and where their names come from:

* per serving endpoint, ``AWS/SageMaker`` with dimensions ``EndpointName`` and ``VariantName``
  (SageMaker's endpoint invocation metrics): invocations, ``ModelLatency`` p50/p90/p99
  (microseconds), 4XX and 5XX errors per variant, each production variant's share of the
  invocations (metric math), ``InvocationsPerInstance`` against the target for variants that
  autoscale (SageMaker publishes no instance-count metric for a variant, so the count itself is
  not shown), and ``ModelSetupTime`` and ``ServerlessConcurrentExecutionsUtilization`` for
  serverless variants;
* per monitored endpoint, ``MLPlatform/Monitoring`` (what ``workloads/monitoring`` publishes):
  PSI per feature (a SEARCH over the ``Endpoint, Feature`` metrics, so every feature the check
  reports appears), ``PredictionPSI``, ``FeaturesDrifted`` and ``ConstraintViolations``;
* per training pipeline, ``AWS/Sagemaker/ModelBuildingPipeline`` with dimension ``PipelineName``:
  executions started, succeeded and failed.
"""

from __future__ import annotations

import json
from typing import Any

from components.monitoring.spec import MonitoredEndpointConfig
from components.serving.endpoint import endpoint_name
from components.serving.spec import ServingEndpointConfig, VariantConfig
from components.training.pipeline_definition import pipeline_name
from components.training.spec import TrainingPipelineConfig
from stacks.config import PlatformConfig
from workloads.monitoring import contract

#: PutDashboard's limits: at most 500 widgets, and a body of at most 1 MB.
MAX_WIDGETS = 500
MAX_BODY_BYTES = 1_000_000

#: SageMaker's endpoint metrics.
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
#: SageMaker Pipelines' execution metrics.
PIPELINES_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"

#: The dashboard's grid: 24 columns; three widgets a row.
GRID_COLUMNS = 24
WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6

#: Seconds per data point of the endpoint graphs.
ENDPOINT_PERIOD = 60
#: Seconds per data point of the pipeline graphs.
PIPELINE_PERIOD = 3600

Widget = dict[str, Any]
MetricRow = list[Any]


def dashboard_name(environment: str) -> str:
    """The stack's dashboard name, ``mlp-<env>``."""
    return f"mlp-{environment}"


def dashboard_widgets(config: PlatformConfig) -> list[Widget]:
    """Every widget of the stack's dashboard, laid out three a row, for the layers it deploys."""
    properties: list[dict[str, Any]] = []
    region = config.region
    if "serving" in config.layers:
        for endpoint in config.serving.endpoints:
            properties += endpoint_widgets(endpoint, config.environment, region)
    if "monitoring" in config.layers:
        for entry in config.monitoring.endpoints:
            properties.append(monitor_widget(entry, config.environment, region))
    if "training" in config.layers:
        for pipeline in config.training.pipelines:
            properties.append(pipeline_widget(pipeline, config.environment, region))
    per_row = GRID_COLUMNS // WIDGET_WIDTH
    return [
        {
            "type": "metric",
            "x": (index % per_row) * WIDGET_WIDTH,
            "y": (index // per_row) * WIDGET_HEIGHT,
            "width": WIDGET_WIDTH,
            "height": WIDGET_HEIGHT,
            "properties": widget,
        }
        for index, widget in enumerate(properties)
    ]


def dashboard_body(config: PlatformConfig) -> str | None:
    """The dashboard's body (PutDashboard's ``DashboardBody``), as compact JSON.

    None when the stack deploys nothing to graph (it then gets no dashboard). Raises ValueError
    if it would pass PutDashboard's limits (500 widgets, 1 MB).
    """
    widgets = dashboard_widgets(config)
    return checked_body(widgets, dashboard_name(config.environment)) if widgets else None


def checked_body(widgets: list[Widget], name: str) -> str:
    """``widgets`` as a dashboard body; ValueError naming the dashboard past a CloudWatch limit."""
    if len(widgets) > MAX_WIDGETS:
        raise ValueError(
            f"dashboard {name}: {len(widgets)} widgets, CloudWatch allows at most {MAX_WIDGETS}"
        )
    body = json.dumps({"widgets": widgets}, separators=(",", ":"))
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise ValueError(
            f"dashboard {name}: body of {size} bytes, CloudWatch allows at most {MAX_BODY_BYTES}"
        )
    return body


def _graph(title: str, region: str, metrics: list[MetricRow], **extra: Any) -> dict[str, Any]:
    """A time-series metric widget's properties."""
    return {"title": title, "view": "timeSeries", "region": region, "metrics": metrics, **extra}


def _variant_metric(endpoint: str, variant: str, metric: str, **options: Any) -> MetricRow:
    """One SageMaker endpoint metric of one variant, with rendering options."""
    row: MetricRow = [
        SAGEMAKER_NAMESPACE,
        metric,
        "EndpointName",
        endpoint,
        "VariantName",
        variant,
    ]
    return [*row, options] if options else row


def endpoint_widgets(
    endpoint: ServingEndpointConfig, environment: str, region: str
) -> list[dict[str, Any]]:
    """An endpoint's widgets: invocations, latency, errors, traffic shares, scaling, serverless."""
    name = endpoint_name(environment, endpoint)
    variants = [variant.name for variant in endpoint.all_variants]
    widgets = [
        _graph(
            f"{name}: invocations per variant",
            region,
            [_variant_metric(name, v, "Invocations", label=v) for v in variants],
            stat="Sum",
            period=ENDPOINT_PERIOD,
        ),
        _graph(
            f"{name}: ModelLatency p50/p90/p99 (microseconds)",
            region,
            [
                _variant_metric(name, v, "ModelLatency", stat=stat, label=f"{v} {stat}")
                for v in variants
                for stat in ("p50", "p90", "p99")
            ],
            period=ENDPOINT_PERIOD,
            yAxis={"left": {"label": "microseconds", "showUnits": False}},
        ),
        _graph(
            f"{name}: 4XX and 5XX errors per variant",
            region,
            [
                _variant_metric(name, v, metric, label=f"{v} {metric}")
                for v in variants
                for metric in ("Invocation4XXErrors", "Invocation5XXErrors")
            ],
            stat="Sum",
            period=ENDPOINT_PERIOD,
        ),
        traffic_share_widget(name, endpoint.variants, region),
    ]
    scaled = [v for v in endpoint.all_variants if v.autoscaling is not None]
    if scaled:
        widgets.append(autoscaling_widget(name, scaled, region))
    serverless = [v.name for v in endpoint.all_variants if v.is_serverless]
    if serverless:
        widgets.append(
            _graph(
                f"{name}: serverless cold starts and concurrency",
                region,
                [
                    *(
                        _variant_metric(name, v, "ModelSetupTime", label=f"{v} setup (us)")
                        for v in serverless
                    ),
                    *(
                        _variant_metric(
                            name,
                            v,
                            "ServerlessConcurrentExecutionsUtilization",
                            label=f"{v} concurrency used",
                            yAxis="right",
                        )
                        for v in serverless
                    ),
                ],
                stat="Average",
                period=ENDPOINT_PERIOD,
                yAxis={"left": {"label": "microseconds", "showUnits": False}},
            )
        )
    return widgets


def traffic_share_widget(
    endpoint: str, variants: tuple[VariantConfig, ...], region: str
) -> dict[str, Any]:
    """Each production variant's share of the endpoint's invocations, in percent (metric math)."""
    ids = [f"m{index}" for index in range(len(variants))]
    total = " + ".join(ids)
    raw = [
        _variant_metric(endpoint, variant.name, "Invocations", id=metric_id, visible=False)
        for metric_id, variant in zip(ids, variants, strict=True)
    ]
    shares: list[MetricRow] = [
        [{"expression": f"100 * {metric_id} / ({total})", "label": f"{variant.name} %"}]
        for metric_id, variant in zip(ids, variants, strict=True)
    ]
    return _graph(
        f"{endpoint}: traffic share per variant (%)",
        region,
        [*raw, *shares],
        stat="Sum",
        period=ENDPOINT_PERIOD,
        yAxis={"left": {"min": 0, "max": 100, "label": "percent", "showUnits": False}},
    )


def autoscaling_widget(endpoint: str, variants: list[VariantConfig], region: str) -> dict[str, Any]:
    """InvocationsPerInstance of the autoscaled variants against their scaling targets."""
    return _graph(
        f"{endpoint}: invocations per instance vs scaling target",
        region,
        [
            _variant_metric(endpoint, v.name, "InvocationsPerInstance", label=v.name)
            for v in variants
        ],
        stat="Sum",
        period=ENDPOINT_PERIOD,
        annotations={
            "horizontal": [
                {
                    "label": f"{v.name} target",
                    "value": v.autoscaling.target_invocations_per_instance,
                }
                for v in variants
                if v.autoscaling is not None
            ]
        },
    )


def monitor_widget(entry: MonitoredEndpointConfig, environment: str, region: str) -> dict[str, Any]:
    """A monitored endpoint's drift: PSI per feature and of the predictions, drift, violations."""
    endpoint = entry.endpoint_name(environment)
    # One data point per check; the drift alarms look at the same period.
    period = min(entry.interval_hours, 24) * 3600
    namespace = contract.METRIC_NAMESPACE
    search = (
        f'SEARCH(\'{{{namespace},Endpoint,Feature}} MetricName="{contract.PSI}" '
        f"Endpoint=\"{endpoint}\"', 'Maximum', {period})"
    )
    return _graph(
        f"{endpoint}: drift (PSI per feature, drifted features, violations)",
        region,
        [
            [{"expression": search, "label": "PSI", "id": "psi"}],
            [namespace, contract.PREDICTION_PSI, "Endpoint", endpoint, {"label": "prediction PSI"}],
            [
                namespace,
                contract.FEATURES_DRIFTED,
                "Endpoint",
                endpoint,
                {"label": "features drifted", "yAxis": "right"},
            ],
            [
                namespace,
                contract.CONSTRAINT_VIOLATIONS,
                "Endpoint",
                endpoint,
                {"label": "constraint violations", "yAxis": "right"},
            ],
        ],
        stat="Maximum",
        period=period,
        annotations={"horizontal": [{"label": "PSI threshold", "value": entry.thresholds.psi}]},
    )


def pipeline_widget(
    pipeline: TrainingPipelineConfig, environment: str, region: str
) -> dict[str, Any]:
    """A training pipeline's executions started, succeeded and failed."""
    name = pipeline_name(environment, pipeline)
    return _graph(
        f"{name}: pipeline executions",
        region,
        [
            [PIPELINES_NAMESPACE, metric, "PipelineName", name, {"label": label}]
            for metric, label in (
                ("ExecutionStarted", "started"),
                ("ExecutionSucceeded", "succeeded"),
                ("ExecutionFailed", "failed"),
            )
        ],
        stat="Sum",
        period=PIPELINE_PERIOD,
    )
