"""The generated configuration reference: docs/configuration.md is the config models' output."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from stacks.config import PlatformConfig
from stacks.configuration_reference import (
    PAGE,
    REGENERATE,
    attribute_docstrings,
    main,
    render,
    rows,
    type_words,
)
from tests.conftest import ROOT


def test_the_committed_page_is_what_the_models_generate() -> None:
    # given the committed page / when the models render it again / then the two are the same
    committed = (ROOT / PAGE).read_text()
    assert committed == render(), f"{PAGE} is out of date with the config models; run: {REGENERATE}"


def test_every_key_has_a_row_with_its_docstring() -> None:
    # given every key reachable from PlatformConfig
    found = list(rows(PlatformConfig, ""))
    # then each has a description, and the layers' sections are all there
    assert [row.path for row in found if not row.description] == []
    top = {row.path.split(".")[0].split("[")[0] for row in found}
    assert top == set(PlatformConfig.model_fields)
    page = render()
    for key in ("aws:region", "ml-platform:serving.endpoints[].variants[].weight"):
        assert f"| `{key}` |" in page


class _Inner(BaseModel):
    size: int = Field(default=3, ge=1, le=9)
    """How big."""


class _Outer(BaseModel):
    mode: Literal["a", "b"] = "a"
    """Which mode."""
    items: tuple[_Inner, ...] = ()
    """The items; each one is an inner."""
    named: dict[str, _Inner] = {}
    """Inners by name."""


def test_rows_walk_lists_and_maps_with_bounds_defaults_and_docstrings() -> None:
    # given a model holding a list and a map of another model
    # when its rows are listed
    found = [(row.path, row.type, row.default, row.description) for row in rows(_Outer, "x")]
    # then each nested key has its path, type with bounds, default and docstring
    assert found == [
        ("x.mode", "'a' | 'b'", "`a`", "Which mode."),
        ("x.items", "list of mapping", "`[]`", "The items; each one is an inner."),
        ("x.items[].size", "int, >= 1, <= 9", "`3`", "How big."),
        ("x.named", "map of str to mapping", "`{}`", "Inners by name."),
        ("x.named.<name>.size", "int, >= 1, <= 9", "`3`", "How big."),
    ]


def test_docstrings_are_read_from_the_class_and_its_bases() -> None:
    class Child(_Inner):
        extra: bool = False
        """A flag."""

    assert attribute_docstrings(Child) == {"size": "How big.", "extra": "A flag."}


def test_type_words_for_optional_values() -> None:
    assert type_words(int | None) == "int | null"


def test_check_fails_on_a_stale_page_and_names_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a page that is out of date
    (tmp_path / "docs").mkdir()
    (tmp_path / PAGE).write_text("# old\n")
    # when it is checked / then the check fails with the command that regenerates it
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: {PAGE} is out of date with the config models; run: {REGENERATE}\n"
    )
    # and after --write the check passes
    assert main(["--write", "--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    assert (tmp_path / PAGE).read_text() == render()


def test_a_missing_page_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given no docs folder / when checked or written / then one line names the file
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot read {tmp_path / PAGE}: No such file or directory; run: {REGENERATE}\n"
    )
    assert main(["--write", "--root", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot write {tmp_path / PAGE}: No such file or directory\n"
    )
