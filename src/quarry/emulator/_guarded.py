"""Guardrails on Bedrock's surfaces: ApplyGuardrail, Converse's `guardrailConfig`, and InvokeModel's guardrail
headers, each in Bedrock's own shapes.

Sources: botocore's bedrock-runtime service model (ApplyGuardrailRequest/Response, GuardrailConfiguration,
GuardrailStreamConfiguration, ConverseTrace.guardrail = GuardrailTraceAssessment, the InvokeModel headers
X-Amzn-Bedrock-GuardrailIdentifier / -GuardrailVersion / -Trace); AWS's user guide pages guardrails-use-converse-api
(trace, stopReason `guardrail_intervened`), guardrails-streaming (sync and async processing; no masking in async
mode) and API_runtime_InvokeModelWithResponseStream (the `amazon-bedrock-guardrailConfig` body field needs the
identifier header). InvokeModel's answer carries `amazon-bedrock-guardrailAction` (INTERVENED or NONE) and, with
the trace header, `amazon-bedrock-trace.guardrail` with `input` and `outputs` assessments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quarry.emulator._conversation import Conversation
from quarry.emulator._directives import strip_directives
from quarry.emulator._errors import ResourceNotFoundException, ValidationException
from quarry.emulator._guardrails import Guardrail, GuardrailBook, Verdict, judge
from quarry.emulator._responder import Block, Reply

__all__ = ["Guard", "apply_guardrail", "converse_guard", "invoke_guard"]

_INVOKE_CONFIG = "amazon-bedrock-guardrailConfig"


@dataclass(slots=True)
class Guard:
    """One call's guardrail: which, whether its trace is asked (`enabled_full` also shows the model's output), and
    whether a stream is judged before it is sent (sync) or while it goes (async)."""

    guardrail: Guardrail
    trace: str = "disabled"  # disabled | enabled | enabled_full
    sync: bool = True
    invoke: bool = False  # InvokeModel's shapes rather than Converse's
    input: Verdict | None = None
    output: Verdict | None = None
    model_output: list[str] | None = None

    def check_input(self, conversation: Conversation) -> Reply | None:
        """Judge the conversation's texts (its `[[emulator: …]]` directives left out). Blocked: the reply that
        replaces the model's; masked: the model gets the masked texts."""
        places = [(m, b) for m in conversation.messages for b in m["content"] if isinstance(b.get("text"), str)]
        self.input = judge(self.guardrail, [strip_directives(block["text"]) for _, block in places])
        if self.input.blocked:
            return _blocked(self.guardrail.message("INPUT"), invoke=self.invoke)
        if self.input.masked:
            for (_, block), text in zip(places, self.input.texts, strict=True):
                block["text"] = text
        return None

    def check_output(self, reply: Reply) -> Reply:
        """Judge the model's text; blocked or masked, the reply as the guardrail lets it out."""
        texts = [block for block in reply.blocks if block.kind == "text"]
        self.model_output = [block.text for block in texts]
        self.output = judge(self.guardrail, self.model_output, anonymize=self.sync)
        if self.output.blocked:
            blocked = _blocked(self.guardrail.message("OUTPUT"), invoke=self.invoke)
            blocked.input_tokens, blocked.output_tokens = reply.input_tokens, reply.output_tokens
            return blocked
        if self.output.masked:
            for block, text in zip(texts, self.output.texts, strict=True):
                block.text = text
            if not self.invoke:
                reply.stop_reason = "guardrail_intervened"
        return reply

    @property
    def intervened(self) -> bool:
        return any(v is not None and v.intervened for v in (self.input, self.output))

    def converse_trace(self) -> dict[str, Any] | None:
        """ConverseTrace with its `guardrail` (GuardrailTraceAssessment), when the trace was asked."""
        if self.trace == "disabled":
            return None
        assessment: dict[str, Any] = {}
        if self.trace == "enabled_full" and self.model_output is not None:
            assessment["modelOutput"] = self.model_output
        if self.input is not None:
            assessment["inputAssessment"] = {self.guardrail.id: self.input.assessment}
        if self.output is not None:
            assessment["outputAssessments"] = {self.guardrail.id: [self.output.assessment]}
        blocking = next((v for v in (self.input, self.output) if v is not None and v.intervened), None)
        if blocking is not None:
            assessment["actionReason"] = blocking.reason
        return {"guardrail": assessment}

    def invoke_fields(self) -> dict[str, Any]:
        """The fields InvokeModel adds to the model's answer (and a stream to its last chunk)."""
        fields: dict[str, Any] = {"amazon-bedrock-guardrailAction": "INTERVENED" if self.intervened else "NONE"}
        if self.trace != "disabled":
            trace: dict[str, Any] = {}
            if self.input is not None:
                trace["input"] = {self.guardrail.id: self.input.assessment}
            if self.output is not None:
                trace["outputs"] = [{self.guardrail.id: self.output.assessment}]
            if self.trace == "enabled_full" and self.model_output is not None:
                trace["modelOutput"] = self.model_output
            fields["amazon-bedrock-trace"] = {"guardrail": trace}
        return fields


def _blocked(message: str, *, invoke: bool) -> Reply:
    # The guardrail's message answers instead of the model; InvokeModel keeps the model's own vocabulary and says
    # what happened in `amazon-bedrock-guardrailAction`.
    reason = "end_turn" if invoke else "guardrail_intervened"
    return Reply([Block("text", message)], reason, input_tokens=0, output_tokens=0)


def converse_guard(book: GuardrailBook, body: dict[str, Any], *, streaming: bool) -> Guard | None:
    """The guard of a Converse body's `guardrailConfig` (removed from the body), or None without one."""
    config = body.pop("guardrailConfig", None)
    if config is None:
        return None
    if not isinstance(config, dict):
        raise ValidationException("guardrailConfig must be a JSON object.")
    allowed = {"guardrailIdentifier", "guardrailVersion", "trace"} | ({"streamProcessingMode"} if streaming else set())
    if unknown := sorted(set(config) - allowed):
        raise ValidationException(f"guardrailConfig: unknown field(s) {', '.join(unknown)}.")
    trace = str(config.get("trace", "disabled"))
    if trace not in ("enabled", "disabled", "enabled_full"):
        raise _enum("guardrailConfig.trace", trace, "[enabled, disabled, enabled_full]")
    mode = str(config.get("streamProcessingMode", "sync"))
    if mode not in ("sync", "async"):
        raise _enum("guardrailConfig.streamProcessingMode", mode, "[sync, async]")
    identifier = str(config.get("guardrailIdentifier", ""))
    guardrail = book.find(identifier, str(config.get("guardrailVersion", "")))
    return Guard(guardrail, trace, sync=mode == "sync")


def invoke_guard(book: GuardrailBook, headers: dict[str, str], body: dict[str, Any]) -> Guard | None:
    """The guard of InvokeModel's headers (and the body's `amazon-bedrock-guardrailConfig`, removed from it)."""
    identifier = headers.get("x-amzn-bedrock-guardrailidentifier", "")
    config = body.pop(_INVOKE_CONFIG, None)
    if not identifier:
        if config is not None:
            raise ValidationException(
                f"{_INVOKE_CONFIG} is present in the request body but no guardrail identifier was provided."
            )
        return None
    version = headers.get("x-amzn-bedrock-guardrailversion", "")
    if not version:
        raise ValidationException("Guardrail version is required when a guardrail identifier is provided.")
    trace = headers.get("x-amzn-bedrock-trace", "DISABLED").upper()
    if trace not in ("ENABLED", "DISABLED", "ENABLED_FULL"):
        raise _enum("trace", trace, "[ENABLED, DISABLED, ENABLED_FULL]")
    mode = str((config or {}).get("streamProcessingMode", "SYNCHRONOUS")).upper()
    if mode not in ("SYNCHRONOUS", "ASYNCHRONOUS"):
        raise _enum(f"{_INVOKE_CONFIG}.streamProcessingMode", mode, "[SYNCHRONOUS, ASYNCHRONOUS]")
    guardrail = book.find(identifier, version)
    return Guard(guardrail, trace.lower(), sync=mode == "SYNCHRONOUS", invoke=True)


def apply_guardrail(book: GuardrailBook, identifier: str, version: str, body: Any) -> dict[str, Any]:
    """ApplyGuardrail: the text blocks of `content` judged as `source` (INPUT or OUTPUT)."""
    if not isinstance(body, dict):
        raise ValidationException("The request body must be a JSON object.")
    guardrail = book.find(identifier, version, missing=ResourceNotFoundException)
    source = body.get("source")
    if source not in ("INPUT", "OUTPUT"):
        raise _enum("source", str(source), "[INPUT, OUTPUT]")
    scope = body.get("outputScope", "INTERVENTIONS")
    if scope not in ("INTERVENTIONS", "FULL"):
        raise _enum("outputScope", str(scope), "[INTERVENTIONS, FULL]")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise ValidationException(
            "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null"
        )
    texts = []
    for index, block in enumerate(content):
        text = block.get("text") if isinstance(block, dict) else None
        if not isinstance(text, dict) or not isinstance(text.get("text"), str):
            raise ValidationException(f"content.{index}: the emulator's guardrails judge text blocks only.")
        texts.append(strip_directives(text["text"]))  # the emulator's own controls are never judged
    verdict = judge(guardrail, texts)
    if verdict.blocked:
        outputs = [{"text": guardrail.message(str(source))}]
    elif verdict.masked or scope == "FULL":
        outputs = [{"text": text} for text in verdict.texts]
    else:
        outputs = []
    return {
        "usage": verdict.usage,
        "action": verdict.action,
        "actionReason": verdict.reason,
        "outputs": outputs,
        "assessments": [verdict.assessment],
        "guardrailCoverage": verdict.coverage,
    }


def _enum(field: str, value: str, allowed: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {allowed}"
    )
