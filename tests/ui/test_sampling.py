"""The sampling fields' texts as request parameters: empty is the model's default (None, never sent); a chosen 0
is kept; anything else is refused with the field's name and range."""

from __future__ import annotations

import pytest

from quarry.ui._sampling import SamplingProblem, parameters, shown


def test_empty_fields_are_the_models_default() -> None:
    assert parameters("", None, " ", "", thinking=False) == {
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "max_tokens": None,
        "thinking": False,
    }


def test_chosen_values_are_kept_zero_included() -> None:
    chosen = parameters("0", "0.9", "40", "512", thinking=True)
    assert chosen == {"temperature": 0.0, "top_p": 0.9, "top_k": 40, "max_tokens": 512, "thinking": True}
    assert shown(chosen) == ["0", "0.9", "40", "512"]
    assert shown({"temperature": None, "top_p": None, "top_k": None, "max_tokens": None}) == ["", "", "", ""]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (("1.5", "", "", ""), "temperature must be a number from 0 to 1"),
        (("", "-0.1", "", ""), "top_p must be a number from 0 to 1"),
        (("", "", "0", ""), "top_k must be a whole number from 1 to 500"),
        (("", "", "4.5", ""), "top_k must be a whole number from 1 to 500"),
        (("", "", "", "lots"), "max_tokens must be a whole number from 1 up"),
        (("nan", "", "", ""), "temperature must be"),
    ],
)
def test_other_values_are_refused_by_name(fields: tuple[str, str, str, str], said: str) -> None:
    with pytest.raises(SamplingProblem, match=said):
        parameters(*fields, thinking=False)
