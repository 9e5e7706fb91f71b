"""`quarry emulator`: an offline Amazon Bedrock that speaks AWS's wire protocol.

It imports nothing from the gateway; the gateway reaches it over HTTP like any AWS client.
"""

from quarry.emulator._app import EmulatorApp
from quarry.emulator._catalog import Catalog

__all__ = ["Catalog", "EmulatorApp"]
