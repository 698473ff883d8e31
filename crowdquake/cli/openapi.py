"""``crowdquake openapi``: write or verify the checked-in OpenAPI document."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--check", is_flag=True, help="Fail if the checked-in document is out of date.")
def openapi(check: bool) -> None:
    """Regenerate crowdquake/api/openapi.json from the code (the API's published contract)."""
    from crowdquake.api.openapi import CHECKED_IN, build_openapi

    text = json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"
    if check:
        if not CHECKED_IN.exists() or CHECKED_IN.read_text() != text:
            raise click.ClickException(f"{CHECKED_IN} is stale: run `crowdquake openapi`")
        click.echo("openapi.json is up to date", err=True)
        return
    CHECKED_IN.write_text(text)
    click.echo(f"wrote {CHECKED_IN}", err=True)
