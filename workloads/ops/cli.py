"""``python -m workloads.ops``: the deployment operations from a shell, results as JSON.

Exit status: 0 done (or verified), 1 an operation refused or failed (message on stderr) or a
verification found problems, 2 bad arguments.

``promote`` does one of two things: with ``--canary`` it sends an endpoint's traffic to its
canary variant; with ``--group`` it approves a registered model version and pins it in a stack
file. Mixing their options is a bad argument.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from workloads.ops.batch_transform import SPLIT_TYPES, start_batch_transform
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError, aws_errors
from workloads.ops.package import (
    MAX_MODEL_BYTES,
    package_model,
    parse_upload_uri,
    upload_package,
)
from workloads.ops.promotion import VariantTarget, promote_version
from workloads.ops.registry import APPROVAL_STATUSES, register_model_version, reject_version
from workloads.ops.traffic import promote_canary, rollback_canary, shift_traffic
from workloads.ops.verify import verify_deployment

Command = Callable[[argparse.Namespace, Any], tuple[dict[str, Any], int]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (argparse's own status for bad arguments and --help)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if problem := args.check(args):
            args.parser.error(problem)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        session = _session(args.region, args.profile)
        # Boto errors the command did not translate (no credentials, no region, no network)
        # still end as one line naming the command.
        with aws_errors(args.command_name):
            output, status = args.command(args, session)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(output, indent=2))
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per operation."""
    parser = argparse.ArgumentParser(
        prog="python -m workloads.ops",
        description="SageMaker deployment operations; each prints its result as JSON.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: the environment's)")
    common.add_argument("--profile", help="AWS profile (default: the environment's)")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument(
        "--wait", action="store_true", help="wait until the endpoint is InService again"
    )
    waiting.add_argument(
        "--timeout", type=_positive_seconds, default=1800.0, help="seconds to wait (1800)"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(
        name: str,
        run: Command,
        help_: str,
        *parents: argparse.ArgumentParser,
        check: Callable[[argparse.Namespace], str | None] = lambda _: None,
        epilog: str | None = None,
    ) -> Any:
        sub = commands.add_parser(
            name,
            help=help_,
            description=help_,
            parents=[common, *parents],
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter
            if epilog
            else argparse.HelpFormatter,
        )
        sub.set_defaults(command=run, command_name=name, check=check, parser=sub)
        return sub

    promote = command(
        "promote",
        _promote,
        "Send all traffic to the canary variant (--canary), or approve a registered model"
        " version and pin it in the stack file (--group).",
        waiting,
        check=_promote_problem,
        epilog=PROMOTE_EXAMPLES,
    )
    promote.add_argument(
        "--endpoint",
        help="with --canary: the SageMaker endpoint; with --group: the endpoint's name in the"
        " stack file's serving.endpoints",
    )
    promote.add_argument("--canary", help="the canary variant's name")
    _version_options(promote)
    promote.add_argument("--variant", help="with --group: the variant to pin the version for")
    promote.add_argument(
        "--stack-file", help="with --group: write the version into this stack file"
    )
    promote.add_argument(
        "--stack",
        help="with --group: print the `pulumi config set` command for this stack instead"
        " (reads Pulumi.<stack>.yaml here to find the variant)",
    )

    reject = command(
        "reject",
        _reject,
        "Reject a registered model version; refused while any endpoint runs it.",
        check=_version_problem,
        epilog="example:\n  python -m workloads.ops reject --group mlp-dev-churn --version 7"
        " --reason 'AUC fell on the holdout'",
    )
    _version_options(reject)

    rollback = command(
        "rollback",
        _rollback,
        "Take all traffic off the canary; the other variants get their declared weights.",
        waiting,
    )
    rollback.add_argument("--endpoint", required=True)
    rollback.add_argument("--canary", required=True, help="the canary variant's name")

    shift = command("shift", _shift, "Set variant weights (others keep theirs).", waiting)
    shift.add_argument("--endpoint", required=True)
    shift.add_argument(
        "--weight",
        dest="weights",
        action="append",
        required=True,
        type=_variant_weight,
        metavar="VARIANT=WEIGHT",
        help="repeat per variant, e.g. --weight blue=90 --weight green=10",
    )

    verify = command(
        "verify",
        _verify,
        "Check an endpoint after pulumi up; exit 1 when anything is off.",
        waiting,
    )
    verify.add_argument("--endpoint", required=True)
    verify.add_argument("--expected-config", help="the endpoint config name the stack exported")
    verify.add_argument(
        "--expected-weight",
        dest="expected_weights",
        action="append",
        type=_variant_weight,
        metavar="VARIANT=WEIGHT",
        help="repeat per variant; shares (weight / sum) are compared",
    )

    register = command("register", _register, "Register a model version in a package group.")
    register.add_argument("--group", required=True, help="model package group name")
    register.add_argument("--image", required=True, help="inference image URI")
    register.add_argument("--model-data", required=True, help="s3:// URI of model.tar.gz")
    register.add_argument(
        "--content-type", dest="content_types", action="append", required=True, help="repeatable"
    )
    register.add_argument(
        "--response-type", dest="response_types", action="append", required=True, help="repeatable"
    )
    register.add_argument(
        "--approval-status", choices=APPROVAL_STATUSES, default="PendingManualApproval"
    )
    register.add_argument("--description")
    register.add_argument(
        "--create-group", action="store_true", help="create the group when it does not exist"
    )
    register.add_argument(
        "--metadata",
        action="append",
        type=_key_value,
        metavar="KEY=VALUE",
        help="customer metadata, repeatable",
    )
    register.add_argument("--metrics", help="s3:// URI of a JSON model quality report")

    batch = command("batch-transform", _batch_transform, "Start a batch transform job.")
    batch.add_argument("--model", required=True, help="SageMaker model name")
    batch.add_argument("--input", required=True, help="s3:// input prefix")
    batch.add_argument("--output", required=True, help="s3:// output prefix")
    batch.add_argument("--kms-key", required=True, help="KMS key for output and volumes")
    batch.add_argument("--instance-type", required=True)
    batch.add_argument("--instance-count", type=int, default=1)
    batch.add_argument("--content-type", default="text/csv")
    batch.add_argument("--split-type", choices=SPLIT_TYPES, default="Line")
    batch.add_argument("--accept", help="output MIME type (default: the content type)")
    batch.add_argument("--max-payload-mb", type=int, default=6)
    batch.add_argument("--job-name")

    package = command(
        "package",
        _package,
        "Pack a model directory as the model.tar.gz SageMaker loads (code/ for PyTorch); "
        "optionally upload it under its digest.",
    )
    package.add_argument(
        "--model-dir", required=True, help="a model directory (metadata.json and the model file)"
    )
    package.add_argument(
        "--out", help="the archive to write (default: <model-dir>.tar.gz beside the directory)"
    )
    package.add_argument(
        "--upload",
        metavar="S3_PREFIX",
        help="s3://bucket/prefix: upload to <prefix>/<sha256[:16]>/model.tar.gz",
    )
    package.add_argument(
        "--kms-key-id",
        help="KMS key for the upload, e.g. the platform key (default: S3's managed key aws/s3)",
    )
    package.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=MAX_MODEL_BYTES,
        help=f"refuse a model directory whose files hold more bytes ({MAX_MODEL_BYTES}: 4 GiB)",
    )
    return parser


PROMOTE_EXAMPLES = """examples:
  python -m workloads.ops promote --endpoint mlp-dev-churn --canary green --wait
  python -m workloads.ops promote --group mlp-dev-churn --version 7 --reason 'AUC 0.91' \\
      --stack-file Pulumi.dev.yaml --endpoint churn --variant blue
  python -m workloads.ops promote --group mlp-dev-churn --version 7 --reason '...' \\
      --stack dev --endpoint churn --variant blue    # prints the pulumi config set command"""

REGISTRY_ONLY = ("version", "reason", "variant", "stack_file", "stack")


def _version_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", help="the model package group, e.g. mlp-dev-churn")
    parser.add_argument("--version", type=_positive_int, help="the version number")
    parser.add_argument("--reason", help="why; recorded as the version's ApprovalDescription")


def _version_problem(args: argparse.Namespace) -> str | None:
    missing = [
        f"--{name}" for name in ("group", "version", "reason") if getattr(args, name) is None
    ]
    if missing:
        return f"the following arguments are required: {', '.join(missing)}"
    return None


def _promote_problem(args: argparse.Namespace) -> str | None:
    """Why the promote options do not make one of its two modes, or None."""
    given = [f"--{name.replace('_', '-')}" for name in REGISTRY_ONLY if getattr(args, name)]
    if args.group is None:
        if given:
            return f"{', '.join(given)} go with --group (approving a registered version)"
        missing = [f"--{name}" for name in ("endpoint", "canary") if getattr(args, name) is None]
        if missing:
            return f"the following arguments are required: {', '.join(missing)}"
        return None
    if args.canary is not None or args.wait:
        return "--canary and --wait promote a canary's traffic, not a registered version (--group)"
    if problem := _version_problem(args):
        return problem
    pinning = {"--endpoint": args.endpoint, "--variant": args.variant}
    if any(pinning.values()) and not all(pinning.values()):
        return "--endpoint and --variant go together (the variant to pin the version for)"
    if args.endpoint and (args.stack_file is None) == (args.stack is None):
        return "with --endpoint and --variant pass one of --stack-file (edit) or --stack (print)"
    if not args.endpoint and (args.stack_file or args.stack):
        return "--stack-file and --stack need --endpoint and --variant"
    return None


def _session(region: str | None, profile: str | None) -> Any:
    """A boto3 session for the chosen region and profile (boto3 imported only now)."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(region_name=region, profile_name=profile)
    except ProfileNotFound as error:
        raise OpsError(str(error)) from error


def _wait(args: argparse.Namespace) -> WaitPolicy | None:
    return WaitPolicy(timeout_s=args.timeout) if args.wait else None


def _promote(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    if args.group is not None:
        target = None
        if args.endpoint:
            target = VariantTarget(args.endpoint, args.variant, args.stack_file, args.stack)
        promotion = promote_version(args.group, args.version, args.reason, target, session=session)
        return promotion.to_dict(), 0
    shift = promote_canary(args.endpoint, args.canary, session=session, wait=_wait(args))
    return shift.to_dict(), 0


def _reject(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    decision = reject_version(args.group, args.version, args.reason, session=session)
    return decision.to_dict(), 0


def _rollback(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    shift = rollback_canary(args.endpoint, args.canary, session=session, wait=_wait(args))
    return shift.to_dict(), 0


def _shift(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    shift = shift_traffic(args.endpoint, dict(args.weights), session=session, wait=_wait(args))
    return shift.to_dict(), 0


def _verify(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    result = verify_deployment(
        args.endpoint,
        expected_config_name=args.expected_config,
        expected_weights=dict(args.expected_weights) if args.expected_weights else None,
        session=session,
        wait=_wait(args),
    )
    for problem in result.problems:
        print(f"problem: endpoint '{result.endpoint_name}': {problem}", file=sys.stderr)
    return result.to_dict(), 0 if result.ok else 1


def _register(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    arn = register_model_version(
        args.group,
        args.image,
        args.model_data,
        args.content_types,
        args.response_types,
        approval_status=args.approval_status,
        description=args.description,
        create_group_if_missing=args.create_group,
        metadata=dict(args.metadata) if args.metadata else None,
        metrics_s3_uri=args.metrics,
        session=session,
    )
    return {"model_package_group_name": args.group, "model_package_arn": arn}, 0


def _batch_transform(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    name = start_batch_transform(
        args.model,
        args.input,
        args.output,
        args.kms_key,
        args.instance_type,
        instance_count=args.instance_count,
        content_type=args.content_type,
        split_type=args.split_type,
        accept=args.accept,
        max_payload_mb=args.max_payload_mb,
        job_name=args.job_name,
        session=session,
    )
    return {"transform_job_name": name, "model_name": args.model}, 0


def _package(args: argparse.Namespace, session: Any) -> tuple[dict[str, Any], int]:
    if args.kms_key_id and not args.upload:
        raise OpsError("--kms-key-id is for the upload: pass --upload s3://bucket/prefix too")
    if args.upload:
        parse_upload_uri(args.upload)  # a bad URI is refused before anything is written
    packaged = package_model(args.model_dir, args.out, max_bytes=args.max_bytes)
    if args.upload:
        packaged = upload_package(
            packaged, args.upload, kms_key_id=args.kms_key_id, session=session
        )
    return packaged.to_dict(), 0


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _variant_weight(text: str) -> tuple[str, float]:
    name, value = _key_value(text)
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"weight of {name!r} is not a number: {value!r}") from None


def _positive(convert: Callable[[str], float], what: str) -> Callable[[str], float]:
    """An argparse type: ``text`` converted by ``convert``, refused unless above zero."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {what}: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    return parse


_positive_int = _positive(int, "whole number")
_positive_seconds = _positive(float, "number of seconds")
