"""HTTP dialects: each translates its own API to and from Bedrock's Converse shape."""
