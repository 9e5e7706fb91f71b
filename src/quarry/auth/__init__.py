"""Who is calling: API keys behind one interface (the team key store plugs in here later)."""

from quarry.auth._authenticator import Authenticator, OpenAccess, Principal, StaticKey, bearer_token

__all__ = ["Authenticator", "OpenAccess", "Principal", "StaticKey", "bearer_token"]
