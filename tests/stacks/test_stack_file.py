"""Reading a stack file: a strict YAML loader whose every refusal is one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacks.config import (
    MAX_STACK_FILE_BYTES,
    MAX_STACK_FILE_DEPTH,
    ConfigError,
    StackFileError,
    load_platform_config,
    load_stack_file,
)
from stacks.offline.mock_runtime import flatten_stack_file
from stacks.offline.plan import main
from tests.conftest import ROOT, stack_file

#: `make plan` (STACK=dev) as the Makefile runs it; CONFIG=<file> adds --config-file.
PLAN = (sys.executable, "-m", "stacks.offline.plan", "--stack", "dev")


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "Pulumi.test.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def refusal(tmp_path: Path, text: str | bytes) -> str:
    """The one-line message a stack file with ``text`` is refused with."""
    path = write(tmp_path, text)
    with pytest.raises(StackFileError) as raised:
        load_stack_file(path, "dev")
    message = str(raised.value)
    assert "\n" not in message
    return message.removeprefix(f"{path}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "config:\n  aws:region: us-east-1\n  aws:region: eu-west-1\n",
            ", line 3: duplicate key 'aws:region' (first at line 2); YAML would keep only the last",
        ),
        (
            "config:\n  ml-platform:data:\n    kms: {}\n    kms: {deletion_window_days: 7}\n",
            ", line 4: duplicate key 'kms' (first at line 3); YAML would keep only the last",
        ),
        ("- a\n- b\n", ": must be a mapping with a 'config:' key, not a list"),
        ("just text\n", ": must be a mapping with a 'config:' key, not text"),
        ("config:\n  - a\n", ": 'config:' must be a mapping of keys to values, not a list"),
        ("config: 3\n", ": 'config:' must be a mapping of keys to values, not a number"),
        ("config:\n  12: x\n", ": config key 12 is not a string like 'ml-platform:data'"),
        (
            "config: {a: [1, 2}\n",
            ", line 1: not valid YAML: while parsing a flow sequence expected ',' or ']', but got '}'",
        ),
        ("config:\n  a: !!binary aGVsbG8=\n", ", line 2: a YAML binary value is not a config value"),
        ("config:\n  a: !!set {x, y}\n", ", line 2: a YAML set is not a config value"),
        (
            "config:\n  a: !!python/object:os.system x\n",
            ", line 2: not valid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
        ),
        ("a: 1\n---\nb: 2\n", ", line 2: not valid YAML: expected a single document in the stream "
         "but found another document"),
        (b"config:\n  a: \xff\n", ": is not UTF-8 text"),
    ],
)  # fmt: skip
def test_a_broken_stack_file_is_one_line_naming_file_and_line(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    # given a stack file with one defect / when it is read / then one line says what and where
    assert refusal(tmp_path, text) == expected


def test_an_alias_bomb_is_refused_at_its_first_alias(tmp_path: Path) -> None:
    # given the "billion laughs": nine levels of aliases, each repeating the last ten times
    levels = ['a0: &a0 ["lol"]'] + [
        f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]" for level in range(1, 10)
    ]
    text = "config:\n" + "".join(f"  {line}\n" for line in levels)
    # when it is read / then it is refused before anything expands
    assert refusal(tmp_path, text) == (
        ", line 3: YAML aliases (*a0) are not allowed in a stack file: write the value out"
    )


def test_a_merge_key_needs_an_alias_and_is_refused_with_it(tmp_path: Path) -> None:
    text = "base: &base {a: 1}\nconfig:\n  <<: *base\n"
    assert refusal(tmp_path, text) == (
        ", line 3: YAML aliases (*base) are not allowed in a stack file: write the value out"
    )


def test_a_stack_file_is_bounded_in_size(tmp_path: Path) -> None:
    # given a file one byte over the bound
    text = "config: {}\n#" + "x" * (MAX_STACK_FILE_BYTES - 12) + "\n"
    # then it is refused without being parsed
    assert refusal(tmp_path, text) == (
        f": {MAX_STACK_FILE_BYTES + 1} bytes; a stack file may be at most {MAX_STACK_FILE_BYTES}"
    )


def test_deep_nesting_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    # given a value nested far deeper than Python's recursion limit
    depth = sys.getrecursionlimit() * 2
    text = "config:\n  a: " + "[" * depth + "]" * depth + "\n"
    # then it is refused in one line
    assert refusal(tmp_path, text) == ": nested too deeply to be a stack file"


def test_nesting_is_bounded_before_validation(tmp_path: Path) -> None:
    # given a value nested 40 levels (YAML reads it; the validators' JSON parser would not say
    # where the problem is)
    text = "config:\n  ml-platform:data: " + "[" * 40 + "]" * 40 + "\n"
    # then the file is refused with the depth and the bound
    assert (
        refusal(tmp_path, text)
        == f": nests 41 levels deep; a stack file may nest at most {MAX_STACK_FILE_DEPTH}"
    )


def test_timestamps_stay_text_and_empty_files_are_empty_configs(tmp_path: Path) -> None:
    # given an unquoted date (YAML would make it a date object, which JSON cannot carry)
    path = write(tmp_path, "config:\n  ml-platform:tags: {Since: 2024-01-31}\n")
    # then it stays the text written
    assert load_stack_file(path, "dev") == {"ml-platform:tags": {"Since": "2024-01-31"}}
    # and an empty file, or one without config:, is an empty config (whose keys are then missing)
    assert load_stack_file(write(tmp_path, ""), "dev") == {}
    assert load_stack_file(write(tmp_path, "config:\n"), "dev") == {}


def test_the_real_stack_files_read_as_yaml_reads_them() -> None:
    # given dev and prod / when read strictly / then nothing differs from PyYAML's safe_load
    for stack in ("dev", "prod"):
        assert load_stack_file(ROOT / f"Pulumi.{stack}.yaml", stack) == stack_file(stack)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    # given a folder where the file should be
    folder = tmp_path / "Pulumi.test.yaml"
    folder.mkdir()
    with pytest.raises(StackFileError) as raised:
        load_stack_file(folder, "dev")
    assert str(raised.value) == f"{folder}: cannot be read (Is a directory)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  a: 1\n  a: 2\n", "line 3: duplicate key 'a' (first at line 2)"),
        ("- 1\n", "must be a mapping with a 'config:' key, not a list"),
        ("config:\n  - 1\n", "'config:' must be a mapping of keys to values, not a list"),
    ],
)
def test_make_plan_with_a_broken_config_file_exits_2_with_one_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    # given CONFIG=<file> pointing at a broken file, as `make plan CONFIG=...` passes it
    path = write(tmp_path, text)
    result = subprocess.run(
        [*PLAN, "--config-file", str(path), "--out", str(tmp_path / "plan")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # then the status is 2, stderr one line naming the file, and no traceback or plan
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {path}")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "plan").exists()


def test_render_to_a_file_stops_the_plan_before_it_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given dev rendering its manifests onto an existing file (the Makefile)
    document = {"config": stack_file("dev")}
    document["config"]["ml-platform:kubernetes"]["cluster"]["render_to"] = "Makefile"
    path = write(tmp_path, yaml.safe_dump(document))
    # when planned / then the config error comes first: status 2, nothing printed or written
    assert main(["--stack", "dev", "--config-file", str(path), "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "kubernetes.cluster.render_to: 'Makefile' is a file, not a folder" in captured.err
    assert not (tmp_path / "dev.json").exists()


# --------------------------------------------------------------------------------------------
# property: whatever the file holds, reading and validating it never raises anything else
# --------------------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["dev", "production", "us-east-1", "data", "xgboost", "1e400", "-", "~"]),
)
_KEYS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "ml-platform:data", "ml-platform:training", "ml-platform:layers", "aws:region",
            "ml-platform:environment", "ml-platform:tier", "ml-platform:tags", "config",
            "ml-platform:serving", "ml-platform:kubernetes", "secure", "kms", "pipelines",
        ]
    ),
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=20,
)


def _outcome(path: Path) -> object:
    """Load and validate like `make plan` does; only a config or a ConfigError may come out."""
    try:
        config = load_stack_file(path, "dev")
        flat = flatten_stack_file({"config": config})
        return load_platform_config("dev", flat)
    except ConfigError as error:
        return error
    except ValueError as error:
        # flatten_stack_file's refusal of a secret (plan.py reports it as a config error)
        assert "secrets cannot be decrypted offline" in str(error)
        return error


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=st.one_of(_VALUES, st.dictionaries(st.just("config"), _VALUES, max_size=1)))
def test_any_yaml_document_gives_a_config_or_a_config_error(
    tmp_path: Path, document: object
) -> None:
    # given any YAML document (scalars, lists, mappings, nested) / when loaded and validated
    path = write(tmp_path, yaml.safe_dump(document, allow_unicode=True))
    # then it is a config or a config error, never another exception
    _outcome(path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet=st.sampled_from(list("ab: -[]{},&*!|>'\"\n#?%@`\t0.")), max_size=60))
def test_any_text_gives_a_config_or_a_config_error(tmp_path: Path, text: str) -> None:
    # given arbitrary text made of YAML's syntax characters / then never another exception
    _outcome(write(tmp_path, text))


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path to a value inside nested mappings and lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


DEV_PATHS = _paths(stack_file("dev"))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutations=st.lists(st.tuples(st.sampled_from(DEV_PATHS), _VALUES), min_size=1, max_size=3))
def test_any_mutation_of_the_dev_config_gives_a_config_or_a_config_error(
    tmp_path: Path, mutations: list[tuple[tuple[object, ...], object]]
) -> None:
    # given the dev config with up to three values anywhere replaced by anything
    config = stack_file("dev")
    for path, value in mutations:
        parent: object = config
        try:
            for part in path[:-1]:
                parent = parent[part]  # type: ignore[index]
            parent[path[-1]] = value  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced this path's parent
    file = write(tmp_path, yaml.safe_dump({"config": config}, allow_unicode=True))
    # when loaded and validated / then a config or a config error, never another exception
    _outcome(file)


def test_an_engine_value_nested_past_the_recursion_limit_is_a_config_error() -> None:
    # given the engine's flat config (the `pulumi up` path) with an absurdly nested value
    flat = flatten_stack_file({"config": stack_file("dev")})
    flat["ml-platform:data"] = "[" * 100_000 + "]" * 100_000
    # then it is validated as the text it is, and refused at its key
    with pytest.raises(ConfigError) as raised:
        load_platform_config("dev", flat)
    assert raised.value.problems == ["data: must be a mapping"]
