"""The bootstrap key: from `QUARRY_API_KEY`, or read at start-up from Secrets Manager or SSM Parameter Store
(SecureString), through botocore's credential chain and endpoint resolution (AWS_ENDPOINT_URL_SECRETS_MANAGER,
AWS_ENDPOINT_URL_SSM)."""

from __future__ import annotations

import orjson

from quarry.settings import Settings

__all__ = ["bootstrap_key"]

_JSON_FIELDS = ("api_key", "QUARRY_API_KEY", "key")


def _from_secret(text: str) -> str:
    """A secret is the key itself, or a JSON object holding it (`{"api_key": "…"}`), as the console makes them."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.strip()
    if isinstance(value, dict):
        for field in _JSON_FIELDS:
            if isinstance(value.get(field), str):
                return str(value[field]).strip()
        raise RuntimeError(f"the secret is a JSON object without any of {', '.join(_JSON_FIELDS)}")
    return text.strip()


async def bootstrap_key(settings: Settings) -> str | None:
    if settings.api_key is not None:
        return settings.api_key.get_secret_value() or None
    if not (settings.api_key_secret_id or settings.api_key_ssm_parameter):
        return None
    # Imported here: `quarry.auth` exports this, and `quarry keys` should not load aiobotocore to list keys.
    from aiobotocore.session import get_session

    session = get_session()
    region = session.get_config_variable("region") or settings.region
    if settings.api_key_secret_id:
        async with session.create_client("secretsmanager", region_name=region) as client:
            answer = await client.get_secret_value(SecretId=settings.api_key_secret_id)
        return _from_secret(answer["SecretString"]) or None
    async with session.create_client("ssm", region_name=region) as client:
        answer = await client.get_parameter(Name=settings.api_key_ssm_parameter, WithDecryption=True)
    return str(answer["Parameter"]["Value"]).strip() or None
