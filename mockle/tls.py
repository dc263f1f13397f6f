"""TLS for ``mockle serve --tls``: HTTPS and WSS on mockle's one port.

LivePerson's SDKs and connectors hard-code ``https://`` and ``wss://``, so mockle must speak TLS
with a certificate the client trusts. Two sources:

* ``--tls-cert FILE [--tls-key FILE]``: the user's own certificate (chain) and key, checked now
  so that a bad file is one line naming the flag, not a traceback;
* otherwise a **local CA** kept in ``--tls-dir`` (default :func:`default_dir`) that signs a server
  certificate for ``localhost``, ``127.0.0.1``, ``::1``, the ``--host`` (when it names one host),
  the ``--public-address`` host and ``--tls-names``. Both are real X.509 (``cryptography``),
  ECDSA P-256, made the way strict verifiers want them (CA: basicConstraints CA:TRUE critical,
  keyUsage keyCertSign; server: CA:FALSE, serverAuth, SAN, key identifiers). They are reused
  across runs: the CA as long as it is valid (trust it once), the server certificate as long as
  it is valid, signed by that CA and names every host needed; otherwise it is made again.

The folder holds ``ca.pem`` (trust this), ``ca-key.pem``, ``cert.pem``, ``key.pem`` (keys 0600,
folder 0700) and ``bundle.pem`` (the system's roots plus the CA, for ``SSL_CERT_FILE`` /
``REQUESTS_CA_BUNDLE``, which replace the system roots rather than add to them). A lock file
serialises processes that start at once on the same folder (POSIX ``flock``).

Not in the sans-I/O core: this module reads and writes files and reads the wall clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import ipaddress
import os
import shlex
import socket
import ssl
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mockle.settings import ConfigError, Settings

if sys.platform != "win32":
    import fcntl

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
BUNDLE_FILE = "bundle.pem"
LOCK_FILE = ".lock"

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})

CA_DAYS = 3650
CERT_DAYS = 825  # the longest lifetime Apple platforms accept for a server certificate
CA_MARGIN = dt.timedelta(days=30)  # a CA this close to its end is replaced (with a new trust)
CERT_MARGIN = dt.timedelta(days=7)
BACKDATE = dt.timedelta(hours=1)  # a clock a little behind ours still accepts a new certificate

# where the system's roots usually are, after OpenSSL's compiled-in default
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, BSDs
)


# keys a TLS server can sign its handshakes with; mockle makes ECDSA P-256 ones
ServerKey = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
CaKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey  # what signs with SHA-256


class TLSError(ConfigError):
    """A TLS file or folder cannot be used; the message names the flag and the problem."""


def wanted(settings: Settings) -> bool:
    """TLS is on with ``--tls``; ``--tls-cert`` / ``--tls-key`` imply it."""
    return settings.tls or settings.tls_cert is not None or settings.tls_key is not None


def default_dir() -> Path:
    """The per-user folder of the local CA: ``$XDG_DATA_HOME/mockle/tls``, else
    ``~/.local/share/mockle/tls`` (``~/Library/Application Support/mockle/tls`` on macOS,
    ``%LOCALAPPDATA%\\mockle\\tls`` on Windows)."""
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "mockle" / "tls"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "mockle" / "tls"
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "mockle" / "tls"
    return home / ".local" / "share" / "mockle" / "tls"


def _host_of(address: str) -> str:
    """The host of ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    address = address.strip()
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address  # a name, an IPv4 address or a bare IPv6 address


def _canonical(name: str, flag: str) -> str:
    """A certificate name: an IP address in its normal form, or a DNS name (IDNA, lower case)."""
    name = name.strip().rstrip(".")
    try:
        return str(ipaddress.ip_address(name.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise TLSError(f"{flag} {name!r}: not a host name a certificate can name") from None
    labels = ascii_name.removeprefix("*.").split(".")
    if not ascii_name or not all(
        label and len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label)
        for label in labels
    ):
        raise TLSError(f"{flag} {name!r}: not a host name a certificate can name")
    return ascii_name


def server_names(settings: Settings) -> tuple[str, ...]:
    """Every name the server certificate must carry, in order, without repeats."""
    candidates = [(n, "--tls-names") for n in LOCAL_NAMES]
    if settings.host.strip() not in WILDCARD_HOSTS:
        candidates.append((settings.host, "--host"))
    if settings.public_address:
        host = _host_of(settings.public_address)
        if host not in WILDCARD_HOSTS:
            candidates.append((host, "--public-address"))
    candidates += [(n, "--tls-names") for n in settings.tls_names]
    names: list[str] = []
    for name, flag in candidates:
        canonical = _canonical(name, flag)
        if canonical not in names:
            names.append(canonical)
    return tuple(names)


def _url_host(settings: Settings) -> str:
    """The host of the URL mockle prints (a wildcard reads as loopback)."""
    host = settings.host.strip()
    if host in WILDCARD_HOSTS:
        return "::1" if ":" in host else "127.0.0.1"
    return _canonical(host, "--host")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _names_of(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = []
    for entry in san:  # in the certificate's order
        if isinstance(entry, x509.DNSName):
            names.append(entry.value.lower())
        elif isinstance(entry, x509.IPAddress):
            names.append(str(entry.value))
    return tuple(names)


def _covers(names: Sequence[str], name: str) -> bool:
    if name in names:
        return True
    head, _, rest = name.partition(".")
    return bool(head and rest) and f"*.{rest}" in names and not _is_ip(name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _same_key(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(
        cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)
    )


# -- what a running server holds -------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    """The certificate mockle serves, the CA a client should trust, and how they came to be."""

    cert: Path
    key: Path
    ca: Path | None  # the CA file to trust; None: the user's certificate has no CA in its file
    bundle: Path | None  # the system's roots plus ``ca`` (generated certificates only)
    names: tuple[str, ...]  # the names the served certificate carries
    issuer: str  # the issuer's common name (or full name)
    not_after: dt.datetime
    generated: bool  # made by mockle's local CA (False: --tls-cert)
    context: ssl.SSLContext = field(repr=False, compare=False)  # the server side
    made: tuple[str, ...] = ()  # what this start made anew: "CA", "certificate"
    uncovered: tuple[str, ...] = ()  # names clients will use that the certificate lacks

    def server_context(self) -> ssl.SSLContext:
        """The server side: this certificate and key, TLS 1.2+, ALPN http/1.1."""
        return self.context

    def client_context(self) -> ssl.SSLContext:
        """A client context that verifies this server (certificate chain and host name).

        Generated: trusts only the local CA. Your own certificate: the system's roots, plus
        the certificates of ``--tls-cert`` themselves (so a self-signed one works too)."""
        if self.generated and self.ca is not None:
            return ssl.create_default_context(cafile=str(self.ca))
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cafile=str(self.cert))
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return ctx


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def prepare(settings: Settings, *, now: dt.datetime | None = None) -> TLSFiles | None:
    """The TLS files of ``settings`` (None when TLS is off), made or checked now.

    :class:`TLSError` (a :class:`ConfigError`) names the flag and says what is wrong."""
    if not wanted(settings):
        return None
    now = now or _now()
    if settings.tls_cert is not None:
        # your certificate must name what clients will use: the printed URL's host, the
        # --public-address host and --tls-names (not every loopback name, as ours does)
        url_host = _url_host(settings)
        needed = [n for n in server_names(settings) if n not in LOCAL_NAMES or n == url_host]
        return load_own(settings.tls_cert, settings.tls_key, needed, now)
    if settings.tls_key is not None:
        raise TLSError(
            f"--tls-key {settings.tls_key}: given without --tls-cert "
            "(give the certificate that goes with the key)"
        )
    return ensure_local(settings.tls_dir or default_dir(), server_names(settings), now)


# -- the user's own certificate ----------------------------------------------------------------


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TLSError(f"{flag} {path}: cannot read it: {exc.strerror or exc}") from None


def _load_key(data: bytes, path: Path, flag: str) -> ServerKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TLSError(
            f"{flag} {path}: the private key is encrypted; mockle needs it without a passphrase "
            "(e.g. openssl pkey -in KEY -out plain.pem)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TLSError(f"{flag} {path}: not a usable PEM private key ({exc})") from None
    if not isinstance(key, ServerKey):
        raise TLSError(f"{flag} {path}: a {type(key).__name__} cannot sign TLS handshakes")
    return key


def _issuer_name(cert: x509.Certificate) -> str:
    cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value) if cn else cert.issuer.rfc4514_string()


def _self_issued(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def load_own(
    cert_path: Path, key_path: Path | None, names: Sequence[str], now: dt.datetime
) -> TLSFiles:
    """``--tls-cert FILE [--tls-key FILE]``: checked so that each problem is one clear line."""
    data = _read(cert_path, "--tls-cert")
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TLSError(
            f"--tls-cert {cert_path}: no PEM certificate in it "
            "(expected a '-----BEGIN CERTIFICATE-----' block)"
        ) from None
    leaf = chain[0]
    if key_path is None:
        if b"PRIVATE KEY-----" not in data:
            raise TLSError(
                f"--tls-cert {cert_path}: holds no private key; give it with --tls-key FILE"
            )
        key_path, key_flag = cert_path, "--tls-cert"
        key = _load_key(data, cert_path, key_flag)
    else:
        key_flag = "--tls-key"
        key = _load_key(_read(key_path, key_flag), key_path, key_flag)
    if not _same_key(leaf, key):
        if any(_same_key(other, key) for other in chain[1:]):
            raise TLSError(
                f"--tls-cert {cert_path}: the server certificate (the one the key belongs to) "
                "must come first in the file, before its CA certificates"
            )
        raise TLSError(
            f"{key_flag} {key_path}: this private key does not belong to the certificate "
            f"in --tls-cert {cert_path}"
        )
    if leaf.not_valid_after_utc <= now:
        raise TLSError(
            f"--tls-cert {cert_path}: the certificate expired on "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    if leaf.not_valid_before_utc > now:
        raise TLSError(
            f"--tls-cert {cert_path}: the certificate is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    try:
        context = _server_context(cert_path, key_path)
    except ssl.SSLError as exc:
        raise TLSError(
            f"--tls-cert {cert_path}: OpenSSL refuses the certificate and key: {exc.reason or exc}"
        ) from None
    carried = _names_of(leaf)
    top = chain[-1]
    return TLSFiles(
        cert=cert_path,
        key=key_path,
        ca=cert_path if _self_issued(top) else None,
        bundle=None,
        names=carried,
        issuer=_issuer_name(leaf),
        not_after=leaf.not_valid_after_utc,
        generated=False,
        uncovered=tuple(n for n in names if not _covers(carried, n)),
        context=context,
    )


# -- the local CA --------------------------------------------------------------------------------


def ensure_local(directory: Path, names: Sequence[str], now: dt.datetime) -> TLSFiles:
    """The local CA and server certificate in ``directory``: reused when still good, else made."""
    directory = directory.expanduser()
    try:
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise TLSError(f"--tls-dir {directory}: cannot create it: {exc.strerror or exc}") from None
    try:
        with _locked(directory):
            return _ensure_locked(directory, tuple(names), now)
    except OSError as exc:
        where = exc.filename or directory
        why = exc.strerror or exc
        raise TLSError(f"--tls-dir {directory}: cannot use {where}: {why}") from None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold ``directory/.lock`` so that processes starting at once do not make two CAs.

    A folder mockle cannot write (a read-only mount of good files) is used without the lock:
    nothing will be written there then, or the write fails with a clear error."""
    lock = directory / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            yield
            return
    try:
        if sys.platform != "win32":
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _load_pair(
    directory: Path, cert_name: str, key_name: str
) -> tuple[x509.Certificate, CaKey] | None:
    """A certificate and its key from the folder; None when either is missing or unusable."""
    try:
        cert = x509.load_pem_x509_certificate((directory / cert_name).read_bytes())
        key = serialization.load_pem_private_key((directory / key_name).read_bytes(), password=None)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, CaKey):
        return None
    return (cert, key) if _same_key(cert, key) else None


def _valid(cert: x509.Certificate, now: dt.datetime, margin: dt.timedelta) -> bool:
    return cert.not_valid_before_utc <= now and now + margin < cert.not_valid_after_utc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ensure_locked(directory: Path, names: tuple[str, ...], now: dt.datetime) -> TLSFiles:
    made: list[str] = []
    pair = _load_pair(directory, CA_FILE, CA_KEY_FILE)
    if pair is None or not _is_ca(pair[0]) or not _valid(pair[0], now, CA_MARGIN):
        pair = _make_ca(now)
        _write(directory / CA_KEY_FILE, _key_pem(pair[1]), private=True)
        _write(directory / CA_FILE, pair[0].public_bytes(serialization.Encoding.PEM))
        made.append("CA")
    ca, ca_key = pair
    leaf_pair = None if made else _load_pair(directory, CERT_FILE, KEY_FILE)
    if (
        leaf_pair is None
        or not _signed_by(leaf_pair[0], ca)
        or not _valid(leaf_pair[0], now, CERT_MARGIN)
        or not all(_covers(_names_of(leaf_pair[0]), n) for n in names)
    ):
        leaf_pair = _make_leaf(ca, ca_key, names, now)
        _write(directory / KEY_FILE, _key_pem(leaf_pair[1]), private=True)
        _write(directory / CERT_FILE, leaf_pair[0].public_bytes(serialization.Encoding.PEM))
        made.append("certificate")
    leaf = leaf_pair[0]
    bundle_path = directory / BUNDLE_FILE
    bundle: Path | None = bundle_path
    try:
        _write_if_changed(bundle_path, _system_roots(exclude=bundle_path) + _pem(ca))
    except OSError:  # a read-only folder: the bundle is a convenience, the CA file is enough
        try:
            bundle = bundle_path if _pem(ca) in bundle_path.read_bytes() else None
        except OSError:
            bundle = None
    try:
        context = _server_context(directory / CERT_FILE, directory / KEY_FILE)
    except ssl.SSLError as exc:  # cannot happen with what we just checked; say so if it does
        raise TLSError(f"--tls-dir {directory}: OpenSSL refuses {CERT_FILE}: {exc}") from None
    return TLSFiles(
        cert=directory / CERT_FILE,
        key=directory / KEY_FILE,
        ca=directory / CA_FILE,
        bundle=bundle,
        names=_names_of(leaf),
        issuer=_issuer_name(leaf),
        not_after=leaf.not_valid_after_utc,
        generated=True,
        made=tuple(made),
        context=context,
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: CaKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` atomically (a temporary file renamed over ``path``); keys 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600 if private else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    _write(path, data)


def _system_roots(exclude: Path) -> bytes:
    """The system's root certificates (a PEM bundle), for ``bundle.pem``; empty if none is found.

    OpenSSL's compiled-in default first (not ``SSL_CERT_FILE``: that may point at our own
    bundle), then the usual places."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.openssl_cafile, *SYSTEM_BUNDLES):
        if not candidate:
            continue
        try:
            if Path(candidate).resolve() == exclude.resolve():
                continue
            data = Path(candidate).read_bytes()
        except OSError:
            continue
        if b"-----BEGIN CERTIFICATE-----" in data:
            return data if data.endswith(b"\n") else data + b"\n"
    return b""


def _ca_name() -> x509.Name:
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except (OSError, KeyError):  # no user name in a bare container
        who = socket.gethostname()
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockle development CA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, who[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, f"mockle local CA {who}"[:64]),
        ]
    )


def _make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _ca_name()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    ca: x509.Certificate,
    ca_key: CaKey,
    names: Sequence[str],
    now: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + dt.timedelta(days=CERT_DAYS), ca.not_valid_after_utc)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockle"),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


# -- what mockle prints at start-up ----------------------------------------------------------


def startup_lines(files: TLSFiles, url: str) -> list[str]:
    """The lines ``mockle serve --tls`` prints after its URL: what it serves, and how to trust it.

    Commands are whole lines, ready to copy (paths quoted for a POSIX shell)."""
    ws = "wss://" + url.split("://", 1)[1]
    lines = [f"mockle WebSocket on {ws} (HTTPS and WSS share the port)"]
    names = ", ".join(files.names) or "no names"
    if files.generated:
        assert files.ca is not None
        made = f"; made now: {' and '.join(files.made)}" if files.made else ""
        lines.append(
            f"# TLS: certificate for {names}, signed by mockle's local CA{made} "
            f"(valid until {files.not_after:%Y-%m-%d})"
        )
        if "CA" in files.made:
            lines.append("# this is a new CA: clients that trusted an earlier one must trust it")
    else:
        lines.append(
            f"# TLS: your certificate {files.cert} for {names}, issued by {files.issuer!r} "
            f"(valid until {files.not_after:%Y-%m-%d})"
        )
    if files.uncovered:
        lines.append(
            "# warning: the certificate does not name "
            + ", ".join(files.uncovered)
            + "; clients that use those names will refuse it"
        )
    if files.ca is None:
        lines.append(
            f"# trust the CA that issued it ({files.issuer!r}), e.g. "
            "export NODE_EXTRA_CA_CERTS=<that CA's PEM file>"
        )
        return lines
    ca = shlex.quote(str(files.ca))
    python_bundle = shlex.quote(str(files.bundle or files.ca))
    lines += [
        "# trust it: Node (adds to its roots), Python (ssl, aiohttp, httpx; requests), curl",
        f"export NODE_EXTRA_CA_CERTS={ca}",
        f"export SSL_CERT_FILE={python_bundle} REQUESTS_CA_BUNDLE={python_bundle}",
        f"curl --cacert {ca} {url}/_mockle/health",
    ]
    return lines
