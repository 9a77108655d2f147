"""``ml-platform plan``: the offline plan of a stack, and what changed since the last one.

It runs the stack's real Pulumi program under the mock runtime (``stacks.offline.plan``, what
``make plan`` runs): no cloud account, credentials or Pulumi CLI. ``--diff`` compares the new plan
with the previous ``<out>/<stack>.json`` (:mod:`ml_platform_cli.plan_diff`) before writing it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from ml_platform_cli.errors import FAILED, FOUND, USAGE, CliError
from ml_platform_cli.output import print_json, stderr, stdout
from ml_platform_cli.plan_diff import PlanDiff, ResourceChange, diff_plans, in_layers, summary_line
from ml_platform_cli.stack import json_option

#: How many changed paths a text line shows before "+N more" (``--json`` lists them all).
SHOWN_PATHS = 6

#: Each kind of change: its heading and marker, in the order ``pulumi preview`` lists them.
KINDS = (("added", "+"), ("changed", "~"), ("replaced", "+-"), ("deleted", "-"))


@click.command("plan")
@click.option(
    "--stack", "-s", default="dev", show_default=True, help="stack name: reads Pulumi.<stack>.yaml"
)
@click.option(
    "--config-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="stack config to plan instead of Pulumi.<stack>.yaml",
)
@click.option(
    "--layer",
    "layers",
    multiple=True,
    metavar="LAYER",
    help="show only this layer's resources (repeatable): data, feature_store, training, ...",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build/plan"),
    show_default=True,
    help="folder for <stack>.json (the previous plan --diff compares with)",
)
@click.option("--diff", "show_diff", is_flag=True, help="show what changed since the previous plan")
@click.option(
    "--exit-code", is_flag=True, help="with --diff: exit 3 when anything changed (for CI)"
)
@json_option
def plan(
    stack: str,
    config_file: Path | None,
    layers: tuple[str, ...],
    out: Path,
    show_diff: bool,
    exit_code: bool,
    as_json: bool,
) -> None:
    r"""Plan a stack offline: the resource tree, or what changed since the last plan.

    Runs the stack's real program under a mock runtime (nothing is deployed, no credentials)
    and writes OUT/<stack>.json. --diff reads the previous OUT/<stack>.json first and shows what
    was added (+), changed (~, with the changed inputs), replaced (+-) and deleted (-); a
    replaced or deleted stateful resource (bucket, key, database, feature group, registry, log
    group, or anything protected or retained) is marked `!`. Which inputs force a replacement
    is our own table (docs/cli.md): `pulumi preview` is the authority.

    \b
    Examples:
      ml-platform plan                                  # dev: the tree, writes build/plan/dev.json
      ml-platform plan --stack prod --layer serving     # one layer's resources
      ml-platform plan --diff                           # what changed since the last plan
      ml-platform plan --diff --exit-code --json        # CI: exit 3 when something changed
      ml-platform plan --config-file my.yaml --diff     # a candidate config against the last plan
    """
    from stacks.layers import LAYERS

    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown:
        raise CliError(
            f"unknown layer '{unknown[0]}' for --layer (valid: {', '.join(LAYERS)})", USAGE
        )
    if exit_code and not show_diff:
        raise CliError("--exit-code needs --diff (it reports whether the diff is empty)", USAGE)
    config_path = config_file or Path(f"Pulumi.{stack}.yaml")
    run = _run_plan(stack, config_path)
    plan_path = out / f"{run.stack}.json"
    previous = _read_previous(plan_path) if show_diff else None
    notes = stderr() if as_json else stdout()
    plan_file, manifests = _write(run, out)
    resources = run.as_json()["resources"]
    if layers:
        _note_missing_layers(notes, run.stack, run.exports, layers)
        resources = in_layers(resources, layers)
    if show_diff:
        old = None if previous is None else previous.get("resources") or []
        if old is not None and layers:
            old = in_layers(old, layers)
        diff = diff_plans(old, resources)
        if as_json:
            print_json(
                {
                    "stack": run.stack,
                    "plan_file": str(plan_file),
                    "previous": None if previous is None else str(plan_path),
                    "layers": list(layers) or None,
                    "diff": diff.as_json(),
                }
            )
        else:
            if previous is None:
                notes.print(
                    f"no previous plan at {plan_path}: everything is shown as added", markup=False
                )
            _render_diff(stdout(), run.stack, diff, layers)
        _print_written(notes, plan_file, manifests)
        if exit_code and not diff.empty:
            raise click.exceptions.Exit(FOUND)
        return
    if as_json:
        print_json(_summary(run.stack, resources, plan_file, layers, len(manifests)))
    else:
        from stacks.offline.plan import render

        click.echo(render(_filtered_run(run, resources, layers)))
    _print_written(notes, plan_file, manifests)


def register(cli: click.Group) -> None:
    """Add ``plan`` to ``cli``."""
    cli.add_command(plan)


def _run_plan(stack: str, config_path: Path) -> Any:
    """The offline run of ``stack`` with ``config_path``; a config problem is exit 2."""
    if not config_path.is_file():
        stacks = sorted(
            path.name[len("Pulumi.") : -len(".yaml")] for path in Path().glob("Pulumi.*.yaml")
        )
        here = (
            f" (stacks here: {', '.join(stacks)})" if stacks else " (run from the project folder)"
        )
        raise CliError(f"no stack config {config_path}{here}", USAGE)
    import pulumi

    from stacks.config import ConfigError, load_stack_file
    from stacks.offline.mock_runtime import flatten_stack_file, run_offline

    try:
        # As `make plan`: the file is read strictly (no aliases, no duplicate keys) and the
        # program validates its config before it registers anything.
        config = load_stack_file(config_path, stack)
        return run_offline(stack, flatten_stack_file({"config": config}))
    except ConfigError as error:
        raise CliError(str(error), USAGE) from error
    except (pulumi.RunError, ValueError) as error:
        raise CliError(f"{config_path}: {error}", USAGE) from error


def _read_previous(path: Path) -> dict[str, Any] | None:
    """The previous plan document (None when there is none); an unreadable one is exit 1."""
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CliError(
            f"cannot read the previous plan {path}: {error} (delete it to start afresh)", FAILED
        ) from error
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise CliError(
            f"the previous plan {path} has no 'resources' list (delete it to start afresh)",
            FAILED,
        )
    return document


def _write(run: Any, out: Path) -> tuple[Path, list[Path]]:
    """Write the plan file and the rendered Kubernetes manifests, as ``make plan`` does."""
    from components.shared.spec_rules import PROJECT_ROOT
    from stacks.offline.plan import write_plan
    from stacks.offline.rendered_manifests import write_rendered_manifests

    try:
        plan_file = write_plan(run, out)
        # Relative render folders are the project's, where Pulumi runs the program.
        manifests = write_rendered_manifests(run.resources, PROJECT_ROOT)
    except OSError as error:
        raise CliError(f"cannot write the plan's files: {error}", FAILED) from error
    return plan_file, list(manifests)


def _print_written(console: Console, plan_file: Path, manifests: Sequence[Path]) -> None:
    console.print(f"wrote {plan_file}", markup=False)
    if manifests:
        folders = sorted({str(path.parent.parent) for path in manifests})
        console.print(
            f"wrote {len(manifests)} Kubernetes manifests to {', '.join(folders)}", markup=False
        )


def _note_missing_layers(
    console: Console, stack: str, exports: Mapping[str, Any], layers: Sequence[str]
) -> None:
    """Say which asked-for layers the stack does not deploy (they show nothing)."""
    deployed = exports.get("layers")
    if not isinstance(deployed, list):
        return
    for layer in layers:
        if layer not in deployed:
            console.print(
                f"note: stack '{stack}' does not deploy layer "
                f"'{layer}' (ml-platform:layers); it has no resources",
                markup=False,
            )


def _filtered_run(run: Any, resources: Sequence[Mapping[str, Any]], layers: Sequence[str]) -> Any:
    """``run`` with only ``resources`` (and only those layers' exports) for the tree."""
    if not layers:
        return run
    from stacks.layers import LAYERS
    from stacks.offline.mock_runtime import PlanRun

    kept = {entry["urn"] for entry in resources}
    exports = {
        key: value for key, value in run.exports.items() if key not in LAYERS or key in layers
    }
    return PlanRun(
        run.stack, [resource for resource in run.resources if resource.urn in kept], exports
    )


def _summary(
    stack: str,
    resources: Sequence[Mapping[str, Any]],
    plan_file: Path,
    layers: Sequence[str],
    manifests: int,
) -> dict[str, Any]:
    """The plan in numbers, for ``--json`` without ``--diff``."""
    counts = Counter(entry["type"] for entry in resources)
    cloud = sum(1 for entry in resources if entry["custom"])
    return {
        "stack": stack,
        "plan_file": str(plan_file),
        "layers": list(layers) or None,
        "resources": len(resources),
        "cloud_resources": cloud,
        "components": len(resources) - cloud,
        "by_type": dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        "protected": sum(1 for entry in resources if entry["protect"]),
        "retained_on_delete": sum(1 for entry in resources if entry["retain_on_delete"]),
        "manifests": manifests,
    }


def _render_diff(console: Console, stack: str, diff: PlanDiff, layers: Sequence[str]) -> None:
    """The diff for people: one section per kind, stateful losses marked ``!`` (bold red)."""
    scope = f" (layers: {', '.join(layers)})" if layers else ""
    console.print(f"Offline plan diff of stack '{stack}'{scope}", markup=False)
    if diff.empty:
        console.print("no changes", markup=False)
    for kind, marker in KINDS:
        changes: list[ResourceChange] = getattr(diff, kind)
        if not changes:
            continue
        console.print(f"\n{kind} ({len(changes)}):", markup=False)
        for change in changes:
            console.print(_diff_line(change, marker))
    console.print("\n" + summary_line(diff), markup=False)
    lost = sum(1 for change in [*diff.replaced, *diff.deleted] if change.stateful)
    if lost:
        console.print(
            Text(
                f"! {lost} stateful resource{'s' if lost != 1 else ''} replaced or deleted: "
                "data or identity is lost (check with `pulumi preview`)",
                style="bold red",
            )
        )


def _diff_line(change: ResourceChange, marker: str) -> Text:
    """``  ~ aws:kms/key:Key  mlp-dev-key  deletionWindowInDays`` (``!`` first when stateful)."""
    line = Text(f"{'!' if change.stateful else ' '} {marker:<2} {change.type}  {change.name}")
    if change.replace_paths:
        line.append(f"  forces replacement: {_paths(change.replace_paths)}")
        others = [path for path in change.paths if path not in change.replace_paths]
        if others:
            line.append(f"; also: {_paths(others)}")
    elif change.reason:
        line.append(f"  {change.reason}")
    elif change.paths:
        line.append(f"  {_paths(change.paths)}")
    if change.stateful:
        line.append("  (stateful)")
        line.stylize("bold red")
    return line


def _paths(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:SHOWN_PATHS])
    more = len(paths) - SHOWN_PATHS
    return shown + (f" (+{more} more)" if more > 0 else "")
