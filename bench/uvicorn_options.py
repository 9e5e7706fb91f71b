"""`quarry serve --workers 1` as `cli/serve.py` builds it (the app, its collector settling, the same `uvicorn.Config`
with the connection guard's protocol), with `uvicorn.Config` options overridden: to measure what uvicorn's own
options cost, with `bench/gateway_load.py --pid gateway=PID` as the load. Configured from the environment as
`quarry serve` is (`bench/gateway_lib.sh`'s variables).

    PYTHONPATH=src taskset -c 0 .venv/bin/python bench/uvicorn_options.py --port PORT --config '{"http": "h11"}'
"""

from __future__ import annotations

import argparse

import orjson
import uvicorn

from quarry.cli._gc import settle_gc
from quarry.observability import configure_logging
from quarry.server import create_app, uvicorn_options
from quarry.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", default="{}", help="uvicorn.Config keyword arguments over serve's, as JSON")
    args = parser.parse_args()
    configure_logging()
    settings = Settings()
    app = create_app(settings, on_ready=lambda context: settle_gc())
    options = {**uvicorn_options(settings), **orjson.loads(args.config)}
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
        **options,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
