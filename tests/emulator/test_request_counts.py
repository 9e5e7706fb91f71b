"""The emulator counts the calls it receives by AWS operation, so gateway tests can assert that a refused request
never reached Bedrock."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.emulator import EmulatorApp
from tests.emulator.conftest import HAIKU, client, user


def test_each_operation_is_counted_under_its_aws_name(serve: Any) -> None:
    app = EmulatorApp()
    url = serve(app).url
    runtime, bedrock = client("bedrock-runtime", url), client("bedrock", url)
    try:
        assert app.requests.total == 0
        runtime.converse(modelId=HAIKU, messages=[user("Hi")])
        runtime.converse(modelId=HAIKU, messages=[user("Hi again")])
        bedrock.list_foundation_models()
        bedrock.get_foundation_model(modelIdentifier=HAIKU)
        with pytest.raises(runtime.exceptions.ValidationException):  # refused calls are calls too
            runtime.converse(modelId="no.such-model-v1:0", messages=[user("Hi")])
    finally:
        runtime.close()
        bedrock.close()
    assert dict(app.requests.by_operation) == {"Converse": 3, "ListFoundationModels": 1, "GetFoundationModel": 1}
    assert app.requests.total == 5
