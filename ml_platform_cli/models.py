"""``ml-platform models``: package, register, list, promote and reject model versions.

Two registries: SageMaker's model package groups (the default; group names resolve from the
stack, ``churn`` with ``--stack dev`` is ``mlp-dev-churn``) and, with ``--tracking-uri``, an MLflow
model registry (names as given). The work is ``workloads.ops``'s (SageMaker) and
``workloads.lifecycle``'s (MLflow).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console

from ml_platform_cli import output
from ml_platform_cli.aws_calls import (
    call_operation,
    emit_table,
    key_values,
    operation,
    ops_errors,
)
from ml_platform_cli.errors import FAILED, CliError
from ml_platform_cli.stack import StackContext, StackOptions, json_option, stack_options

#: The MLflow alias ``promote --tracking-uri`` moves unless ``--alias`` says otherwise.
DEFAULT_ALIAS = "champion"

#: SageMaker's approval statuses (``register --approval-status``).
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")

#: How many versions ``list`` shows unless ``--limit`` says otherwise (newest first).
DEFAULT_LIMIT = 20

tracking_uri_option = click.option(
    "--tracking-uri",
    help="use the MLflow registry at this URI (e.g. sqlite:///build/mlflow.db) instead of"
    " SageMaker's",
)


@click.group("models")
def models() -> None:
    r"""Package, register, list, promote and reject model versions.

    Without --tracking-uri the registry is SageMaker's model package groups (GROUP is the short
    name with --stack: churn -> mlp-dev-churn); with --tracking-uri it is MLflow's.

    \b
    Examples:
      ml-platform models package build/models/churn --upload s3://mlp-dev-models/churn
      ml-platform models list churn --stack dev
      ml-platform models promote churn 7 --reason 'AUC 0.91 on holdout' --stack dev
      ml-platform models list churn --tracking-uri sqlite:///build/mlflow.db
    """


@models.command("package")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="the archive to write (default: <model-dir>.tar.gz beside the directory)",
)
@click.option(
    "--upload",
    metavar="S3_PREFIX",
    help="s3://bucket/prefix: upload to <prefix>/<sha256[:16]>/model.tar.gz",
)
@click.option("--kms-key-id", help="KMS key for the upload (default: S3's managed key aws/s3)")
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    help="refuse a model directory whose files hold more bytes (default 4 GiB)",
)
@stack_options
@json_option
def package(
    model_dir: Path,
    out: Path | None,
    upload: str | None,
    kms_key_id: str | None,
    max_bytes: int | None,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Pack MODEL_DIR as the reproducible model.tar.gz SageMaker loads; optionally upload it.

    The same files give the same bytes, so the sha256 names the model. A PyTorch model gets
    the handler code under code/. The stack options matter only with --upload.

    \b
    Examples:
      ml-platform models package build/models/churn
      ml-platform models package build/models/churn --upload s3://mlp-dev-models/churn \
          --kms-key-id alias/mlp-dev --stack dev --json
    """
    from workloads.ops.package import (
        MAX_MODEL_BYTES,
        package_model,
        parse_upload_uri,
        upload_package,
    )

    if kms_key_id and not upload:
        raise click.UsageError(
            "--kms-key-id is for the upload: pass --upload s3://bucket/prefix too",
            click.get_current_context(),
        )
    target = None
    if upload:
        target = where.connect()
        with operation(target):
            parse_upload_uri(upload)  # a bad URI is refused before anything is written
    with ops_errors():
        packaged = package_model(model_dir, out, max_bytes=max_bytes or MAX_MODEL_BYTES)
    if target is not None and upload:
        with operation(target):
            packaged = upload_package(
                packaged, upload, kms_key_id=kms_key_id, session=target.session
            )

    def render(console: Console) -> None:
        console.print(f"packaged  {packaged.model_dir} ({packaged.framework})")
        console.print(f"archive   {packaged.archive} ({packaged.size:,} bytes)")
        console.print(f"sha256    {packaged.sha256}")
        if packaged.s3_uri:
            state = "uploaded" if packaged.uploaded else "already there"
            console.print(f"s3        {packaged.s3_uri} ({state})")

    output.emit(packaged.to_dict(), as_json, render)


@models.command("register")
@click.argument("name")
@tracking_uri_option
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path),
    help="MLflow: the model directory the trainer wrote",
)
@click.option("--run-id", help="MLflow: or a run whose model/ artifact is one")
@click.option("--image", help="SageMaker: the inference image URI")
@click.option("--model-data", help="SageMaker: the s3:// URI of model.tar.gz")
@click.option(
    "--content-type",
    "content_types",
    multiple=True,
    help="SageMaker: a request MIME type, repeatable (default: the server's: JSON, CSV, npy)",
)
@click.option(
    "--response-type",
    "response_types",
    multiple=True,
    help="SageMaker: a response MIME type, repeatable (default: JSON and CSV)",
)
@click.option(
    "--approval-status",
    type=click.Choice(APPROVAL_STATUSES),
    help="SageMaker: the new version's status (default PendingManualApproval)",
)
@click.option("--description", help="SageMaker: the version's description")
@click.option(
    "--create-group", is_flag=True, help="SageMaker: create the group when it does not exist"
)
@click.option(
    "--metadata",
    multiple=True,
    metavar="KEY=VALUE",
    callback=key_values("--metadata"),
    help="SageMaker: customer metadata, repeatable",
)
@click.option(
    "--metrics",
    help="the evaluation report: a local evaluation.json (MLflow) or its s3:// URI (SageMaker)",
)
@stack_options
@json_option
def register_version(
    name: str,
    tracking_uri: str | None,
    model_dir: Path | None,
    run_id: str | None,
    image: str | None,
    model_data: str | None,
    content_types: tuple[str, ...],
    response_types: tuple[str, ...],
    approval_status: str | None,
    description: str | None,
    create_group: bool,
    metadata: dict[str, str],
    metrics: str | None,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Register a new model version: in SageMaker's group NAME, or in MLflow (--tracking-uri).

    SageMaker (default): --image and --model-data make the version's container. MLflow: a
    --model-dir (the training run's artifact when a run logged it) or a --run-id becomes a new
    version of the registered model NAME, with its metrics.

    \b
    Examples:
      ml-platform models register churn --stack dev \
          --image 123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:1 \
          --model-data s3://mlp-dev-models/churn/0f3a9c1d2e4b5a67/model.tar.gz
      ml-platform models register churn --model-dir build/models/churn \
          --metrics build/evaluation/churn/evaluation.json --tracking-uri sqlite:///build/mlflow.db
    """
    given = {
        "--model-dir": model_dir is not None,
        "--run-id": run_id is not None,
        "--image": image is not None,
        "--model-data": model_data is not None,
        "--content-type": bool(content_types),
        "--response-type": bool(response_types),
        "--approval-status": approval_status is not None,
        "--description": description is not None,
        "--create-group": create_group,
        "--metadata": bool(metadata),
    }
    mlflow_only = ("--model-dir", "--run-id")
    if tracking_uri:
        sagemaker_only = tuple(option for option in given if option not in mlflow_only)
        _refuse_options(given, sagemaker_only, "without --tracking-uri (SageMaker)")
        if (model_dir is None) == (run_id is None):
            _usage("with --tracking-uri pass one of --model-dir or --run-id")
        _register_in_mlflow(tracking_uri, name, model_dir, run_id, metrics, as_json)
        return
    _refuse_options(given, mlflow_only, "with --tracking-uri (MLflow)")
    missing = [option for option in ("--image", "--model-data") if not given[option]]
    if missing:
        _usage(f"SageMaker registration needs {' and '.join(missing)} (or pass --tracking-uri)")
    from workloads.inference.codecs import SUPPORTED_ACCEPTS, SUPPORTED_CONTENT_TYPES
    from workloads.ops.registry import register_model_version

    group, arn = call_operation(
        where,
        name,
        register_model_version,
        str(image),
        str(model_data),
        list(content_types or SUPPORTED_CONTENT_TYPES),
        list(response_types or SUPPORTED_ACCEPTS),
        approval_status=approval_status or "PendingManualApproval",
        description=description,
        create_group_if_missing=create_group,
        metadata=metadata or None,
        metrics_s3_uri=metrics,
    )
    version = int(arn.rsplit("/", 1)[-1]) if arn.rsplit("/", 1)[-1].isdigit() else None
    result = {"model_package_group_name": group, "version": version, "model_package_arn": arn}
    output.emit(
        result,
        as_json,
        lambda console: console.print(f"{group}: version {version} registered ({arn})"),
    )


def _register_in_mlflow(
    tracking_uri: str,
    name: str,
    model_dir: Path | None,
    run_id: str | None,
    metrics: str | None,
    as_json: bool,
) -> None:
    from workloads.lifecycle.registry import open_registry, register

    with _mlflow_errors():
        client = open_registry(tracking_uri)
        done = register(
            client,
            name,
            model_dir,
            run_id=run_id or "",
            metrics_file=Path(metrics) if metrics else None,
        )
    origin = "the training run's artifact" if done.reused_run else "logged by this command"
    output.emit(
        done.to_dict(),
        as_json,
        lambda console: console.print(
            f"{name}: version {done.version} registered from {done.source} ({origin})"
        ),
    )


@contextmanager
def _mlflow_errors() -> Iterator[None]:
    """The MLflow registry's refusals as one line, exit 1."""
    from workloads.lifecycle.registry import RegistryError
    from workloads.model_layout import ModelLayoutError
    from workloads.training.tracking import TrackingUnavailable

    try:
        yield
    except (RegistryError, ModelLayoutError, TrackingUnavailable) as error:
        raise CliError(" ".join(str(error).split()), FAILED) from error


def _refuse_options(given: dict[str, bool], options: tuple[str, ...], rule: str) -> None:
    """A usage error naming every option of ``options`` that was given, and why not."""
    wrong = [option for option in options if given.get(option)]
    if wrong:
        _usage(f"{', '.join(wrong)} {'goes' if len(wrong) == 1 else 'go'} {rule}")


def _usage(message: str) -> None:
    raise click.UsageError(message, click.get_current_context())


@models.command("list")
@click.argument("group")
@tracking_uri_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="SageMaker: show the newest this many versions",
)
@stack_options
@json_option
def list_versions(
    group: str,
    tracking_uri: str | None,
    limit: int,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""List a group's versions, newest first: status, created time, metrics.

    With --tracking-uri, the MLflow model GROUP's versions with their aliases.

    \b
    Examples:
      ml-platform models list churn --stack dev
      ml-platform models list mlp-prod-churn --region eu-west-1 --json
      ml-platform models list churn --tracking-uri sqlite:///build/mlflow.db
    """
    if tracking_uri:
        from workloads.lifecycle.registry import list_versions as mlflow_versions
        from workloads.lifecycle.registry import open_registry

        with _mlflow_errors():
            listed = mlflow_versions(open_registry(tracking_uri), group)
        rows = [
            (
                item["version"],
                ",".join(item["aliases"]) or None,
                item["created"],
                _metrics_text(item["metrics"]),
                item["source"],
            )
            for item in listed
        ]
        columns = ("version", "aliases", "created", "metrics", "source")
        emit_table(listed, as_json, group, columns, rows)
        return
    from workloads.ops.registry import list_versions as sagemaker_versions

    name, versions = call_operation(where, group, sagemaker_versions, limit=limit)
    rows = [
        (
            version.version,
            version.status,
            version.created,
            _metrics_text(version.metrics) if version.metrics else version.metrics_problem,
            version.approval_description,
        )
        for version in versions
    ]
    columns = ("version", "status", "created", "metrics", "reason")
    emit_table([version.to_dict() for version in versions], as_json, name, columns, rows)


def _metrics_text(metrics: dict[str, float] | None) -> str | None:
    if not metrics:
        return None
    return ", ".join(f"{name}={value:.4g}" for name, value in sorted(metrics.items()))


@models.command("promote")
@click.argument("group")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="why; recorded with the version")
@tracking_uri_option
@click.option("--alias", help=f"MLflow: the alias to move (default {DEFAULT_ALIAS})")
@click.option(
    "--endpoint",
    help="SageMaker: the endpoint (short name in the stack) whose variant to pin the version for",
)
@click.option("--variant", help="SageMaker: that endpoint's variant")
@stack_options
@json_option
def promote(
    group: str,
    version: int,
    reason: str,
    tracking_uri: str | None,
    alias: str | None,
    endpoint: str | None,
    variant: str | None,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Approve VERSION of GROUP and pin it in the stack file; with --tracking-uri move an alias.

    SageMaker: the version is approved with the reason recorded, then the serving variant that
    deploys GROUP gets `model.version: VERSION` in the stack file (a one-line diff; the next
    `pulumi up` deploys it). The variant is found in the stack file when only one deploys GROUP;
    otherwise name it with --endpoint and --variant. Without a stack the version is only approved.
    MLflow: the alias (champion) points at VERSION.

    \b
    Examples:
      ml-platform models promote churn 7 --reason 'AUC 0.91 on holdout' --stack dev
      ml-platform models promote churn 7 --reason '...' --stack prod --endpoint churn --variant blue
      ml-platform models promote churn 2 --reason 'better recall' --tracking-uri sqlite:///build/mlflow.db
    """
    if tracking_uri:
        given = {"--endpoint": endpoint is not None, "--variant": variant is not None}
        _refuse_options(given, ("--endpoint", "--variant"), "without --tracking-uri (SageMaker)")
        from workloads.lifecycle.registry import open_registry
        from workloads.lifecycle.registry import promote as move_alias

        with _mlflow_errors():
            moved = move_alias(
                open_registry(tracking_uri), group, version, alias or DEFAULT_ALIAS, reason
            )
        before = f"version {moved.previous}" if moved.previous else "unset"
        output.emit(
            moved.to_dict(),
            as_json,
            lambda console: console.print(
                f"{group}@{moved.alias}: {before} -> version {moved.version}"
            ),
        )
        return
    if alias is not None:
        _usage("--alias goes with --tracking-uri (MLflow)")
    if (endpoint is None) != (variant is None):
        _usage("--endpoint and --variant go together (the variant to pin the version for)")
    context = where.context()
    if endpoint is not None and context.stack_file is None:
        _usage(
            "--endpoint and --variant pin the version in a stack file: pass --stack or --stack-file"
        )
    from workloads.ops.promotion import VariantTarget, promote_version

    pin = None
    if context.stack_file is not None:
        found = (endpoint, variant) if endpoint and variant else _variant_of(context, group)
        if found is not None:
            pin = VariantTarget(found[0], found[1], stack_file=str(context.stack_file))
    name, promotion = call_operation(where, group, promote_version, version, reason, pin)
    result = promotion.to_dict()

    def render(console: Console) -> None:
        console.print(f"{name}: version {version} {promotion.decision.status} ({reason})")
        if pin is not None:
            console.print(
                f"{pin.path}: endpoint '{pin.endpoint}' variant '{pin.variant}' version"
                f" {promotion.previous_version} -> {version}; review, commit, then `pulumi up`"
            )
        elif context.stack_file is not None:
            console.print(f"{context.stack_file}: no serving variant deploys '{group}'; not pinned")

    output.emit(result, as_json, render)


def _variant_of(context: StackContext, group: str) -> tuple[str, str] | None:
    """The one (endpoint, variant) of the stack that deploys ``group``; None when none does.

    Several: a usage error listing them, since which one to pin is the user's choice.
    """
    short = group.removeprefix(f"mlp-{context.environment}-")
    serving = context.setting("serving") or {}
    found = [
        (str(endpoint.get("name")), str(variant.get("name")))
        for endpoint in (serving.get("endpoints") or [])
        if isinstance(endpoint, dict)
        for variant in (endpoint.get("variants") or [])
        if isinstance(variant, dict)
        and isinstance(variant.get("model"), dict)
        and variant["model"].get("group") == short
    ]
    if len(found) > 1:
        listed = ", ".join(f"{endpoint}/{variant}" for endpoint, variant in found)
        _usage(
            f"several variants deploy '{short}' ({listed}): pick one with --endpoint and --variant"
        )
    return found[0] if found else None


@models.command("reject")
@click.argument("group")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="why; recorded with the version")
@stack_options
@json_option
def reject(
    group: str,
    version: int,
    reason: str,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Reject VERSION of the SageMaker group GROUP; refused while any endpoint runs it.

    \b
    Examples:
      ml-platform models reject churn 8 --reason 'AUC fell on the holdout' --stack dev
    """
    from workloads.ops.registry import reject_version

    name, decision = call_operation(where, group, reject_version, version, reason)
    output.emit(
        decision.to_dict(),
        as_json,
        lambda console: console.print(
            f"{name}: version {version} {decision.previous_status} -> {decision.status} ({reason})"
        ),
    )


def register(cli: click.Group) -> None:
    """Add the ``models`` group to ``cli``."""
    cli.add_command(models)
