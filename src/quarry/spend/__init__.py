"""What calls cost: the price table (shipped as `prices.json`, merged with an operator's file) and the arithmetic
from tokens to US dollars. Below the services that record and budget spend; knows no dialect."""

from quarry.spend._prices import ModelPrice, Price, PriceTable, base_model_id

__all__ = ["ModelPrice", "Price", "PriceTable", "base_model_id"]
