"""Secrets Manager GetSecretValue and SSM GetParameter (awsJson1.1, `X-Amz-Target`), so that reading Quarry's
bootstrap key at start-up is tested through botocore as it runs against AWS."""

from __future__ import annotations

import time
from typing import Any

from quarry.emulator._catalog import ACCOUNT_ID
from quarry.emulator._errors import BedrockError, ValidationException

__all__ = ["SECRETS_TARGETS", "secret_call"]

SECRETS_TARGETS = ("secretsmanager.GetSecretValue", "AmazonSSM.GetParameter")


class ResourceNotFoundException(BedrockError):
    status = 400
    default_message = "Secrets Manager can't find the specified secret."


class ParameterNotFound(BedrockError):
    status = 400
    default_message = "The parameter was not found."


def secret_call(
    target: str, request: dict[str, Any], secrets: dict[str, str], parameters: dict[str, str], region: str
) -> dict[str, Any]:
    if target == "secretsmanager.GetSecretValue":
        secret_id = str(request.get("SecretId", ""))
        name = secret_id.rsplit(":secret:", 1)[-1]
        if name not in secrets:
            raise ResourceNotFoundException()
        arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}"
        return {
            "ARN": arn, "Name": name, "VersionId": "00000000-0000-0000-0000-000000000001",
            "SecretString": secrets[name], "VersionStages": ["AWSCURRENT"], "CreatedDate": time.time(),
        }  # fmt: skip
    name = str(request.get("Name", ""))
    if name not in parameters:
        raise ParameterNotFound()
    if not request.get("WithDecryption"):
        raise ValidationException("Quarry's emulator stores SecureString parameters only: ask WithDecryption.")
    arn = f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}"
    parameter = {"Name": name, "Type": "SecureString", "Value": parameters[name], "Version": 1, "ARN": arn}
    return {"Parameter": parameter | {"DataType": "text", "LastModifiedDate": time.time()}}
