"""Every command, subcommand and option of ``ipreg`` given wrong input: one ``error:`` line, never a traceback.

The command tree is read from the Typer app itself, so commands other engineers add later are
walked too. Runs ``registry.cli.main`` in-process (the real entry point, with its error handling)
for speed; a few cases go through the installed console script to prove the same holds there.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import typing
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry import cli

IPREG = Path(sys.executable).parent / "ipreg"
CLOSED_PORT_RPC = "http://127.0.0.1:9"
JUNK_TEXT = "ZZ not valid"
JUNK_PATH = "/dev/null/ipreg-usage-walk"  # nothing can be created under it, not even by root
#: Statuses a failure may have (README: 1 bad input/configuration, 2 usage, 70 internal error is NOT allowed).
FAILURE_STATUSES = {1, 2}


@dataclass(frozen=True)
class Leaf:
    """A runnable command: its path of names and its click command object."""

    path: tuple[str, ...]
    command: Any

    @property
    def id(self) -> str:
        return " ".join(self.path)


def _tree() -> Any:
    import typer.main

    cli._register()
    return typer.main.get_command(cli.app)


def _leaves(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[Leaf]:
    for name, command in sorted(getattr(group, "commands", {}).items()):
        if getattr(command, "commands", None) is not None and hasattr(command, "list_commands"):
            yield from _leaves(command, (*prefix, name))
        else:
            yield Leaf((*prefix, name), command)


def _groups(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in sorted(getattr(group, "commands", {}).items()):
        if hasattr(command, "list_commands"):
            yield from _groups(command, (*prefix, name))


LEAVES = list(_leaves(_tree()))
GROUPS = list(_groups(_tree()))


def _base_type(param: Any) -> Any:
    """The parameter's Python type, without ``| None`` and ``list[...]``."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:  # typer before 0.29: the click parameter type says it
        return {"int": int, "integer": int, "float": float, "path": Path}.get(getattr(param.type, "name", ""), str)
    annotation = descriptor.annotation
    for _ in range(3):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if not args:
            break
        annotation = args[0]
    return annotation


def _junk(param: Any) -> str:
    kind = _base_type(param)
    if kind in (int, float):
        return "abc"
    if kind is Path:
        return JUNK_PATH
    return JUNK_TEXT


def _value_options(leaf: Leaf) -> list[Any]:
    return [
        p
        for p in leaf.command.params
        if p.param_type_name == "option" and not getattr(p, "is_flag", False) and not p.hidden
        and "--help" not in p.opts
    ]  # fmt: skip


def _plausible(param: Any) -> str:
    return "0" if _base_type(param) in (int, float) else _junk(param)


def _required_args(leaf: Leaf, skip: Any = None, value: Any = _junk) -> list[str]:
    """A value for every required argument and option except ``skip`` (arguments after it too)."""
    args: list[str] = []
    for p in leaf.command.params:
        if p is skip and p.param_type_name == "argument":
            break  # positional: the ones after it would shift into its place
        if p is skip or not p.required:
            continue
        if p.param_type_name == "argument":
            args.append(value(p))
        else:
            args += [p.opts[0], value(p)]
    return args


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("IPREG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("IPREG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IPREG_RPC_URL", CLOSED_PORT_RPC)
    monkeypatch.setenv("IPREG_RPC_RETRIES", "0")
    monkeypatch.setenv("IPREG_KEYSTORE_PASSWORD", "short")  # never a prompt; too short to be accepted
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.chdir(tmp_path)


def run_main(*argv: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["ipreg", *argv]
    status: int | str | None = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        status = exc.code
    finally:
        sys.argv = old
    assert isinstance(status, int), (argv, status)
    return Outcome(status, out.getvalue(), err.getvalue())


def assert_one_error(outcome: Outcome, *fragments: str, statuses: set[int] = FAILURE_STATUSES) -> str:
    assert outcome.status in statuses, outcome
    assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "internal error" not in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_tree_covers_the_known_commands() -> None:
    ids = {leaf.id for leaf in LEAVES}
    for known in ("hash", "anchor", "verify", "audit", "office keystore", "index sync", "chain up", "token create"):
        assert known in ids
    assert len(LEAVES) >= 20


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda x: x.id)
def test_unknown_option(leaf: Leaf) -> None:
    line = assert_one_error(run_main(*leaf.path, "--no-such-option-xyz"), "--no-such-option-xyz", statuses={2})
    assert f"ipreg {leaf.id} --help" in line


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda x: x.id)
def test_every_option_without_its_value(leaf: Leaf) -> None:
    for option in _value_options(leaf):
        flag = option.opts[0]
        assert_one_error(run_main(*leaf.path, flag), flag, statuses={2})


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda x: x.id)
def test_every_numeric_parameter_with_a_word(leaf: Leaf) -> None:
    for param in leaf.command.params:
        if _base_type(param) not in (int, float):
            continue
        if param.param_type_name == "option":
            argv = [*_required_args(leaf, value=_plausible), param.opts[0], "abc"]
            name = param.opts[0]
        else:
            argv = [*_required_args(leaf, skip=param, value=_plausible), "abc"]
            name = str(param.name)
        assert_one_error(run_main(*leaf.path, *argv), "invalid value", name, statuses={2})


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda x: x.id)
def test_every_required_parameter_missing(leaf: Leaf) -> None:
    for param in leaf.command.params:
        if not param.required:
            continue
        outcome = run_main(*leaf.path, *_required_args(leaf, skip=param, value=_plausible))
        name = param.opts[0] if param.param_type_name == "option" else str(param.name)
        assert_one_error(outcome, "missing", name, statuses={2})


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda x: x.id)
def test_every_option_with_a_wrong_value(leaf: Leaf) -> None:
    """Each value option in turn given junk, required ones filled with junk, home unusable: never a traceback.

    Free-text options (``--label``, ``--name``) accept anything, so the promise here is the general one:
    a failure is exactly one ``error:`` line with status 1 or 2, never a traceback or an internal error,
    and nothing is done (the home folder cannot be created, so no command gets to do real work).
    """
    for option in _value_options(leaf) or [None]:
        args = list(_required_args(leaf))
        if option is not None and not option.required:
            args += [option.opts[0], _junk(option)]
        if (option is None or option.opts[0] != "--home") and any("--home" in p.opts for p in leaf.command.params):
            args += ["--home", JUNK_PATH]
        outcome = run_main(*leaf.path, *args)
        assert "Traceback" not in outcome.stderr + outcome.stdout, outcome
        if outcome.status != 0 or outcome.stderr:
            assert_one_error(outcome)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: " ".join(g) or "ipreg")
def test_group_without_command(group: tuple[str, ...]) -> None:
    outcome = run_main(*group)
    line = assert_one_error(outcome, "needs a command", statuses={2})
    assert "--help" in line
    assert "Usage" in outcome.stdout  # the help goes to stdout; stderr keeps its one line


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda x: x.id)
def test_help_of_every_command(leaf: Leaf) -> None:
    outcome = run_main(*leaf.path, "--help")
    assert outcome.status == 0 and outcome.stderr == "" and "Usage" in outcome.stdout


@pytest.mark.parametrize(
    "argv",
    [("anchor",), ("anchor", "x", "--office", "EP", "--batch-size", "abc"), ("verify", "--bogus"), ("office",)],
)
def test_console_script(argv: tuple[str, ...], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPREG_")}
    env.update(IPREG_HOME=str(tmp_path / "h"), IPREG_RPC_URL=CLOSED_PORT_RPC)
    proc = subprocess.run([str(IPREG), *argv], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert_one_error(Outcome(proc.returncode, proc.stdout, proc.stderr), statuses={2})


def test_internal_error_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A bug deep inside a command (here: a forced one) still ends in one line and status 70."""
    from registry.files import ingest

    def boom(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("forced")

    monkeypatch.setattr(ingest, "prepare_file", boom)
    f = tmp_path / "EP-1234567-B1.pdf"
    f.write_bytes(b"%PDF")
    outcome = run_main("hash", str(f))
    assert outcome.status == 70
    assert outcome.stderr.count("\n") == 1 and outcome.stderr.startswith("error: internal error ZeroDivisionError")


HEAVY_MODULES = (
    "web3",
    "eth_account",
    "eth_tester",
    "fastapi",
    "uvicorn",
    "rich",
    "matplotlib",
    "registry.chain.client",
)


def test_command_registration_imports_no_heavy_module() -> None:
    """Start-up stays fast: registering every command (what ``ipreg --help`` does) imports none of these.

    The CPU-time bound itself lives in ``scripts/bench_startup.py``; this guards the cause.
    """
    code = (
        "import sys, registry.cli as c; c._register();"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "", f"imported at start-up: {proc.stdout.strip()}"


def test_hash_imports_no_heavy_module(tmp_path: Path) -> None:
    f = tmp_path / "EP-1234567-B1.json"
    f.write_text('{"a": 1}')
    code = (
        "import sys; from registry import cli; sys.argv = ['ipreg', 'hash', sys.argv[1]]\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules), file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, timeout=120)
    assert proc.stderr.strip() == "", proc.stderr


#: Modules a read-only command must not import in a home whose node is an http(s) URL (seconds of start-up).
CHAIN_CLIENT_MODULES = ("web3", "eth_account", "eth_tester", "py_ecc", "eth_abi", "registry.chain.client")
#: Every read-only command: (arguments, exit statuses that count as having answered).
READ_ONLY_COMMANDS = {
    "hash": (("hash", "{record}"), {0}),
    "verify-with-bundle": (("verify", "{record}", "--proof", "{bundle}"), {0}),
    "verify-by-lookup": (("verify", "{record}"), {0, 4}),  # 4 UNKNOWN: a home with no record of it
    "office-list": (("office", "list"), {0}),
    "office-signers": (("office", "signers", "EP"), {0}),
    "office-proposals": (("office", "proposals"), {0}),
    "deployment-show": (("deployment", "show"), {0}),
    "deployment-history": (("deployment", "history"), {0}),
    "index-status": (("index", "status"), {0}),
}


@pytest.mark.anvil
@pytest.mark.parametrize("kind", ["office-home", "deployment-only"])
@pytest.mark.parametrize("command", sorted(READ_ONLY_COMMANDS))
def test_read_only_commands_in_an_office_home_import_no_web3(
    office_home: Any, tmp_path: Path, command: str, kind: str
) -> None:
    """An office's home (deployment, store, keystore, index) or a home with only its deployment, on a real node
    over HTTP: every read-only command answers without loading web3, eth-account, eth-tester, py_ecc, eth-abi
    or the chain client (they cost seconds of start-up); the light JSON-RPC reader answers."""
    from office_home import deployment_only

    home = office_home.home if kind == "office-home" else deployment_only(office_home, tmp_path)
    args, statuses = READ_ONLY_COMMANDS[command]
    argv = [a.format(record=office_home.record, bundle=office_home.bundle) for a in args]
    code = (
        f"import sys; from registry import cli; sys.argv = ['ipreg', *{argv!r}]\n"
        "try:\n    cli.main()\nexcept SystemExit as exc:\n    status = exc.code\n"
        f"print(f'STATUS:{{status}}'); print('IMPORTED:' + ','.join(m for m in {CHAIN_CLIENT_MODULES!r}"
        " if m in sys.modules))"
    )
    env = {**os.environ, "IPREG_HOME": str(home), "IPREG_RPC_URL": office_home.rpc_url, "IPREG_RPC_RETRIES": "0"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    lines = dict(x.split(":", 1) for x in proc.stdout.splitlines() if x.startswith(("STATUS:", "IMPORTED:")))
    assert int(lines["STATUS"]) in statuses, proc.stderr  # it answered: the guard is not met by failing early
    assert lines["IMPORTED"] == "", proc.stderr
