"""BedrockControl (ListFoundationModels) tries as often as the `max_attempts` setting says: botocore's own
`max_attempts` counts retries, so passing the setting through would make one try too many."""

from __future__ import annotations

import asyncio

import pytest
from aiobotocore.session import AioSession

from quarry.bedrock._control import BedrockControl
from quarry.errors import UpstreamUnavailable
from quarry.settings import BedrockSettings

KEYS = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "secret"}


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_a_failing_control_plane_is_tried_max_attempts_times(attempts: int) -> None:
    requests: list[bytes] = []

    async def unavailable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                requests.append(head.split(b"\r\n", 1)[0])
                body = b'{"message":"Service unavailable"}'
                writer.write(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"x-amzn-ErrorType: ServiceUnavailableException\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                )  # fmt: skip
                await writer.drain()
        except asyncio.IncompleteReadError:  # the client closed the connection
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(unavailable, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    control = BedrockControl(
        AioSession(), region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
        settings=BedrockSettings(max_attempts=attempts), credentials=KEYS,
    )  # fmt: skip
    try:
        with pytest.raises(UpstreamUnavailable):
            await control.foundation_models()
    finally:
        await control.aclose()
        server.close()
        await server.wait_closed()
    assert requests == [b"GET /foundation-models HTTP/1.1"] * attempts
