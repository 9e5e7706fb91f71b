"""Both templates pass cfn-lint (the same checks as `cfn-lint deploy/aws/*.yaml`) with no error and no warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import lint_file

from tests.deploy._cfn import TEMPLATES


@pytest.mark.parametrize("name", ["lambda.yaml", "ecs-fargate.yaml"])
def test_template_passes_cfn_lint(name: str) -> None:
    matches = lint_file(TEMPLATES / name)
    assert [f"{m.rule.id} {m.linenumber}: {m.message}" for m in matches] == []


def test_cfn_lint_finds_errors_in_a_broken_template(tmp_path: Path) -> None:
    """The check above can fail: a listener on an unknown protocol is reported."""
    broken = tmp_path / "broken.yaml"
    text = (TEMPLATES / "ecs-fargate.yaml").read_text().replace("Protocol: HTTPS\n", "Protocol: HTTPZ\n", 1)
    broken.write_text(text)
    assert any(m.rule.id.startswith("E") for m in lint_file(broken))
