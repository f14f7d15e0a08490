"""The ``ipreg`` command: one Typer app, one module per command group; errors printed once."""

from __future__ import annotations

import sys

import typer

from ..errors import RegistryError

app = typer.Typer(
    name="ipreg",
    help="IP Office Anchor Registry: anchor IP publications on Ethereum and verify their provenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from . import anchor_cmd, chain_cmd, demo_cmd, deploy_cmd, hash_cmd, office_cmd, reveal_cmd, verify_cmd

    app.command("hash")(hash_cmd.hash_files)
    app.command("deploy")(deploy_cmd.deploy)
    app.command("anchor")(anchor_cmd.anchor)
    app.command("verify")(verify_cmd.verify)
    app.command("demo")(demo_cmd.demo)
    from . import serve_cmd, token_cmd

    app.command("serve")(serve_cmd.serve)
    app.add_typer(token_cmd.app, name="token")
    from . import audit_cmd, index_cmd

    app.command("audit")(audit_cmd.audit)
    app.add_typer(index_cmd.app, name="index")
    app.command("reveal")(reveal_cmd.reveal)
    app.add_typer(chain_cmd.app, name="chain")
    app.add_typer(office_cmd.app, name="office")
    from . import revoke_cmd

    app.add_typer(revoke_cmd.app, name="revoke")
    from . import evaluate_cmd

    app.command("evaluate")(evaluate_cmd.evaluate)


def main() -> None:
    """Entry point: run the app; a RegistryError becomes one line on stderr and exit status 1."""
    _register()
    try:
        code = app(standalone_mode=False)  # without standalone mode, typer.Exit codes are returned
    except RegistryError as exc:
        sys.stderr.write(f"error: {exc.diagnostics()}\n")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; re-run the same command to resume\n")
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
