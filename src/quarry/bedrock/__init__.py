"""The only code that talks to AWS: the async runtime client, the control plane, the model catalog and
Bedrock Knowledge Bases (bedrock-agent-runtime), and the typed Converse and Messages shapes."""

from quarry.bedrock import _converse_shapes, _guardrail_shapes, _messages_shapes
from quarry.bedrock._agent import BedrockAgentRuntime
from quarry.bedrock._attempts import Attempt, AttemptHook, AttemptWatch
from quarry.bedrock._aws import AwsTarget, resolve_aws
from quarry.bedrock._backend import Backend
from quarry.bedrock._breaker import Breakers, CircuitOpen, CircuitState, CircuitView
from quarry.bedrock._catalog import ModelCatalog, ModelEntry, ModelSource, ResolvedModel, claude_models
from quarry.bedrock._control import BedrockControl
from quarry.bedrock._converse_shapes import *  # noqa: F403  # the shapes are listed once, in their module's __all__
from quarry.bedrock._embedding import COHERE_BATCH, CohereInput, embed_cohere, embed_titan, embedding_family
from quarry.bedrock._errors import error_from_messages, is_retryable
from quarry.bedrock._facts import ModelFacts, base_model_id, facts_for, known_model_ids
from quarry.bedrock._guardrail_shapes import *  # noqa: F403  # likewise
from quarry.bedrock._guardrail_usage import trace_units, usage_units
from quarry.bedrock._messages_shapes import *  # noqa: F403  # likewise
from quarry.bedrock._relay import Frame, Relayed, model_path, relay, relayed_headers
from quarry.bedrock._retry import deadline_within
from quarry.bedrock._runtime import TIER_HEADER, BedrockRuntime, Invocation, tier_header
from quarry.bedrock._signing import BearerTokenSigner, RequestSigner, SigV4Signer, StaticCredentials
from quarry.bedrock._sse import ServerSentEvent, split_events

__all__ = [
    "COHERE_BATCH",
    "TIER_HEADER",
    "Attempt",
    "AttemptHook",
    "AttemptWatch",
    "AwsTarget",
    "Backend",
    "BearerTokenSigner",
    "BedrockAgentRuntime",
    "BedrockControl",
    "BedrockRuntime",
    "Breakers",
    "CircuitOpen",
    "CircuitState",
    "CircuitView",
    "CohereInput",
    "Frame",
    "Invocation",
    "ModelCatalog",
    "ModelEntry",
    "ModelFacts",
    "ModelSource",
    "Relayed",
    "RequestSigner",
    "ResolvedModel",
    "ServerSentEvent",
    "SigV4Signer",
    "StaticCredentials",
    "base_model_id",
    "claude_models",
    "deadline_within",
    "embed_cohere",
    "embed_titan",
    "embedding_family",
    "error_from_messages",
    "facts_for",
    "is_retryable",
    "known_model_ids",
    "model_path",
    "relay",
    "relayed_headers",
    "resolve_aws",
    "split_events",
    "tier_header",
    "trace_units",
    "usage_units",
]
__all__ += _converse_shapes.__all__
__all__ += _messages_shapes.__all__
__all__ += _guardrail_shapes.__all__
