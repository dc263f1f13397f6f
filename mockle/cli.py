"""The ``mockle`` command. ``mockle serve`` runs the emulator until SIGINT or SIGTERM.

Every option of :class:`mockle.settings.Settings` is a flag of ``mockle serve`` and an
environment variable ``MOCKLE_<OPTION>``; a flag wins over the variable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from mockle import __version__
from mockle.settings import ConfigError, Settings

DESCRIPTION = """\
mockle: a high-fidelity local emulator of LivePerson LiveEngage consumer messaging.
One host:port serves the Domain API (CSDS), Sentinel (AppJWT), the IDP (ConsumerJWS, signup),
the Connector API (CONVERSATION, SEND), the UMS consumer WebSocket and the control API
under /_mockle/."""


def _env_name(field: str) -> str:
    return "MOCKLE_" + field.upper()


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def _choices(annotation: Any) -> tuple[Any, ...] | None:
    args = get_args(annotation)
    if args and all(isinstance(a, str) for a in args):
        return args
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockle", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"mockle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
            choices = _choices(field.annotation)
            serve.add_argument(flag, dest=name, default=None, choices=choices, help=help_text)
    return parser


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = environ.get(_env_name(name))
        if raw is None or raw == "":
            continue
        if _is_bool(field.annotation):
            values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif _is_list(field.annotation):
            values[name] = (
                json.loads(raw) if raw.lstrip().startswith("[") else raw.split(os.pathsep)
            )
        else:
            values[name] = raw
    return values


def settings_from(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    values = _from_env(environ)
    for name in Settings.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return Settings.model_validate(values)


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
    if args.command != "serve":
        parser.print_help()
        return 0
    try:
        settings = settings_from(args, dict(os.environ))
    except (ValidationError, ValueError) as exc:
        print(f"mockle: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
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
