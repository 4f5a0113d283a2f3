"""Commands of the ``labrys`` group that are imported only when they run.

``labrys run`` needs the whole orchestration, every target and the databases' client
libraries; ``labrys --help`` and ``labrys check`` need none of it, and importing it all
first made every command pay for it (about a third of a second). A `LazyCommand` names
its module and object as text and carries the one line ``--help`` lists; only when the
command is invoked (its own ``--help`` included) is the module imported and the real
command built, with typer when it is a typer app or a plain function.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click
import typer
from typer.core import TyperGroup


class LazyCommand(click.Command):
    """A command known by name and summary until it runs.

    Args:
        name: the command's name (``run``).
        target: ``module:attribute``, a typer app, a click command or a function.
        summary: the line ``labrys --help`` shows; a test holds it equal to the first
            line of the real command's help.
    """

    def __init__(self, name: str, target: str, summary: str) -> None:
        super().__init__(name=name, help=summary, short_help=summary)
        self.target = target

    def load(self) -> click.Command:
        """Import the target and return it as a click command named `name`."""
        module, _, attribute = self.target.partition(":")
        found: Any = getattr(importlib.import_module(module), attribute)
        if not isinstance(found, typer.Typer | click.Command):
            app = typer.Typer(add_completion=False)
            app.command(self.name)(found)
            found = app
        command = typer.main.get_command(found) if isinstance(found, typer.Typer) else found
        command.name = self.name
        return command

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        # The group hands the subcommand its arguments here: from now on it is the real one.
        return self.load().make_context(info_name, args, parent=parent, **extra)


def lazy_group(commands: Mapping[str, LazyCommand]) -> type[TyperGroup]:
    """A typer group class that lists ``commands`` first and loads each only when used."""

    class LazyGroup(TyperGroup):
        def list_commands(self, ctx: click.Context) -> list[str]:
            return [*commands, *super().list_commands(ctx)]

        def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
            return commands.get(name) or super().get_command(ctx, name)

    return LazyGroup
