"""`cargohold` entry point: `serve`, and the commands that drive a registry's control plane.

Global options (`--url`, `-r/--registry`, `-o/--output`, `--query`, `--username`, `--password`)
belong to the root command but may be written anywhere on the line, as with `az`
(`cargohold token list -o table`): the root group moves them to the front before parsing.
Options that take several values like az's (`--repository REPO ACTION...`, `--audiences A B`)
are gathered into one value here too. Every failure ends as one `error: ...` line on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cargohold.cli import (
    client,
    config_cmd,
    credential,
    identity,
    import_image,
    keys,
    login,
    logs,
    manifest,
    registry,
    repository,
    role,
    scope_map,
    sp,
    tag_rule,
    token,
    user,
)
from cargohold.cli.client import STATE, CliError

# Global options that take a value and can be hoisted from anywhere on the command line.
GLOBAL_VALUE_OPTIONS = ("-o", "--output", "--query", "--url", "-r", "--registry", "--username", "--password")
# Options that take one or more space-separated values (az's nargs='+').
MULTI_VALUE_OPTIONS = ("--repository", "--add-repository", "--remove-repository", "--audiences", "--limit")


def _split(token: str) -> tuple[str, str | None]:
    """`--opt=value` → ("--opt", "value"); `-ojson` → ("-o", "json"); else (token, None)."""
    if token.startswith("--"):
        name, eq, value = token.partition("=")
        return name, (value if eq else None)
    if len(token) > 2 and token[0] == "-" and token[1] != "-":
        return token[:2], token[2:]
    return token, None


def _option_table(command: Any) -> dict[str, bool]:
    """The options a (leaf) command declares: name → takes a value."""
    table: dict[str, bool] = {}
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") != "option":
            continue
        takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        for opt in [*param.opts, *getattr(param, "secondary_opts", [])]:
            table[opt] = takes_value
    return table


def rearrange(root: Any, args: list[str]) -> list[str]:
    """Hoist global options to the front and gather multi-value options into one value."""
    # Find the command the line addresses (skipping global options written before it).
    command = root
    i = 0
    while i < len(args) and isinstance(command, TyperGroup):
        name, value = _split(args[i])
        if name in GLOBAL_VALUE_OPTIONS:
            i += 1 if value is not None else 2
            continue
        if args[i].startswith("-"):
            i += 1
            continue
        sub = command.commands.get(args[i])
        if sub is None:
            return args  # let the parser report the unknown command
        command = sub
        i += 1
    if getattr(command, "name", None) == "serve":
        return args
    own = _option_table(command)
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            rest.extend(args[i:])
            break
        name, value = _split(token)
        if name in own and name not in MULTI_VALUE_OPTIONS:
            rest.append(token)
            if own[name] and value is None and i + 1 < len(args):
                rest.append(args[i + 1])
                i += 1
        elif name in MULTI_VALUE_OPTIONS and name in own:
            values = [value] if value is not None else []
            while i + 1 < len(args) and not args[i + 1].startswith("-"):
                values.append(args[i + 1])
                i += 1
            rest.append(name)
            rest.append(" ".join(values))
        elif name in GLOBAL_VALUE_OPTIONS:
            if value is not None:
                front.extend([name, value])
            elif i + 1 < len(args):
                front.extend([name, args[i + 1]])
                i += 1
            else:
                front.append(name)  # the parser says the value is missing
        else:
            rest.append(token)
        i += 1
    return front + rest


class RootGroup(TyperGroup):
    """The root command: rearranges arguments and prints every failure as one line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, rearrange(self, list(args)))

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        from typer._click.exceptions import NoArgsIsHelpError

        try:
            rv = super().main(args=args, prog_name=prog_name or "cargohold", complete_var=complete_var,
                              standalone_mode=False, windows_expand_args=windows_expand_args, **extra)
            # Without standalone mode, Click hands back the code of a `typer.Exit(code)` as the result.
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
            if not standalone_mode:
                return rv
        except NoArgsIsHelpError as e:
            e.show()
            code = e.exit_code
        except typer.TyperException as e:  # usage errors (exit 2) and other Click errors
            hint = ""
            ctx = getattr(e, "ctx", None)
            if ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            _fail(f"{e.format_message()}{hint}")
            code = e.exit_code
        except CliError as e:
            _fail(e.message)
            code = e.code
        except typer.Abort:
            _fail("aborted")
            code = 1
        except KeyboardInterrupt:
            _fail("interrupted")
            code = 130
        except BrokenPipeError:
            code = 1
        except Exception as e:  # never a traceback, unless asked for one
            if os.environ.get("CARGOHOLD_DEBUG"):
                raise
            _fail(f"unexpected {type(e).__name__}: {e} (set CARGOHOLD_DEBUG=1 for a traceback)")
            code = 1
        finally:
            if STATE._client is not None:
                STATE._client.close()
                STATE._client = None
        if standalone_mode:
            sys.exit(code)
        return code


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


app = typer.Typer(cls=RootGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Cargohold: a private container registry.\n\n"
                       "The global options below may also be written after the command: "
                       "`cargohold token list -o table`.")


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(
        "--url", envvar="CARGOHOLD_URL", show_envvar=False,
        help="registry URL (env CARGOHOLD_URL; default: the last login, else http://127.0.0.1:5000)")] = None,
    registry: Annotated[str | None, typer.Option(
        "--registry", "-r", help="registry name; checked against the server's")] = None,
    output: Annotated[str, typer.Option(
        "--output", "-o", envvar="CARGOHOLD_OUTPUT", show_envvar=False,
        help="output format: json, table or tsv (env CARGOHOLD_OUTPUT)")] = "json",
    query: Annotated[str | None, typer.Option(
        "--query", help="JMESPath query applied to the result before output")] = None,
    username: Annotated[str | None, typer.Option(
        "--username", envvar="CARGOHOLD_USERNAME", show_envvar=False,
        help="username, client id or token name (env CARGOHOLD_USERNAME; default: what login stored)")] = None,
    password: Annotated[str | None, typer.Option(
        "--password", envvar="CARGOHOLD_PASSWORD", show_envvar=False,
        help="password or secret (env CARGOHOLD_PASSWORD)")] = None,
) -> None:
    """Cargohold: a private container registry.

    Global options may also be given after the command (`cargohold token list -o table`).
    """
    fmt = output.lower()
    if fmt not in ("json", "table", "tsv") and ctx.invoked_subcommand != "serve":
        client.usage_error(f"invalid --output {output!r}: choose json, table or tsv")
    STATE.url = url
    STATE.registry = registry
    STATE.output = fmt
    STATE.query = query
    STATE.username = username
    STATE.password = password
    STATE._client = None


@app.command("serve", add_help_option=False,
             context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def _serve(ctx: typer.Context) -> None:
    """Run the registry."""
    # Imported only when asked for: the server's imports would slow every other command down.
    from cargohold.cli import serve

    server_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    server_app.command("serve")(serve.serve)
    command = typer.main.get_command(server_app)
    command.main(args=list(ctx.args), prog_name=ctx.command_path, standalone_mode=True)


def _register() -> None:
    app.command("login")(login.login)
    app.command("logout")(login.logout)
    app.command("show")(registry.show)
    app.command("update")(registry.update)
    app.command("create")(registry.create)
    app.command("list")(registry.list_registries)
    app.command("delete")(registry.delete)
    app.command("show-usage")(registry.show_usage)
    app.add_typer(credential.app, name="credential")
    app.add_typer(token.app, name="token")
    app.add_typer(scope_map.app, name="scope-map")
    app.add_typer(role.app, name="role")
    app.add_typer(sp.app, name="sp")
    app.add_typer(user.app, name="user")
    app.add_typer(identity.app, name="identity")
    app.add_typer(logs.app, name="logs")
    app.add_typer(keys.app, name="keys")
    app.add_typer(repository.app, name="repository")
    app.add_typer(manifest.app, name="manifest")
    app.add_typer(tag_rule.app, name="tag-rule")
    app.command("import")(import_image.import_image)
    app.add_typer(config_cmd.app, name="config")


_register()


def main() -> None:
    app()
