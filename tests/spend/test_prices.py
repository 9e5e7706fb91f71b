"""Cost arithmetic against the shipped price table: profiles, the regional premium, tiers, cache kinds, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quarry.exchange import TokenCounts
from quarry.spend import PriceTable, base_model_id


def tokens(input_: int = 0, output: int = 0, read: int = 0, write: int = 0) -> TokenCounts:
    return {"input_tokens": input_, "output_tokens": output, "cache_read_tokens": read, "cache_write_tokens": write}


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


@pytest.mark.parametrize(
    ("model", "usage", "usd"),
    [
        # Opus 5.5: 4 / 20 / 0.20 / 5 per million; global at list price, geographic +10%.
        ("global.anthropic.claude-opus-5-5", tokens(1_000_000), 4.0),
        ("global.anthropic.claude-opus-5-5", tokens(0, 1_000_000), 20.0),
        ("global.anthropic.claude-opus-5-5", tokens(1000, 500, 2000, 4000), (4000 + 10000 + 400 + 20000) / 1e6),
        ("us.anthropic.claude-opus-5-5", tokens(1_000_000, 1_000_000), 26.4),
        ("eu.anthropic.claude-opus-5-5", tokens(0, 0, 1_000_000), 0.22),
        ("anthropic.claude-opus-5-5", tokens(1_000_000), 4.4),  # in-region: the regional price
        # Models without the premium cost the same through every profile.
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", tokens(1_000_000, 1_000_000), 18.0),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", tokens(1_000_000, 1_000_000), 18.0),
        ("anthropic.claude-3-haiku-20240307-v1:0", tokens(2_000_000, 400_000), 1.0),
        # Haiku 5.5: a prompt over 100K tokens prices the whole request at the long-context rate.
        ("global.anthropic.claude-haiku-5-5", tokens(100_000, 1000), (100_000 * 0.10 + 1000 * 0.50) / 1e6),
        ("global.anthropic.claude-haiku-5-5", tokens(100_001, 1000), (100_001 * 0.50 + 1000 * 2.50) / 1e6),
        ("global.anthropic.claude-haiku-5-5", tokens(1000, 0, 100_000), (1000 * 0.50 + 100_000 * 0.05) / 1e6),
        # Nova has no cache prices in the table: cached tokens are charged as input (an upper bound).
        ("us.amazon.nova-micro-v1:0", tokens(1_000_000, 1_000_000, 1_000_000), 0.035 + 0.14 + 0.035),
        ("amazon.titan-embed-text-v2:0", tokens(1_000_000), 0.02),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-opus-5-5",
            tokens(1_000_000),
            4.0,
        ),
    ],
)
def test_cost(table: PriceTable, model: str, usage: TokenCounts, usd: float) -> None:
    assert table.cost(model, usage) == pytest.approx(usd)


def test_models_without_a_price_have_no_cost(table: PriceTable) -> None:
    assert table.cost("meta.llama3-3-70b-instruct-v1:0", tokens(1000, 1000)) is None
    assert table.maximum("us.meta.llama3-3-70b-instruct-v1:0", 1000, 1000) is None


def test_maximum_prices_every_input_token_at_its_dearest_kind(table: PriceTable) -> None:
    # Opus 5.5 global: the dearest input kind is the 1 h cache write (8), output 20.
    assert table.maximum("global.anthropic.claude-opus-5-5", 1000, 2000) == pytest.approx((8000 + 40000) / 1e6)
    # Haiku 5.5 has a dearer tier for long prompts; an estimated prompt is not trusted to pick the cheap one.
    assert table.maximum("global.anthropic.claude-haiku-5-5", 10, 100) == pytest.approx((10 * 1.0 + 100 * 2.5) / 1e6)
    usage = tokens(700, 1500, 200, 100)
    assert table.cost("us.anthropic.claude-opus-5-5", usage) <= table.maximum(  # type: ignore[operator]
        "us.anthropic.claude-opus-5-5", 1000, 1500
    )


def test_every_catalog_claude_model_from_4_5_on_has_a_price(table: PriceTable) -> None:
    catalog = json.loads((Path(__file__).parents[2] / "src/quarry/bedrock/models.json").read_text())["models"]
    claude = [m for m in catalog if m.startswith("anthropic.claude-") and "claude-3" not in m]
    assert [m for m in claude if m not in table.models] == []


def test_an_operator_file_is_merged_over_the_shipped_table(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(
        json.dumps(
            {
                "models": {
                    "meta.llama3-3-70b-instruct-v1:0": {"input": 0.72, "output": 0.72},
                    "anthropic.claude-opus-5-5": {"input": 1, "output": 2, "regional_premium": False},
                }
            }
        )
    )
    table = PriceTable.load(override)
    assert table.cost("us.meta.llama3-3-70b-instruct-v1:0", tokens(1_000_000, 1_000_000)) == pytest.approx(1.44)
    assert table.cost("us.anthropic.claude-opus-5-5", tokens(1_000_000, 0, 1_000_000)) == pytest.approx(2.0)
    assert table.cost("global.anthropic.claude-sonnet-5-5", tokens(1_000_000)) == pytest.approx(2.0)  # untouched


def test_a_broken_operator_file_says_which(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"models": {"x.y": {"output": 1}}}))
    with pytest.raises(ValueError, match=r"x\.y"):
        PriceTable.load(bad)
    with pytest.raises(ValueError, match="cannot be read"):
        PriceTable.load(tmp_path / "missing.json")


def test_base_model_id() -> None:
    assert (
        base_model_id("us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0") == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert base_model_id("global.amazon.nova-2-lite-v1:0") == "amazon.nova-2-lite-v1:0"


# Service tiers: multiples of the standard price, the table's for every model, a model's own over them.


@pytest.mark.parametrize(
    ("model", "tier", "usd"),
    [
        # Sonnet 4.5 (3 / 15 per million, no regional premium) at the shipped multipliers.
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", None, 18.0),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "default", 18.0),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "flex", 9.0),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "priority", 31.5),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "reserved", 18.0),  # billed per month, not per token
        # The tier's multiplier stacks on the regional premium: Opus 5.5 in-region at Flex is 4.4 / 2.
        ("anthropic.claude-opus-5-5", "flex", 2.2),
    ],
)
def test_cost_at_a_service_tier(table: PriceTable, model: str, tier: str | None, usd: float) -> None:
    usage = tokens(1_000_000, 1_000_000) if "sonnet" in model else tokens(1_000_000)
    assert table.cost(model, usage, tier) == pytest.approx(usd)


def test_shipped_tier_multipliers_are_marked_unverified() -> None:
    shipped = json.loads(Path(__file__).parents[2].joinpath("src/quarry/spend/prices.json").read_text())
    assert shipped["service_tiers"]["_verified"] is False
    assert PriceTable.load().service_tiers == {"priority": 1.75, "flex": 0.5}


def test_maximum_is_priced_at_the_tier_asked(table: PriceTable) -> None:
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    standard = table.maximum(model, 1000, 1000)
    assert standard is not None
    assert table.maximum(model, 1000, 1000, "flex") == pytest.approx(standard * 0.5)
    assert table.maximum(model, 1000, 1000, "priority") == pytest.approx(standard * 1.75)
    # Reserved capacity overflows to the standard tier, so a reserved call may cost the standard price.
    cheap_reserved = PriceTable.load().with_model(model, table.models[base_model_id(model)])
    cheap_reserved.service_tiers["reserved"] = 0.0
    assert cheap_reserved.maximum(model, 1000, 1000, "reserved") == pytest.approx(standard)


def test_an_operator_file_sets_tier_multipliers_per_table_and_per_model(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    own = {"input": 3, "output": 15, "service_tiers": {"flex": 0.25}}
    override.write_text(json.dumps({"service_tiers": {"priority": 2}, "models": {sonnet: own}}))
    table = PriceTable.load(override)
    usage = tokens(1_000_000, 1_000_000)
    assert table.cost(sonnet, usage, "priority") == pytest.approx(36.0)  # the operator's table-wide figure
    assert table.cost(sonnet, usage, "flex") == pytest.approx(4.5)  # the model's own wins
    assert table.cost("anthropic.claude-3-haiku-20240307-v1:0", tokens(2_000_000), "flex") == pytest.approx(0.25)


@pytest.mark.parametrize("bad", [{"flex": -1}, {"flex": "half"}, {"flex": True}, ["flex"]])
def test_a_bad_tier_multiplier_says_which(tmp_path: Path, bad: object) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"service_tiers": bad}))
    with pytest.raises(ValueError, match=r"service_tiers|service tier"):
        PriceTable.load(override)


# Guardrails: per 1,000 text units of each policy


def test_guardrail_units_are_priced_per_policy(table: PriceTable) -> None:
    units = {"contentPolicyUnits": 2, "topicPolicyUnits": 1, "sensitiveInformationPolicyUnits": 3}
    assert table.guardrail_cost(units) == pytest.approx((2 * 0.15 + 0.15 + 3 * 0.10) / 1000)
    free = {"wordPolicyUnits": 50, "sensitiveInformationPolicyFreeUnits": 50, "automatedReasoningPolicyUnits": 9}
    assert table.guardrail_cost(free) == 0.0  # free policies, and one with no figure


def test_shipped_guardrail_prices_are_marked_unverified() -> None:
    raw = json.loads((Path(__file__).parents[2] / "src/quarry/spend/prices.json").read_text())
    assert raw["guardrails"]["_verified"] is False
    assert "guardrails-how.html" in raw["guardrails"]["_about"]


def test_an_operator_file_sets_guardrail_prices(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"guardrails": {"contentPolicyUnits": 0.75, "automatedReasoningPolicyUnits": 0.17}}))
    table = PriceTable.load(override)
    units = {"contentPolicyUnits": 1000, "automatedReasoningPolicyUnits": 1000, "topicPolicyUnits": 1000}
    assert table.guardrail_cost(units) == pytest.approx(0.75 + 0.17 + 0.15)  # the shipped topic price stays


@pytest.mark.parametrize("bad", [{"contentPolicyUnits": -1}, {"contentPolicyUnits": "cheap"}, [1]])
def test_a_bad_guardrail_price_says_which(tmp_path: Path, bad: object) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"guardrails": bad}))
    with pytest.raises(ValueError, match="guardrail"):
        PriceTable.load(override)
