"""Bedrock's own API (bedrock-runtime and the `bedrock` client's model listings), relayed behind team keys: boto3
and every AWS SDK, the AWS CLI, AnthropicBedrock and Claude Code's Bedrock mode use Quarry as their endpoint."""

from quarry.api.bedrock._errors import error_response
from quarry.api.bedrock._routes import PATH_PREFIXES, PREFIX, routes

__all__ = ["PATH_PREFIXES", "PREFIX", "error_response", "routes"]
