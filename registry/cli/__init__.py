"""The ``ipreg`` command: one Typer app, one module per command group; errors printed once.

Exit statuses: 0 success (``verify``: VERIFIED), 1 bad input, configuration or chain error, 2 usage
mistake (missing argument, unknown option, bad value), 3-8 verdicts (see ``registry.verify.verdict.EXIT_CODES``)
and audit attention, 70 an internal error (a bug: please report it), 130 interrupted. Every failure is
one ``error:`` line on stderr, never a traceback (``IPREG_DEBUG=1`` shows the traceback of an
internal error).

Command modules import only light modules at top level; web3, eth-account, FastAPI and rich are
imported inside the commands that use them, so ``ipreg --help`` and ``ipreg hash`` start fast.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from registry.errors import Interrupted, RegistryError

#: Exit status of a usage mistake (as click uses).
EXIT_USAGE = 2
#: Exit status of an unexpected internal error (EX_SOFTWARE).
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="ipreg",
    help="IP Office Anchor Registry: anchor IP publications on Ethereum and verify their provenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_registered = False


@app.callback()
def _root() -> None:
    """A group even when one command is attached (typer would otherwise run a lone command without its name)."""


#: Every command and command group: name -> (module, attribute, group?), in the order ``--help`` lists them.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "hash": ("hash_cmd", "hash_files", False),
    "deploy": ("deploy_cmd", "deploy", False),
    "anchor": ("anchor_cmd", "anchor", False),
    "verify": ("verify_cmd", "verify", False),
    "demo": ("demo_cmd", "demo", False),
    "serve": ("serve_cmd", "serve", False),
    "token": ("token_cmd", "app", True),
    "audit": ("audit_cmd", "audit", False),
    "monitor": ("monitor_cmd", "monitor", False),
    "index": ("index_cmd", "app", True),
    "reveal": ("reveal_cmd", "reveal", False),
    "chain": ("chain_cmd", "app", True),
    "archive": ("archive_cmd", "app", True),
    "office": ("office_cmd", "app", True),
    "deployment": ("deploy_cmd", "app", True),
    "revoke": ("revoke_cmd", "app", True),
    "evaluate": ("evaluate_cmd", "evaluate", False),
}


def _register(only: str | None = None) -> None:
    """Attach the command ``only`` (the one being run: start-up imports its module alone), or every command
    (help, completion, an unknown name: click then lists them all). Idempotent."""
    global _registered
    if _registered:
        return
    _registered = True
    import importlib

    for name, (module_name, attribute, group) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(f"registry.cli.{module_name}"), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)


def _click_exception_types() -> tuple[type[BaseException], ...]:
    """The click exception base(s) in use: typer's vendored click, and a standalone click if present."""
    types: list[type[BaseException]] = []
    try:
        from typer._click.exceptions import ClickException as Vendored

        types.append(Vendored)
    except ImportError:  # an older typer on top of click
        pass
    if "click" in sys.modules:
        types.append(sys.modules["click"].ClickException)
    return tuple(types)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _one_line_help(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or "")
    return text if text.endswith("\n") else text + "\n"


def usage_line(exc: BaseException) -> tuple[str, int]:
    """(the one ``error:`` line, the exit status) of a click/typer usage exception."""
    ctx: Any = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "ipreg"
    no_command = type(exc).__name__ == "NoArgsIsHelpError"
    if not no_command and ctx is not None and getattr(ctx.command, "commands", None):
        no_command = str(exc).lower().startswith("missing command")
    if no_command:
        sys.stdout.write(_one_line_help(exc) if type(exc).__name__ == "NoArgsIsHelpError" else ctx.get_help() + "\n")
        names = sorted(getattr(ctx.command, "commands", {}) or {}) if ctx is not None else []
        what = f"a command ({', '.join(names)})" if names else "arguments"
        return f"error: `{command}` needs {what}: see `{command} --help`", EXIT_USAGE
    format_message = getattr(exc, "format_message", None)
    message = _one_line(format_message() if callable(format_message) else str(exc)).rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    code = int(getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    return f"error: {message}; see `{command} --help`", code


def _hint(exc: RegistryError) -> str:
    """What to do next, for errors whose cause is outside the command (a node that does not answer)."""
    from registry.errors import NodeUnavailableError

    if isinstance(exc, NodeUnavailableError):
        return "; start the node (`ipreg chain up` for the local anvil) or fix --rpc-url, then re-run the command"
    return ""


def _invoked() -> str | None:
    """The command named on the command line, if it is one (options before it: none are global)."""
    args = sys.argv[1:]
    return args[0] if args and args[0] in COMMANDS else None


def main() -> None:
    """Entry point: run the app; every failure becomes one ``error:`` line on stderr and a non-zero status."""
    _register(_invoked())
    try:
        code = app(standalone_mode=False)  # without standalone mode, typer.Exit codes are returned
    except RegistryError as exc:
        sys.stderr.write(f"error: {exc.diagnostics()}{_hint(exc)}\n")
        sys.exit(EXIT_INTERRUPTED if isinstance(exc, Interrupted) else 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; re-run the same command to resume\n")
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # ``ipreg … | head``: the reader left; nothing to say
        sys.stderr.close()
        sys.exit(1)
    except Exception as exc:
        if isinstance(exc, _click_exception_types()):
            line, status = usage_line(exc)
            sys.stderr.write(line + "\n")
            sys.exit(status)
        if isinstance(exc, OSError) and exc.strerror:
            where = f" {exc.filename}" if exc.filename else ""
            sys.stderr.write(f"error: {exc.strerror.lower()}:{where} (check the path and its permissions)\n")
            sys.exit(1)
        from registry.config import env_text

        if env_text("IPREG_DEBUG"):
            raise
        detail = _one_line(str(exc))[:300]
        sys.stderr.write(
            f"error: internal error {type(exc).__name__}: {detail} (a bug: please report it with the command;"
            " IPREG_DEBUG=1 shows the traceback)\n"
        )
        sys.exit(EXIT_INTERNAL)
    if code == EXIT_INTERRUPTED:  # click turned Ctrl-C into a return code without a word
        sys.stderr.write("error: interrupted; re-run the same command to resume\n")
    sys.exit(code if isinstance(code, int) else 0)
