"""What each tab asks the model: styles, languages and the system prompts of the scenarios."""

from __future__ import annotations

__all__ = [
    "CODE_LANGUAGES",
    "LANGUAGES",
    "REWRITE_STYLES",
    "STYLES",
    "SUMMARY_FORMATS",
    "SUMMARY_LENGTHS",
    "architect_prompt",
    "developer_prompt",
    "formatter_prompt",
    "repair_prompt",
    "rewrite_prompt",
    "summary_combine_prompt",
    "summary_prompt",
    "translate_prompt",
]

STYLES: dict[str, str] = {
    "normal": "You are a helpful assistant. Answer clearly and accurately.",
    "humorous": "You are a witty assistant. Answer accurately, with light humour and playful wording.",
    "concise": "You are a terse assistant. Answer in as few words as accuracy allows; no preamble.",
    "professor": (
        "You are a patient professor. Explain step by step, define terms, give an example, and check understanding."
    ),
    "cute": "You are a cheerful, cute assistant. Answer accurately in a warm, friendly tone with the odd emoji.",
}

LANGUAGES = [
    "English",
    "Simplified Chinese",
    "Traditional Chinese",
    "Japanese",
    "Korean",
    "German",
    "French",
    "Spanish",
]

REWRITE_STYLES = ["concise", "formal", "friendly", "humorous", "persuasive", "simple", "academic"]
SUMMARY_LENGTHS = ["short", "medium", "long"]
SUMMARY_FORMATS = ["one line", "paragraph", "bullets"]
CODE_LANGUAGES = ["Python", "Shell", "HTML", "JavaScript", "TypeScript", "YAML", "Go", "Rust", "Java", "SQL"]


def translate_prompt(target: str) -> str:
    return (
        f"You are a translator. Detect the language of the user's text and translate it into {target}. "
        "Keep the meaning, tone and formatting (line breaks, lists, Markdown). Output the translation only: "
        "no notes, no explanations, no quotation marks around it."
    )


def rewrite_prompt(style: str) -> str:
    return (
        f"Rewrite the user's text in a {style} style, in the same language. Keep its meaning and every fact; "
        "change only the wording and tone. Output the rewritten text only."
    )


def summary_prompt(length: str, form: str) -> str:
    shape = {
        "one line": "a single sentence",
        "paragraph": "one paragraph",
        "bullets": "a bulleted list of the key points",
    }.get(form, "one paragraph")
    return (
        f"Summarise the user's text as {shape}, {length} in length, in the text's own language. "
        "Keep the key facts, numbers and conclusions. Output the summary only."
    )


def summary_combine_prompt(length: str, form: str) -> str:
    return "The user's text is a series of summaries of consecutive parts of one long document. " + summary_prompt(
        length, form
    ).replace("the user's text", "the whole document", 1)


def architect_prompt(language: str) -> str:
    return (
        f"You are a software architect. Design a solution in {language} for the user's task: the approach, the "
        "components or functions with their responsibilities, data shapes, edge cases and how to check it works. "
        "Be brief and concrete; write no code."
    )


def developer_prompt(language: str) -> str:
    return (
        f"You are a senior {language} developer. Implement the design you are given for the task. Write the complete "
        f"code in one fenced ```{language.lower()} block, check it against the design and edge cases, then explain "
        "it in at most five sentences after the code."
    )


def formatter_prompt(target: str, schema: str) -> str:
    prompt = (
        f"Convert the user's text into {target}. Output only the {target} document: no code fences, no commentary. "
        "If the text holds no data to structure (no fields, values or items), output only null."
    )
    if schema:
        prompt += f" It must satisfy this JSON Schema:\n{schema}"
    return prompt


def repair_prompt(target: str, schema: str, document: str, problem: str) -> str:
    prompt = (
        f"This {target} document is invalid: {problem}\n\nFix it and output only the corrected {target}, "
        f"with no code fences or commentary.\n\n{document}"
    )
    if schema:
        prompt += f"\n\nIt must satisfy this JSON Schema:\n{schema}"
    return prompt
