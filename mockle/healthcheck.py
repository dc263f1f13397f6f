"""``python -m mockle.healthcheck [--port N]``: the container's HEALTHCHECK.

GET ``/_mockle/health`` on the local mockle; exit 0 on a 200, else 1 with one line on stderr. It
follows TLS as ``mockle serve`` does, from the same variables (``MOCKLE_TLS``,
``MOCKLE_TLS_CERT``, ``MOCKLE_TLS_DIR``): ``https://`` then, verified against the local CA in
the TLS folder (it never makes or changes a file there), or against the certificate of
``MOCKLE_TLS_CERT`` itself (the chain is checked; the host name is not, since your certificate
need not name the loopback address the probe uses).
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from mockle.tls import CA_FILE, WILDCARD_HOSTS, default_dir


def _on(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _context(environ: dict[str, str]) -> ssl.SSLContext | None:
    cert = environ.get("MOCKLE_TLS_CERT")
    if cert:
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cafile=cert)
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        ctx.check_hostname = False
        return ctx
    if not _on(environ.get("MOCKLE_TLS")):
        return None
    folder = Path(environ["MOCKLE_TLS_DIR"]) if environ.get("MOCKLE_TLS_DIR") else default_dir()
    return ssl.create_default_context(cafile=str(folder.expanduser() / CA_FILE))


def main(argv: Sequence[str] | None = None) -> int:
    environ = dict(os.environ)
    parser = argparse.ArgumentParser(
        prog="python -m mockle.healthcheck", description=__doc__.split("\n\n", 1)[1]
    )
    parser.add_argument(
        "--port", type=int, default=int(environ.get("MOCKLE_PORT") or 8080), help="mockle's port"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait")
    args = parser.parse_args(argv)
    host = (environ.get("MOCKLE_HOST") or "").strip()
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    host = f"[{host}]" if ":" in host else host
    try:
        context = _context(environ)
    except (OSError, ValueError) as exc:
        print(f"mockle healthcheck: cannot load the CA to verify with: {exc}", file=sys.stderr)
        return 1
    url = f"{'https' if context else 'http'}://{host}:{args.port}/_mockle/health"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout, context=context) as resp:
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"mockle healthcheck: {url}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"mockle healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
