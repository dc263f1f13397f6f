"""The ``mockle`` command. ``mockle serve`` runs the emulator until SIGINT or SIGTERM.

Every option of :class:`mockle.settings.Settings` is a flag of ``mockle serve`` and an
environment variable ``MOCKLE_<OPTION>``; a flag wins over the variable. A bad value, from
either, is one line naming the flag, the variable, the value and what is allowed (exit 2).
``mockle`` without a command prints the help and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, get_args, get_origin

from pydantic import ValidationError

from mockle import __version__, commands, logs
from mockle.options import option_errors
from mockle.settings import ConfigError, Settings

DESCRIPTION = """\
mockle: a high-fidelity local emulator of LivePerson LiveEngage messaging,
consumer and agent sides.
One host:port serves the Domain API (CSDS), Sentinel (AppJWT), the IDP (ConsumerJWS, signup),
the Connector API (CONVERSATION, SEND), the consumer and agent UMS WebSockets, the Login
Service, the Agent Workspace (/_mockle/ui/) and the control API under /_mockle/."""


def _env_name(field: str) -> str:
    return "MOCKLE_" + field.upper()


def _flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def _choices(annotation: Any) -> tuple[Any, ...] | None:
    args = get_args(annotation)
    if args and all(isinstance(a, str) for a in args):
        return args
    return None


class OptionError(ValueError):
    """Bad option values: one line each (``lines``)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, as every other bad option's."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mockle", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"mockle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    serve = sub.add_parser(
        "serve",
        help="run mockle until SIGINT/SIGTERM",
        description="Run mockle. Every option also reads MOCKLE_<OPTION> from the environment "
        "(e.g. MOCKLE_PORT=9000); a flag wins over the variable.",
    )
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        default = field.get_default(call_default_factory=True)
        help_text = f"{field.description} [env {_env_name(name)}; default {default!r}]"
        if _is_bool(field.annotation):
            serve.add_argument(flag, dest=name, action="store_true", default=None, help=help_text)
        elif _is_list(field.annotation):
            serve.add_argument(flag, dest=name, action="append", default=None, help=help_text)
        else:
            # a choice is checked with the other values (one line per bad option), not by
            # argparse; the metavar still shows the choices
            choices = _choices(field.annotation)
            metavar = "{" + ",".join(choices) + "}" if choices else None
            serve.add_argument(flag, dest=name, default=None, metavar=metavar, help=help_text)
    commands.add_parsers(sub)
    return parser


def _from_env(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The options set by ``MOCKLE_*`` variables, and a line for each that cannot be read."""
    values: dict[str, Any] = {}
    bad: list[str] = []
    for name, field in Settings.model_fields.items():
        raw = environ.get(_env_name(name))
        if raw is None or raw == "":
            continue
        if _is_bool(field.annotation):
            values[name] = raw.strip()  # pydantic reads true/false, 1/0, yes/no, on/off
        elif _is_list(field.annotation):
            if not raw.lstrip().startswith("["):
                values[name] = raw.split(os.pathsep)
                continue
            try:
                values[name] = json.loads(raw)
            except ValueError as exc:
                bad.append(
                    f"{_env_name(name)} ({_flag_name(name)}) is {raw!r}; allowed: a JSON array "
                    f"(this one does not parse: {exc}) or values separated by {os.pathsep!r}"
                )
        else:
            values[name] = raw
    return values, bad


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Flags over ``MOCKLE_*`` variables over defaults; :class:`OptionError` lists every bad
    value, one line each."""
    values, bad = _from_env(environ)
    from_flag: set[str] = set()
    for name in Settings.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
            from_flag.add(name)

    def who(name: str) -> str:
        if name in from_flag:
            return f"{_flag_name(name)} ({_env_name(name)})"
        return f"{_env_name(name)} ({_flag_name(name)})"

    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise OptionError(bad + option_errors(exc, values, who)) from None
    if bad:
        raise OptionError(bad)
    return settings


async def serve(settings: Settings) -> int:
    from mockle.server import MockleServer, tune_gc

    server = MockleServer(settings)
    await server.start()
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("\n".join(server.banner()), flush=True)
    await stop.wait()
    await server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in commands.NAMES:
        return commands.run(args)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = settings_from(args, os.environ)
    except OptionError as exc:
        for line in exc.lines:
            print(f"mockle: {line}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format, control=settings.log_control)
    try:
        return asyncio.run(serve(settings))
    except ConfigError as exc:
        print(f"mockle: invalid configuration: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"mockle: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
