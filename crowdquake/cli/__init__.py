"""The ``crowdquake`` command.

Subcommands live in their own modules and are imported only when invoked, so ``crowdquake
--help`` stays fast and one subcommand's heavy dependencies never burden another.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from crowdquake import __version__

# name -> "module:attribute"; a module that is not installed is simply not listed.
COMMANDS: dict[str, str] = {
    "serve": "crowdquake.cli.serve:serve",
    "worker": "crowdquake.cli.worker:worker",
    "beat": "crowdquake.cli.worker:beat",
    "stream": "crowdquake.cli.stream:stream",
    "demo": "crowdquake.cli.demo:demo",
    "db": "crowdquake.cli.db:db",
    "bench": "crowdquake.cli.bench:bench",
    "simulate": "crowdquake.cli.simulate:simulate",
    "evaluate": "crowdquake.cli.evaluate:evaluate",
    "replay": "crowdquake.cli.replay:replay",
    "phone-sim": "crowdquake.cli.phone_sim:phone_sim",
    "openapi": "crowdquake.cli.openapi:openapi",
    "operators": "crowdquake.cli.admin:operators",
    "events": "crowdquake.cli.admin:events",
    "regions": "crowdquake.cli.admin:regions",
    "devices": "crowdquake.cli.admin:devices",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are ``module:attribute`` strings resolved on use."""

    def __init__(self, *args: object, lazy_commands: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        available = [
            name
            for name, target in self.lazy_commands.items()
            if importlib.util.find_spec(target.partition(":")[0]) is not None
        ]
        return sorted(set(super().list_commands(ctx)) | set(available))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        if importlib.util.find_spec(module_name) is None:
            return None
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> object:
        from crowdquake.sim.extras import MissingExtraError

        try:
            return super().invoke(ctx)
        except MissingExtraError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(__version__, prog_name="crowdquake")
def main() -> None:
    """crowdquake: crowdsourced smartphone earthquake detection and alerts.

    Configuration comes from CROWDQUAKE_* environment variables (see README); with none set,
    everything runs embedded: a SQLite file under instance/ and a server-less broker.
    """
