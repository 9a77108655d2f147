"""``ml-platform endpoints``: look at and operate live SageMaker endpoints.

``status`` and ``verify`` read; ``shift``, ``promote`` and ``rollback`` change traffic weights in
place (UpdateEndpointWeightsAndCapacities, no new endpoint config; the next ``pulumi up`` puts
the stack's weights back); ``invoke`` sends one request. Names resolve from the stack file
(``churn`` with ``--stack dev`` is ``mlp-dev-churn``). The work is ``workloads.ops``'s.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ml_platform_cli import output
from ml_platform_cli.aws_calls import (
    call_operation,
    emit_table,
    key_values,
    print_table,
    wait_options,
    wait_policy,
    weight,
)
from ml_platform_cli.errors import FAILED, CliError
from ml_platform_cli.stack import AwsTarget, StackOptions, json_option, stack_options

#: InvokeEndpoint's content type unless ``--content-type`` says otherwise.
DEFAULT_CONTENT_TYPE = "application/json"


@click.group("endpoints")
def endpoints() -> None:
    r"""Look at and operate the deployed SageMaker endpoints.

    NAME is the endpoint's short name in the stack (churn) with --stack, or its full name
    (mlp-dev-churn). Traffic changes apply in place; the next `pulumi up` restores the stack's
    weights.

    \b
    Examples:
      ml-platform endpoints status churn --stack dev
      ml-platform endpoints shift churn blue=50 green=50 --stack dev --wait
      ml-platform endpoints invoke churn --stack dev --body '{"instances": [[1, 2, 3]]}'
    """


@endpoints.command("status")
@click.argument("name")
@stack_options
@json_option
def status(
    name: str,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Show an endpoint's status, config, variants (weight, instances, model) and any update.

    \b
    Examples:
      ml-platform endpoints status churn --stack dev
      ml-platform endpoints status mlp-prod-churn --region eu-west-1 --json
    """
    from workloads.ops.status import endpoint_status

    _, found = call_operation(where, name, endpoint_status)
    output.emit(found.to_dict(), as_json, lambda console: _render_status(console, found))


def _render_status(console: Console, found: Any) -> None:
    console.print(f"endpoint  {found.endpoint_name}")
    console.print(f"status    {found.status}")
    console.print(f"config    {found.endpoint_config_name}")
    if found.pending_config_name:
        console.print(f"updating  to {found.pending_config_name} ({found.pending_status})")
    if found.failure_reason:
        console.print(f"failure   {found.failure_reason}")
    rows = [
        (
            variant.name,
            _weight_text(variant.current_weight, variant.desired_weight),
            _count_text(variant.current_instances, variant.desired_instances),
            variant.instance_type or "serverless",
            variant.model_name,
            variant.model_source,
        )
        for variant in found.variants
    ]
    columns = ("variant", "weight", "instances", "type", "model", "source")
    print_table(console, output.table(None, columns, rows))


def _weight_text(current: float | None, desired: float | None) -> str:
    if current is None:
        return "-" if desired is None else f"-> {desired:g}"
    if desired is None or desired == current:
        return f"{current:g}"
    return f"{current:g} -> {desired:g}"


def _count_text(current: int | None, desired: int | None) -> str:
    if current is None and desired is None:
        return "-"
    if desired is None or desired == current:
        return str(current)
    return f"{current if current is not None else '-'} -> {desired}"


@endpoints.command("verify")
@click.argument("name")
@click.option("--expected-config", help="the endpoint config name the stack exported")
@click.option(
    "--expected-weight",
    "expected_weights",
    multiple=True,
    metavar="VARIANT=WEIGHT",
    callback=key_values("--expected-weight", weight),
    help="repeat per variant; shares (weight / sum) are compared, variants left out count 0",
)
@wait_options
@stack_options
@json_option
def verify(
    name: str,
    expected_config: str | None,
    expected_weights: dict[str, float],
    wait: bool,
    timeout: float,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Check an endpoint after `pulumi up`: InService, no failure, config and weights as expected.

    Prints what it found; exit 1 with one line per problem on stderr when anything is off.

    \b
    Examples:
      ml-platform endpoints verify churn --stack dev --wait
      ml-platform endpoints verify churn --stack dev --expected-weight blue=90 \
          --expected-weight green=10 --expected-config mlp-dev-churn-config-2f3ea9d
    """
    from workloads.ops.verify import verify_deployment

    _, result = call_operation(
        where,
        name,
        verify_deployment,
        expected_config_name=expected_config,
        expected_weights=expected_weights or None,
        wait=wait_policy(wait, timeout),
    )

    def render(console: Console) -> None:
        console.print(f"endpoint  {result.endpoint_name}")
        console.print(f"status    {result.status}")
        console.print(f"config    {result.endpoint_config_name}")
        weights = ", ".join(f"{variant}={value:g}" for variant, value in result.weights.items())
        console.print(f"weights   {weights or '-'}")
        console.print("verified" if result.ok else f"{len(result.problems)} problem(s)")

    output.emit(result.to_dict(), as_json, render)
    if not result.ok:
        for problem in result.problems:
            print(f"problem: endpoint '{result.endpoint_name}': {problem}", file=sys.stderr)
        count = len(result.problems)
        raise CliError(
            f"endpoint '{result.endpoint_name}' failed verification"
            f" ({count} problem{'s' if count > 1 else ''})",
            FAILED,
        )


@endpoints.command("shift")
@click.argument("name")
@click.argument(
    "weights",
    nargs=-1,
    required=True,
    metavar="VARIANT=WEIGHT...",
    callback=key_values("VARIANT=WEIGHT", weight),
)
@wait_options
@stack_options
@json_option
def shift(
    name: str,
    weights: dict[str, float],
    wait: bool,
    timeout: float,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Set the traffic weights of the named variants; the others keep theirs.

    Weights are relative: a variant's share is its weight over the sum. Refused, with nothing
    changed, unless the endpoint is InService and every variant exists.

    \b
    Examples:
      ml-platform endpoints shift churn blue=50 green=50 --stack dev
      ml-platform endpoints shift churn green=0 --stack dev --wait --timeout 900
    """
    from workloads.ops.traffic import shift_traffic

    _, done = call_operation(where, name, shift_traffic, weights, wait=wait_policy(wait, timeout))
    _emit_shift(done, as_json)


@endpoints.command("promote")
@click.argument("name")
@click.option("--canary", required=True, help="the canary variant that gets all traffic")
@wait_options
@stack_options
@json_option
def promote(
    name: str,
    canary: str,
    wait: bool,
    timeout: float,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Send all traffic to the canary variant (every other variant's weight becomes 0).

    \b
    Examples:
      ml-platform endpoints promote churn --canary green --stack dev --wait
    """
    from workloads.ops.traffic import promote_canary

    _, done = call_operation(where, name, promote_canary, canary, wait=wait_policy(wait, timeout))
    _emit_shift(done, as_json)


@endpoints.command("rollback")
@click.argument("name")
@click.option("--canary", required=True, help="the canary variant to take all traffic off")
@wait_options
@stack_options
@json_option
def rollback(
    name: str,
    canary: str,
    wait: bool,
    timeout: float,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Take all traffic off the canary; the others get the weights their config declares.

    \b
    Examples:
      ml-platform endpoints rollback churn --canary green --stack dev --wait
    """
    from workloads.ops.traffic import rollback_canary

    _, done = call_operation(where, name, rollback_canary, canary, wait=wait_policy(wait, timeout))
    _emit_shift(done, as_json)


def _emit_shift(done: Any, as_json: bool) -> None:
    """Print a traffic change: each variant's weight before and after."""
    rows = [
        (variant, f"{before:g}", f"{done.new_weights.get(variant, before):g}")
        for variant, before in done.previous_weights.items()
    ]
    title = f"{done.endpoint_name}" + (f" ({done.status})" if done.status else " (updating)")
    columns = ("variant", "weight before", "weight now")
    emit_table(done.to_dict(), as_json, title, columns, rows)


@endpoints.command("invoke")
@click.argument("name")
@click.option("--body", help="the request body, as text")
@click.option(
    "--file",
    "body_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="read the request body from this file ('-': stdin)",
)
@click.option(
    "--content-type",
    default=DEFAULT_CONTENT_TYPE,
    show_default=True,
    help="the body's MIME type (text/csv, application/json, ...)",
)
@click.option("--accept", help="the answer's MIME type to ask for (default: the server's)")
@click.option("--variant", help="send the request to this variant instead of by weight")
@stack_options
@json_option
def invoke(
    name: str,
    body: str | None,
    body_file: Path | None,
    content_type: str,
    accept: str | None,
    variant: str | None,
    where: StackOptions,
    as_json: bool,
) -> None:
    r"""Send one request to an endpoint (InvokeEndpoint) and print the answer.

    With --json the answer is wrapped with the variant that answered and its content type.

    \b
    Examples:
      ml-platform endpoints invoke churn --stack dev --body '{"instances": [[12, 70.5]]}'
      ml-platform endpoints invoke churn --stack dev --file rows.csv --content-type text/csv
      ml-platform endpoints invoke churn --stack dev --file rows.csv --content-type text/csv \
          --variant green --json
    """
    payload = _request_body(body, body_file)
    target = where.connect()
    endpoint = target.context.resource_name(name)
    answer = _invoke(target, endpoint, payload, content_type, accept, variant)
    data = answer["Body"].read()
    answered_by = answer.get("InvokedProductionVariant")
    if not as_json:
        sys.stdout.buffer.write(data)
        if data and not data.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        return
    result: dict[str, Any] = {
        "endpoint_name": endpoint,
        "variant": answered_by,
        "content_type": answer.get("ContentType"),
    }
    try:
        result["body"] = data.decode("utf-8")
    except UnicodeDecodeError:
        result["body_base64"] = base64.b64encode(data).decode("ascii")
    output.print_json(result)


def _request_body(body: str | None, body_file: Path | None) -> bytes:
    """The request's bytes from ``--body`` or ``--file``; exactly one of them (exit 2)."""
    if (body is None) == (body_file is None):
        raise click.UsageError(
            "pass the request as one of --body TEXT or --file PATH", click.get_current_context()
        )
    if body is not None:
        return body.encode("utf-8")
    assert body_file is not None
    if str(body_file) == "-":
        return sys.stdin.buffer.read()
    try:
        return body_file.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read --file '{body_file}': {error.strerror}", FAILED) from error


def _invoke(
    target: AwsTarget,
    endpoint: str,
    payload: bytes,
    content_type: str,
    accept: str | None,
    variant: str | None,
) -> dict[str, Any]:
    """InvokeEndpoint; a missing endpoint or variant is one line naming it and where."""
    from botocore.exceptions import ClientError

    from workloads.aws_errors import error_code, error_message

    request: dict[str, Any] = {
        "EndpointName": endpoint,
        "Body": payload,
        "ContentType": content_type,
    }
    if accept:
        request["Accept"] = accept
    if variant:
        request["TargetVariant"] = variant
    runtime = target.session.client("sagemaker-runtime")
    try:
        return dict(runtime.invoke_endpoint(**request))
    except ClientError as error:
        code, message = error_code(error), " ".join(error_message(error).split())
        if code == "ValidationException" and "not found" in message.lower():
            if variant and "variant" in message.lower():
                raise CliError(
                    f"variant '{variant}' of endpoint '{endpoint}' not found {target.where}",
                    FAILED,
                ) from error
            raise CliError(f"endpoint '{endpoint}' not found {target.where}", FAILED) from error
        raise CliError(
            f"InvokeEndpoint on '{endpoint}' failed: {code}: {message}", FAILED
        ) from error


def register(cli: click.Group) -> None:
    """Add the ``endpoints`` group to ``cli``."""
    cli.add_command(endpoints)
