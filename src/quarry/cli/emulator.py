"""`quarry emulator`: serve the offline Bedrock on loopback."""

from __future__ import annotations

import click
from pydantic import ValidationError

from quarry import __version__
from quarry.cli._listen import bind, say_when_stopped
from quarry.settings import EmulatorSettings, Settings

__all__ = ["emulator"]


@click.command()
@click.option("--host", default=None, help="Interface to bind.  [default: 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port to listen on; 0 picks a free one.  [default: 8181]")
@click.option("--first-byte-ms", type=float, default=None, help="Delay before the first byte of every answer.")
@click.option("--tokens-per-second", type=float, default=None, help="Streaming pace; 0 streams as fast as possible.")
@click.option("--fault-rate", type=float, default=None, help="Share of requests (0..1) answered with a random fault.")
@click.option("--seed", type=int, default=None, help="Seed of the fault dice, to replay a faulty run.")
def emulator(**options: object) -> None:
    """Serve an offline Amazon Bedrock (bedrock-runtime and bedrock control plane) on loopback.

    Point any AWS client at it with --endpoint-url or AWS_ENDPOINT_URL_BEDROCK_RUNTIME / AWS_ENDPOINT_URL_BEDROCK.
    Any credentials will do: signatures are not checked, but an Authorization header is required.
    """
    import uvicorn

    from quarry.cli._accept import Server
    from quarry.cli._gc import settle_gc
    from quarry.emulator import EmulatorApp
    from quarry.server import uvicorn_options

    overrides = {key: value for key, value in options.items() if value is not None}
    try:
        config = EmulatorSettings.model_validate(Settings().emulator.model_dump() | overrides)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None
    from quarry.server import emulated_knowledge, emulator_runtime

    # Bind first, so the banner can name the real port (with --port 0 the system picks one).
    sock = bind(config.host, config.port, "emulator")
    url = f"http://{config.host}:{sock.getsockname()[1]}"
    settings = Settings()
    # Retrieve answers from the local knowledge bases (`quarry kb`), embedding queries with this emulator.
    knowledge = emulated_knowledge(
        settings, lambda: emulator_runtime(url, settings.region, settings), owns_runtime=True
    )
    try:
        app = EmulatorApp(config, knowledge=knowledge)
    except ValueError as exc:  # a guardrail definition the emulator cannot use: say which, not a traceback
        sock.close()
        raise click.UsageError(str(exc)) from None
    say_when_stopped("Quarry Bedrock emulator")  # before the banner: from then on, Ctrl-C is answered
    models = len(app.catalog.models)
    click.echo(f"Quarry Bedrock emulator on {url}  (version {__version__}, {models} models; Ctrl-C stops it)")
    click.echo(f"  knowledge bases (Retrieve): {settings.data_dir}  (QUARRY_DATA_DIR)")
    click.echo(
        f"  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url} AWS_ENDPOINT_URL_BEDROCK={url}"
        f" AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME={url}"
    )
    click.echo(f"  aws bedrock-runtime converse --endpoint-url {url} --region us-east-1 \\")
    click.echo("    --model-id anthropic.claude-3-haiku-20240307-v1:0 \\")
    click.echo('    --messages \'[{"role":"user","content":[{"text":"Hello"}]}]\'')
    server = Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="on",
            **uvicorn_options(settings),  # the same limits on slow and numerous clients as `quarry serve`
        )
    )
    # The collector as `quarry serve` sets it: the emulator stands in for Bedrock in the benchmarks, and a burst of
    # 1,000 streams had it walking its whole heap mid-burst (a 135 ms full collection), a pause Bedrock does not have.
    settle_gc()
    server.run(sockets=[sock])
