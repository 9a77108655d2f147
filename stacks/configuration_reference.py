"""The configuration reference (docs/configuration.md), generated from the config models.

Every key a stack file may set is a field of a pydantic model reachable from ``PlatformConfig``;
its docstring is the one description of that key. This module walks those models from
``PlatformConfig`` down (wherever the model classes live) and writes one table per section: the
key's path in the stack file, its type with its bounds, its default and its docstring. The
committed page is checked by a test, the way terraform-docs output is checked in CI::

    .venv/bin/python -m stacks.configuration_reference --write   # rewrite docs/configuration.md
    .venv/bin/python -m stacks.configuration_reference --check   # exit 1 when it is out of date
    .venv/bin/python -m stacks.configuration_reference           # print it
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import sys
import textwrap
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from stacks.config import PlatformConfig

ROOT = Path(__file__).resolve().parents[1]
#: Where the page is committed, relative to the project root.
PAGE = Path("docs/configuration.md")
#: The command that rewrites the page, printed when the committed page is out of date.
REGENERATE = ".venv/bin/python -m stacks.configuration_reference --write"
#: The stack file's namespace for the project's own keys (``aws:region`` carries its own alias).
NAMESPACE = "ml-platform"

#: The page's overview: what each top-level key holds, how stack files are read, and the two stacks.
OVERVIEW_ROWS: tuple[tuple[str, str], ...] = (
    ("aws:region", "region of the stack's provider"),
    ("ml-platform:environment", "short name used in resource names and tags (`dev`, `prod`)"),
    (
        "ml-platform:tier",
        "`development` or `production`; production requires multi-AZ, a 30-day key deletion "
        "window, log retention >= 365 days (or 0) and retained data",
    ),
    (
        "ml-platform:retain_data",
        "keep stateful resources on destroy (default: true exactly in production)",
    ),
    ("ml-platform:tags", "tags added to every resource (through the provider's default tags)"),
    ("ml-platform:layers", "layers the stack deploys"),
    (
        "ml-platform:data",
        "`kms.deletion_window_days`, `network.{cidr, availability_zones, subnet_prefix_length, "
        "flow_log_traffic}`, `log_retention_days`, `buckets.<bucket>.{transitions, "
        "expiration_days, noncurrent_version_expiration_days, "
        "abort_incomplete_multipart_upload_days}` for raw, processed, models, experiments, "
        "capture, monitoring, access_logs (see [The data layer](data.md))",
    ),
    (
        "ml-platform:training",
        "repositories, notebooks, experiment tracking, pipelines "
        "(see [The training layer](training.md))",
    ),
    (
        "ml-platform:gpu",
        "GPU instance types, group sizes, spot mix, AMI filter (see [The GPU layer](gpu.md))",
    ),
    (
        "ml-platform:serving",
        "`endpoints` (see [The serving layer](serving.md)), `alarm_emails`",
    ),
    (
        "ml-platform:feature_store",
        "`groups` (one entry per group version) and `athena.bytes_scanned_cutoff_gb` "
        "(see [The feature store](feature-store.md))",
    ),
    (
        "ml-platform:monitoring",
        "`endpoints` (one entry per monitored endpoint), `alarm_emails`, the jobs' "
        "`instance_type`, `volume_size_gb`, `max_runtime_seconds`, `image` "
        "(see [Model monitoring](monitoring.md))",
    ),
    (
        "ml-platform:kubernetes",
        "`cluster` (`eks` or `existing`, `render_to`, `install_operators`), `endpoints`, "
        "`training_jobs`, `mlflow`, `jupyterhub` (see [The Kubernetes layer](kubernetes.md))",
    ),
)

OVERVIEW_BEFORE = """\
Each layer's settings are declared once, in its package's `spec.py` (`components/<layer>/spec.py`):
frozen pydantic models that reject unknown keys, with every service limit as a field constraint.
`stacks/config.py` composes them, adds the production-tier and cross-layer rules, and validates a
stack once. Keys live under the project namespace; paths in error messages are these keys:"""

OVERVIEW_AFTER = """\
Stack files are read strictly: duplicate keys, YAML aliases, a root or `config:` that is not a
mapping, and non-finite numbers are config errors (exit 2, one line each). Sizes, counts and days
have upper bounds, names the program derives (`mlp-<env>-...`) are checked against the service's
length limit, and a stack carries at most 50 tags (10 when a layer that uploads S3 objects
deploys: S3 objects take 10 and get every default tag). The full list:
[docs/limits.md](limits.md#stack-files-and-config-make-plan-pulumi-up).

`Pulumi.dev.yaml` is two-AZ (the least EKS accepts) with short retention and a 7-day key window;
`Pulumi.prod.yaml` is three-AZ, retained and protected, with storage-class transitions."""


@dataclass(frozen=True)
class Row:
    """One key of the reference: a line of a section's table."""

    path: str
    """The key's path in the stack file (``[]`` marks each item of a list, ``<name>`` a map key)."""
    type: str
    """The key's type in words, with its bounds (``int, 1-100``)."""
    default: str
    """The default as the stack file would spell it, ``required``, or a pointer to the sub-keys."""
    description: str
    """The field's docstring on one line."""


def attribute_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The docstring under each field of ``model`` and its bases (a subclass's wins).

    Read from the source with ``ast``: pydantic keeps them only with ``use_attribute_docstrings``,
    which the config models do not turn on.
    """
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            continue
        [definition] = ast.parse(source).body
        body = getattr(definition, "body", [])
        for statement, following in itertools.pairwise(body):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                found[statement.target.id] = inspect.cleandoc(following.value.value)
    return found


def _strip_annotated(annotation: object) -> object:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def type_words(annotation: object) -> str:
    """A field type as a reader of the stack file sees it (``list of str``, ``'A' | 'B'``)."""
    annotation = _strip_annotated(annotation)
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return " | ".join(repr(value) for value in arguments)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_words(argument) for argument in arguments)
    if origin in (tuple, list, frozenset, set, Sequence):
        return f"list of {type_words(arguments[0])}" if arguments else "list"
    if origin is dict:
        return f"map of {type_words(arguments[0])} to {type_words(arguments[1])}"
    if _is_model(annotation):
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " | ".join(repr(member.value) for member in annotation)
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


#: Each bound pydantic records in a field's metadata: its type, the attribute holding the limit,
#: and the words the reference writes for it.
_BOUNDS = (
    (annotated_types.Ge, "ge", ">= {}"),
    (annotated_types.Gt, "gt", "> {}"),
    (annotated_types.Le, "le", "<= {}"),
    (annotated_types.Lt, "lt", "< {}"),
    (annotated_types.MinLen, "min_length", "at least {} long"),
    (annotated_types.MaxLen, "max_length", "at most {} long"),
)


def bound_words(field: FieldInfo) -> list[str]:
    """The field's declared bounds in words (``>= 1``, ``<= 100``, ``at most 64 characters``)."""
    words: list[str] = []
    for item in field.metadata:
        for kind, limit, template in _BOUNDS:
            if isinstance(item, kind):
                words.append(template.format(getattr(item, limit)))
                break
    return words


def _yaml_words(value: object) -> str:
    """A default value as a stack file spells it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _yaml_words(value.value)
    if isinstance(value, tuple | list | frozenset | set):
        return "[" + ", ".join(_yaml_words(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_yaml_words(item)}" for key, item in value.items()) + "}"
    return str(value)


def default_words(field: FieldInfo) -> str:
    """The default column: ``required``, the value in YAML words, or a pointer to the sub-keys."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(the keys below)"
    if value is PydanticUndefined:
        return "required"
    return f"`{_yaml_words(value)}`"


def _cell(text: str) -> str:
    """Text for one table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _nested_models(annotation: object) -> Iterator[tuple[str, type[BaseModel]]]:
    """The models a field holds, each with the path suffix that reaches it."""
    annotation = _strip_annotated(annotation)
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if _is_model(annotation):
        yield "", typing.cast(type[BaseModel], annotation)
    elif origin in (typing.Union, types.UnionType):
        for argument in arguments:
            yield from _nested_models(argument)
    elif origin in (tuple, list, frozenset, set, Sequence) and arguments:
        for suffix, model in _nested_models(arguments[0]):
            yield "[]" + suffix, model
    elif origin is dict and arguments:
        for suffix, model in _nested_models(arguments[1]):
            yield ".<name>" + suffix, model


def rows(model: type[BaseModel], prefix: str, seen: tuple[type, ...] = ()) -> Iterator[Row]:
    """Every key under ``model``, depth first in declaration order, with ``prefix`` before it."""
    docstrings = attribute_docstrings(model)
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        kind = type_words(field.annotation)
        bounds = bound_words(field)
        yield Row(
            path=path,
            type=", ".join([kind, *bounds]),
            default=default_words(field),
            description=docstrings.get(name, ""),
        )
        for suffix, nested in _nested_models(field.annotation):
            if nested in seen or nested is model:
                continue  # a model that holds itself would never end
            yield from rows(nested, path + suffix, (*seen, model))


def _table(section_rows: Sequence[Row]) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for row in section_rows:
        cells = (_cell(row.type), _cell(row.default), _cell(row.description))
        lines.append(f"| `{row.path}` | " + " | ".join(cells) + " |")
    return lines


def render(config: type[BaseModel] = PlatformConfig) -> str:
    """The whole page: the stack's own keys, then one section per layer model."""
    docstrings = attribute_docstrings(config)
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from the config models by `python -m stacks.configuration_reference`:",
        f"     do not edit by hand. Regenerate with: {REGENERATE} -->",
        "",
        "[README](../README.md) · [limits and guarantees](limits.md)",
        "",
        "## Stack configuration",
        "",
        OVERVIEW_BEFORE,
        "",
        "| key | meaning |",
        "|-----|---------|",
        *(f"| `{key}` | {meaning} |" for key, meaning in OVERVIEW_ROWS),
        "",
        OVERVIEW_AFTER,
        "",
        "## Every key",
        "",
        "Every key a stack file (`Pulumi.<stack>.yaml`) may set, under `config:`, generated from",
        "the config models' fields and their docstrings. Paths use `[]` for each item of a list",
        "and `<name>` for a key of a map; `(the keys below)` means the default is the default of",
        "each sub-key. Rules that need two keys at once (production-tier rules, cross-layer",
        "references) are described in each layer's page.",
        "",
    ]
    stack_rows: list[Row] = []
    sections: list[tuple[str, str, str, list[Row]]] = []
    for name, field in config.model_fields.items():
        key = field.alias or f"{NAMESPACE}:{name}"
        if _is_model(_strip_annotated(field.annotation)):
            nested = typing.cast(type[BaseModel], _strip_annotated(field.annotation))
            declared = f"Declared in `{nested.__module__.replace('.', '/')}.py`."
            sections.append((key, docstrings.get(name, ""), declared, list(rows(nested, key))))
        else:
            stack_rows.extend(rows_of_field(name, field, key, docstrings))
    lines += ["### The stack", "", *_table(stack_rows), ""]
    for key, description, declared, section_rows in sections:
        lines += [f"### `{key}`", "", f"{description} {declared}", "", *_table(section_rows), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def rows_of_field(name: str, field: FieldInfo, key: str, docstrings: dict[str, str]) -> list[Row]:
    """The row of one top-level key that is not a section (``aws:region``, ``ml-platform:tags``)."""
    kind = type_words(field.annotation)
    return [
        Row(
            path=key,
            type=", ".join([kind, *bound_words(field)]),
            default=default_words(field),
            description=docstrings.get(name, ""),
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the page, write it (``--write``) or check the committed one (``--check``)."""
    parser = argparse.ArgumentParser(prog="python -m stacks.configuration_reference")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"rewrite {PAGE}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 when {PAGE} is out of date")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project root")
    args = parser.parse_args(argv)
    page = render()
    target = args.root / PAGE
    if args.write:
        try:
            target.write_text(page)
        except OSError as error:
            print(f"error: cannot write {target}: {error.strerror}", file=sys.stderr)
            return 1
        print(f"wrote {target}")
        return 0
    if args.check:
        try:
            committed = target.read_text()
        except OSError as error:
            print(
                f"error: cannot read {target}: {error.strerror}; run: {REGENERATE}", file=sys.stderr
            )
            return 1
        if committed != page:
            print(
                f"error: {PAGE} is out of date with the config models; run: {REGENERATE}",
                file=sys.stderr,
            )
            return 1
        print(f"{PAGE} is up to date")
        return 0
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
