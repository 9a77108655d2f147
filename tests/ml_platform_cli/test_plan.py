"""``ml-platform plan``: the real dev stack planned offline, its diff, and usage errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml_platform_cli import plan as plan_module
from ml_platform_cli.main import main
from tests.ml_platform_cli.cli_runner import ROOT, run_cli

#: The dev stack file the plan tests start from.
DEV_STACK = ROOT / "Pulumi.dev.yaml"


def edited_dev_stack(tmp_path: Path) -> Path:
    """A copy of Pulumi.dev.yaml with an update, a replacement and an addition in it."""
    text = DEV_STACK.read_text(encoding="utf-8")
    edits = {
        "deletion_window_days: 7": "deletion_window_days: 10",  # KMS key: updated in place
        "flow_log_traffic: REJECT": "flow_log_traffic: ALL",  # flow log: replaced
        "names: [training, serving, mlflow]": "names: [training, serving, mlflow, extra]",
    }
    for before, after in edits.items():
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    path = tmp_path / "Pulumi.dev-edited.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_diff_follows_the_stack_file_from_plan_to_plan(tmp_path: Path) -> None:
    """The integration test: three offline plans of the dev stack (5 s or more each)."""
    # given no previous plan in the output folder
    out = tmp_path / "plan"
    # when
    first = run_cli("plan", "--out", str(out), "--diff", "--json")
    # then everything is added and the plan is written
    assert first.exit_code == 0, first.stderr
    document = first.json()
    assert document["previous"] is None
    assert document["plan_file"] == str(out / "dev.json")
    assert (out / "dev.json").is_file()
    assert len(document["diff"]["added"]) > 100
    assert document["diff"]["changed"] == document["diff"]["deleted"] == []

    # when the same stack is planned again
    again = run_cli("plan", "--out", str(out), "--diff", "--exit-code")
    # then nothing changed: exit 0
    assert again.exit_code == 0, again.stderr
    assert "no changes" in again.stdout
    assert "+ 0 to create, ~ 0 to update, +- 0 to replace, - 0 to delete" in again.stdout

    # when an edited copy of the stack file is planned against it
    edited = run_cli(
        "plan",
        "--out",
        str(out),
        "--config-file",
        str(edited_dev_stack(tmp_path)),
        "--diff",
        "--exit-code",
        "--json",
    )
    # then the update, the replacement and the additions are listed, and the exit code is 3
    assert edited.exit_code == 3, edited.stderr
    diff = edited.json()["diff"]
    assert [(c["name"], c["paths"]) for c in diff["changed"]] == [
        ("mlp-dev-key", ["deletionWindowInDays"])
    ]
    assert [(c["name"], c["replace_paths"]) for c in diff["replaced"]] == [
        ("mlp-dev-network-flow-log", ["trafficType"])
    ]
    assert sorted(c["name"] for c in diff["added"]) == [
        "mlp-dev-images-extra",
        "mlp-dev-images-extra-lifecycle",
    ]
    assert diff["deleted"] == []


def test_an_unknown_layer_is_exit_2_naming_the_valid_ones(tmp_path: Path) -> None:
    # when
    run = run_cli("plan", "--out", str(tmp_path), "--layer", "servng")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: unknown layer 'servng' for --layer (valid: data, feature_store, "
        "training, gpu, serving, monitoring, kubernetes, optimization)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_exit_code_without_diff_is_a_usage_error(tmp_path: Path) -> None:
    # when
    run = run_cli("plan", "--out", str(tmp_path), "--exit-code")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: --exit-code needs --diff (it reports whether the diff is empty)\n"
    )


def test_a_missing_stack_file_names_the_stacks_there(tmp_path: Path) -> None:
    # when
    run = run_cli("plan", "--stack", "qa", "--out", str(tmp_path))
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: no stack config Pulumi.qa.yaml (stacks here: dev, prod)\n"
    )


def test_a_config_error_keeps_the_plans_message_and_writes_nothing(tmp_path: Path) -> None:
    # given a stack file whose KMS deletion window is out of range
    text = DEV_STACK.read_text(encoding="utf-8").replace(
        "deletion_window_days: 7", "deletion_window_days: 3"
    )
    config = tmp_path / "bad.yaml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "plan"
    # when
    run = run_cli("plan", "--config-file", str(config), "--out", str(out))
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        f"ml-platform: error: {config}: invalid config for stack 'dev' (1 problem):\n"
        "  - data.kms.deletion_window_days: must be >= 7\n"
    )
    assert not out.exists()


def test_help_shows_examples() -> None:
    # when
    run = run_cli("plan", "--help")
    # then
    assert run.exit_code == 0
    assert "\n  Examples:\n    ml-platform plan   " in run.stdout
    assert "\n    ml-platform plan --diff --exit-code --json   " in run.stdout


def fake_run(stack: str) -> Any:
    """A two-layer plan run, as the mock runtime records it (in-process: no program runs)."""
    from stacks.offline.mock_runtime import PlanRun, RecordedResource

    def resource(
        urn: str, type_: str, name: str, parent: str | None, inputs: dict[str, Any] | None = None
    ) -> Any:
        return RecordedResource(
            urn=urn,
            type=type_,
            name=name,
            parent=parent,
            custom=bool(parent),
            provider=None,
            inputs=inputs or {},
            protect=False,
            retain_on_delete=False,
            delete_before_replace=False,
            ignore_changes=[],
            depends_on=[],
        )

    data = f"urn:pulumi:{stack}::ml-platform::mlplatform:data:DataLayer::data"
    serving = f"urn:pulumi:{stack}::ml-platform::mlplatform:serving:ServingLayer::serving"
    return PlanRun(
        stack,
        [
            resource(data, "mlplatform:data:DataLayer", "data", None),
            resource(f"{data}-key", "aws:kms/key:Key", "mlp-dev-key", data),
            resource(serving, "mlplatform:serving:ServingLayer", "serving", None),
            resource(
                f"{serving}-t", "aws:sns/topic:Topic", "mlp-dev-alerts", serving, {"name": "a"}
            ),
        ],
        {"environment": stack, "layers": ["data", "serving"]},
    )


def test_layer_restricts_the_tree_and_json_the_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a small recorded run instead of the program (in-process)
    monkeypatch.setattr(plan_module, "_run_plan", lambda stack, config_path: fake_run(stack))
    out = tmp_path / "plan"
    # when
    tree_status = main(["plan", "--out", str(out), "--layer", "serving", "--layer", "gpu"])
    tree = capsys.readouterr().out
    json_status = main(["plan", "--out", str(out), "--layer", "data", "--json"])
    summary = json.loads(capsys.readouterr().out)
    # then
    assert (tree_status, json_status) == (0, 0)
    assert "note: stack 'dev' does not deploy layer 'gpu' (ml-platform:layers)" in tree
    assert "aws:sns/topic:Topic  mlp-dev-alerts   name=a" in tree
    assert "mlp-dev-key" not in tree
    assert summary["resources"] == 2
    assert summary["by_type"] == {"aws:kms/key:Key": 1, "mlplatform:data:DataLayer": 1}
    assert summary["plan_file"] == str(out / "dev.json")


def test_diff_marks_a_deleted_stateful_resource_and_respects_layers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a previous plan that also had an ECR repository in the serving layer, and a topic
    # whose name input was different
    monkeypatch.setattr(plan_module, "_run_plan", lambda stack, config_path: fake_run(stack))
    out = tmp_path / "plan"
    previous = fake_run("dev").as_json()
    serving = previous["resources"][2]["urn"]
    repository = {
        **previous["resources"][3],
        "urn": f"{serving}-repo",
        "type": "aws:ecr/repository:Repository",
        "name": "mlp-dev-images",
        "inputs": {"name": "mlp-dev-images"},
    }
    previous["resources"][3]["inputs"] = {"name": "b"}
    previous["resources"].append(repository)
    out.mkdir()
    (out / "dev.json").write_text(json.dumps(previous), encoding="utf-8")
    # when
    status = main(["plan", "--out", str(out), "--diff", "--exit-code", "--layer", "serving"])
    # then
    lines = capsys.readouterr().out.splitlines()
    assert status == 3
    assert lines == [
        "Offline plan diff of stack 'dev' (layers: serving)",
        "",
        "replaced (1):",
        "  +- aws:sns/topic:Topic  mlp-dev-alerts  forces replacement: name",
        "",
        "deleted (1):",
        "! -  aws:ecr/repository:Repository  mlp-dev-images  (stateful)",
        "",
        "Resources: + 0 to create, ~ 0 to update, +- 1 to replace, - 1 to delete, 1 unchanged",
        "! 1 stateful resource replaced or deleted: data or identity is lost (check with "
        "`pulumi preview`)",
        f"wrote {out / 'dev.json'}",
    ]
