"""``plugins``: what is loaded, from where, providing what."""

from __future__ import annotations

import json

import click

from .main import AppContext


@click.command("plugins")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--json", "as_json", is_flag=True, hidden=True, help="The same as --format json.")
@click.pass_context
def plugins_cmd(ctx: click.Context, output_format: str, as_json: bool) -> None:
    app: AppContext = ctx.obj
    host = app.host()
    plugins = host.describe()
    if as_json or output_format.lower() == "json":
        payload = {
            "plugins": [p.to_dict() for p in plugins],
            "failed": [
                {"name": f.name, "distribution": f.distribution, "error": str(f.error)}
                for f in host.failures
            ],
            "problems": [
                {"name": p.name, "distribution": p.distribution, "problem": str(p.error)}
                for p in host.problems
            ],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for info in plugins:
        kind = "built-in" if info.builtin else "plugin"
        click.echo(f"{info.name} ({kind}) — {info.distribution} {info.version or ''}".rstrip())
        click.echo(f"  module:    {info.module}")
        click.echo(f"  hooks:     {', '.join(info.hooks) or '-'}")
        if info.dialects:
            click.echo(f"  dialects:  {', '.join(info.dialects)}")
        if info.renderers:
            click.echo(f"  renderers: {', '.join(info.renderers)}")
        if info.stores:
            click.echo(f"  stores: {', '.join(info.stores)}")
    for failure in host.failures:
        click.echo(f"{failure.name} (failed) — {failure.distribution}: {failure.error}")
    for problem in host.problems:
        click.echo(f"{problem.name} (problem) — {problem.distribution}: {problem.error}")
