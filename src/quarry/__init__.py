"""Quarry: Amazon Bedrock behind the APIs your tools already speak."""

__version__ = "0.1.0"
__all__ = ["__version__"]
