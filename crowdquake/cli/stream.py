"""``crowdquake stream``: the alert stream server (SSE) alone."""

from __future__ import annotations

import click

from crowdquake.cli.common import load_settings


@click.command()
@click.option("--bind", help="host:port (default CROWDQUAKE_STREAM_BIND)")
@click.option("--fd", type=int, default=None, hidden=True, help="An inherited listening socket.")
def stream(bind: str | None, fd: int | None) -> None:
    """Serve GET /api/v1/alerts/stream (Server-Sent Events) on asyncio.

    `crowdquake serve` starts CROWDQUAKE_STREAM_PROCESSES of these next to gunicorn; several
    processes share the port (SO_REUSEPORT). See docs/operations.md.
    """
    import dataclasses
    import socket

    from crowdquake.api import stream_server

    settings = load_settings()
    if bind:
        settings = dataclasses.replace(settings, stream_bind=bind)
    if fd is not None:
        sock = socket.socket(fileno=fd)
    elif settings.stream_bind:
        sock = stream_server.listening_socket(settings.stream_bind)
        click.echo(f"crowdquake alert streams on http://{settings.stream_bind}", err=True)
    else:
        raise click.UsageError("give --bind or set CROWDQUAKE_STREAM_BIND")
    stream_server.run(settings, sock)
