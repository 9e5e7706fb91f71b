"""Guardrails as the emulator keeps them: defined in its config (denied topics by phrase, word filters, sensitive
information by pattern with BLOCK or ANONYMIZE), looked up by id and version, and run over texts into Bedrock's
GuardrailAssessment shape (botocore's bedrock-runtime service model, 2023-09-30).

What Bedrock does with a model's own classifiers (content filters, prompt attacks, grounding) has no offline
equivalent and is left out; the policies here are the ones whose verdict is a matter of matching text.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from quarry.emulator._errors import ValidationException

__all__ = ["Guardrail", "GuardrailBook", "Verdict", "judge", "parse_guardrails"]

Action = Literal["BLOCK", "ANONYMIZE"]

# The patterns used for a PII entity type given without one: a few common types, close enough for offline tests.
_BUILTIN_PII = {
    "EMAIL": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "PHONE": r"\+?\d[\d -]{7,}\d",
    "US_SOCIAL_SECURITY_NUMBER": r"\b\d{3}-\d{2}-\d{4}\b",
    "CREDIT_DEBIT_CARD_NUMBER": r"\b(?:\d[ -]?){13,16}\b",
    "IP_ADDRESS": r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
}
# GuardrailVersion's pattern in the service model (an empty version is the same as none).
_VERSION = re.compile(r"^(|([1-9][0-9]{0,7})|(DRAFT))$")
_ARN = re.compile(r"^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/(?P<id>[a-z0-9]+)$")
_NOT_FOUND = "The guardrail identifier or version provided in the request does not exist."
_UNITS = 1000  # characters per billed text unit (Bedrock's pricing page)


@dataclass(frozen=True, slots=True)
class DeniedTopic:
    name: str
    phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SensitiveRule:
    """A PII entity type (`type`, in piiEntities) or a named regex (`name`, in regexes)."""

    pattern: re.Pattern[str]
    action: Action
    type: str | None = None
    name: str | None = None

    def mask(self) -> str:
        # Bedrock replaces anonymized matches by the entity type or regex name in braces.
        return "{" + (self.type or self.name or "REDACTED") + "}"


@dataclass(frozen=True, slots=True)
class Guardrail:
    id: str
    versions: tuple[str, ...] = ("DRAFT",)
    blocked_input_message: str = "Sorry, the model cannot answer this question."
    blocked_output_message: str = "Sorry, the model cannot answer this question."
    topics: tuple[DeniedTopic, ...] = ()
    words: tuple[str, ...] = ()
    sensitive: tuple[SensitiveRule, ...] = ()

    def message(self, source: str) -> str:
        return self.blocked_input_message if source == "INPUT" else self.blocked_output_message


@dataclass(slots=True)
class Verdict:
    """A guardrail's judgement of some texts: whether it blocked or masked, the texts as they leave it, and the
    assessment (Bedrock's GuardrailAssessment, with invocationMetrics) that the traces and ApplyGuardrail show."""

    blocked: bool = False
    masked: bool = False
    texts: list[str] = field(default_factory=list)
    assessment: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def intervened(self) -> bool:
        return self.blocked or self.masked

    @property
    def action(self) -> str:
        return "GUARDRAIL_INTERVENED" if self.intervened else "NONE"

    @property
    def reason(self) -> str:
        return "Guardrail blocked." if self.blocked else "Guardrail masked." if self.masked else "No action."


class GuardrailBook:
    """The emulator's guardrails by id; `find` resolves an identifier (id or ARN) and version as Bedrock does."""

    def __init__(self, guardrails: Mapping[str, Guardrail] | None = None) -> None:
        self.guardrails = dict(guardrails or {})

    def find(self, identifier: str, version: str, *, missing: type[Exception] = ValidationException) -> Guardrail:
        """The guardrail, or `missing` (Bedrock answers the model calls with a ValidationException, ApplyGuardrail
        with ResourceNotFoundException); a malformed version is a ValidationException naming the constraint."""
        if not _VERSION.match(version):
            raise ValidationException(
                f"1 validation error detected: Value '{version}' at 'guardrailVersion' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: (([1-9][0-9]{0,7})|(DRAFT))"
            )
        arn = _ARN.match(identifier)
        guardrail = self.guardrails.get(arn.group("id") if arn else identifier)
        if guardrail is None or (version or "DRAFT") not in guardrail.versions:
            raise missing(_NOT_FOUND)
        return guardrail


def judge(guardrail: Guardrail, texts: Sequence[str], *, anonymize: bool = True) -> Verdict:
    """Run the guardrail's policies over the texts. `anonymize=False` reports sensitive matches without masking
    them, as Bedrock does in a stream's asynchronous mode (guardrails-streaming.html)."""
    started = time.perf_counter()
    topics: list[dict[str, Any]] = []
    words: list[dict[str, Any]] = []
    pii: list[dict[str, Any]] = []
    regexes: list[dict[str, Any]] = []
    blocked = masked = False
    out: list[str] = []
    for text in texts:
        lowered = text.lower()
        for topic in guardrail.topics:
            if any(phrase.lower() in lowered for phrase in topic.phrases) and not any(
                t["name"] == topic.name for t in topics
            ):
                topics.append({"name": topic.name, "type": "DENY", "action": "BLOCKED", "detected": True})
                blocked = True
        for word in guardrail.words:
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE):
                words.append({"match": word, "action": "BLOCKED", "detected": True})
                blocked = True
        for rule in guardrail.sensitive:
            for match in rule.pattern.finditer(text):
                action = "BLOCKED" if rule.action == "BLOCK" else "ANONYMIZED" if anonymize else "NONE"
                blocked |= action == "BLOCKED"
                masked |= action == "ANONYMIZED"
                found = {"match": match.group(0), "action": action, "detected": True}
                if rule.type:
                    pii.append({**found, "type": rule.type})
                else:
                    regexes.append({**found, "name": rule.name, "regex": rule.pattern.pattern})
            if rule.action == "ANONYMIZE" and anonymize:
                text = rule.pattern.sub(rule.mask(), text)
        out.append(text)
    characters = sum(len(text) for text in texts)
    units = math.ceil(characters / _UNITS) if characters else 0
    usage = {
        "topicPolicyUnits": units if guardrail.topics else 0,
        "contentPolicyUnits": 0,
        "wordPolicyUnits": units if guardrail.words else 0,
        "sensitiveInformationPolicyUnits": units if any(r.type for r in guardrail.sensitive) else 0,
        "sensitiveInformationPolicyFreeUnits": units if any(r.name for r in guardrail.sensitive) else 0,
        "contextualGroundingPolicyUnits": 0,
    }
    coverage = {"textCharacters": {"guarded": characters, "total": characters}}
    assessment: dict[str, Any] = {}
    if topics:
        assessment["topicPolicy"] = {"topics": topics}
    if words:
        assessment["wordPolicy"] = {"customWords": words, "managedWordLists": []}
    if pii or regexes:
        assessment["sensitiveInformationPolicy"] = {"piiEntities": pii, "regexes": regexes}
    latency = int((time.perf_counter() - started) * 1000)
    assessment["invocationMetrics"] = {
        "guardrailProcessingLatency": latency,
        "usage": usage,
        "guardrailCoverage": coverage,
    }
    return Verdict(blocked, masked, out, assessment, usage, coverage)


def parse_guardrails(raw: Sequence[Mapping[str, Any] | Guardrail]) -> GuardrailBook:
    """Guardrails from the emulator's config (`[[emulator.guardrails]]` tables); a bad entry is a ValueError that
    names it."""
    found: dict[str, Guardrail] = {}
    for index, entry in enumerate(raw):
        guardrail = entry if isinstance(entry, Guardrail) else _guardrail(entry, f"emulator.guardrails[{index}]")
        found[guardrail.id] = guardrail
    return GuardrailBook(found)


def _guardrail(entry: Mapping[str, Any], where: str) -> Guardrail:
    known = {"id", "versions", "blocked_input_message", "blocked_output_message", "denied_topics", "words", "pii"}
    if unknown := sorted(set(entry) - known):
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    guardrail_id = entry.get("id")
    if not isinstance(guardrail_id, str) or not re.fullmatch(r"[a-z0-9]+", guardrail_id):
        raise ValueError(f"{where}.id must be lower-case letters and digits, as Bedrock's guardrail ids are")
    versions = tuple(str(v) for v in entry.get("versions", ("DRAFT",)))
    if bad := [v for v in versions if not v or not _VERSION.match(v)]:
        raise ValueError(f"{where}.versions: {bad[0]!r} is not DRAFT or a number from 1")
    topics = tuple(
        DeniedTopic(str(topic["name"]), tuple(str(p) for p in topic.get("phrases", ())))
        for topic in entry.get("denied_topics", ())
    )
    sensitive = tuple(_sensitive(rule, f"{where}.pii[{i}]") for i, rule in enumerate(entry.get("pii", ())))
    defaults = Guardrail(guardrail_id)
    return Guardrail(
        guardrail_id,
        versions,
        str(entry.get("blocked_input_message", defaults.blocked_input_message)),
        str(entry.get("blocked_output_message", defaults.blocked_output_message)),
        topics,
        tuple(str(word) for word in entry.get("words", ())),
        sensitive,
    )


def _sensitive(rule: Mapping[str, Any], where: str) -> SensitiveRule:
    action = str(rule.get("action", "BLOCK")).upper()
    if action not in ("BLOCK", "ANONYMIZE"):
        raise ValueError(f"{where}.action must be BLOCK or ANONYMIZE")
    kind, name = rule.get("type"), rule.get("name")
    if (kind is None) == (name is None):
        raise ValueError(f"{where}: give either `type` (a PII entity type such as EMAIL) or `name` (a regex's name)")
    pattern = rule.get("pattern") or (_BUILTIN_PII.get(str(kind)) if kind else None)
    if not pattern:
        raise ValueError(f"{where}.pattern is needed (built-in patterns: {', '.join(_BUILTIN_PII)})")
    try:
        compiled = re.compile(str(pattern))
    except re.error as exc:
        raise ValueError(f"{where}.pattern is not a regular expression: {exc}") from None
    return SensitiveRule(compiled, action, str(kind) if kind else None, str(name) if name else None)  # type: ignore[arg-type]  # checked above
