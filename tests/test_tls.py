"""The TLS files of ``mockle serve --tls``: the local CA and its certificate (names, extensions,
reuse, regeneration), your own certificate, and one clear line for every bad file."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mockle import tls
from mockle.cli import main
from mockle.settings import Settings
from mockle.tls import TLSError, TLSFiles, prepare

NOW = dt.datetime.now(dt.UTC)


def local(tmp_path: Path, **kw: object) -> Settings:
    return Settings(port=0, tls=True, tls_dir=tmp_path / "tls", **kw)  # type: ignore[arg-type]


def cert_of(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in san]


def files(s: Settings, now: dt.datetime = NOW) -> TLSFiles:
    made = prepare(s, now=now)
    assert made is not None
    return made


# -- the local CA and its certificate ----------------------------------------------------------


def test_tls_off_prepares_nothing(tmp_path: Path) -> None:
    assert prepare(Settings(port=0, tls_dir=tmp_path)) is None
    assert list(tmp_path.iterdir()) == []


def test_generated_certificate_names_the_loopback_hosts_and_is_signed_by_the_ca(
    tmp_path: Path,
) -> None:
    f = files(local(tmp_path))
    assert f.generated and f.made == ("CA", "certificate") and f.uncovered == ()
    ca, leaf = cert_of(tmp_path / "tls" / "ca.pem"), cert_of(f.cert)
    assert f.ca == tmp_path / "tls" / "ca.pem" and f.cert == tmp_path / "tls" / "cert.pem"
    assert sans(leaf) == ["localhost", "127.0.0.1", "::1"]
    assert f.names == ("localhost", "127.0.0.1", "::1")
    leaf.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    # the CA: what strict verifiers require of a trust anchor
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ca.not_valid_after_utc - NOW > dt.timedelta(days=3640)
    # the server certificate
    bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert leaf.not_valid_before_utc < NOW < leaf.not_valid_after_utc
    assert dt.timedelta(days=824) < leaf.not_valid_after_utc - NOW <= dt.timedelta(days=825)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA256)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"


def test_keys_are_private_and_the_folder_is_the_users(tmp_path: Path) -> None:
    f = files(local(tmp_path))
    folder = tmp_path / "tls"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for key in (folder / "ca-key.pem", f.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "ca.pem").stat().st_mode) == 0o644
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "bundle.pem",
        "ca-key.pem",
        "ca.pem",
        "cert.pem",
        "key.pem",
    ]


def test_bundle_is_the_system_roots_plus_the_ca(tmp_path: Path) -> None:
    f = files(local(tmp_path))
    assert f.bundle is not None and f.ca is not None
    bundle = f.bundle.read_bytes()
    assert bundle.endswith(f.ca.read_bytes())
    begin = b"-----BEGIN CERTIFICATE-----"
    system = tls._system_roots(exclude=f.bundle)
    if system:  # the machine has a root store: the bundle keeps every root of it
        assert bundle.count(begin) == system.count(begin) + 1 > 2
    else:
        assert bundle.count(begin) == 1


def test_host_public_address_and_extra_names_are_in_the_certificate(tmp_path: Path) -> None:
    s = local(
        tmp_path,
        host="192.168.7.9",
        public_address="mockle.internal:8443",
        tls_names=["Bots.Example.", "10.0.0.1", "localhost"],
    )
    f = files(s)
    assert sans(cert_of(f.cert)) == [
        "localhost",
        "127.0.0.1",
        "::1",
        "192.168.7.9",
        "mockle.internal",
        "bots.example",
        "10.0.0.1",
    ]


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_wildcard_host_is_not_a_name(tmp_path: Path, host: str) -> None:
    assert files(local(tmp_path, host=host)).names == ("localhost", "127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("address", "host"),
    [("h.test:1", "h.test"), ("[fe80::2]:8443", "fe80::2"), ("10.1.2.3", "10.1.2.3")],
)
def test_public_address_forms(tmp_path: Path, address: str, host: str) -> None:
    assert files(local(tmp_path, public_address=address)).names[-1] == host


def test_ip_names_are_ip_entries_and_dns_names_dns_entries(tmp_path: Path) -> None:
    leaf = cert_of(files(local(tmp_path, host="::1", tls_names=["my-host"])).cert)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "my-host"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]


def test_reused_across_starts(tmp_path: Path) -> None:
    first = files(local(tmp_path))
    before = {p.name: p.read_bytes() for p in (tmp_path / "tls").iterdir()}
    again = files(local(tmp_path), now=NOW + dt.timedelta(days=30))
    assert again.made == ()
    assert {p.name: p.read_bytes() for p in (tmp_path / "tls").iterdir()} == before
    assert again.cert == first.cert and again.not_after == first.not_after


def test_a_certificate_near_its_end_is_made_again_by_the_same_ca(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    old = files(local(tmp_path), now=NOW - dt.timedelta(days=825))  # expires about now
    ca_before, leaf_before = (folder / "ca.pem").read_bytes(), cert_of(old.cert)
    assert leaf_before.not_valid_after_utc < NOW + dt.timedelta(days=1)
    new = files(local(tmp_path))
    assert new.made == ("certificate",)
    assert (folder / "ca.pem").read_bytes() == ca_before  # trust in the CA is kept
    leaf = cert_of(new.cert)
    assert leaf.serial_number != leaf_before.serial_number
    assert leaf.not_valid_after_utc > NOW + dt.timedelta(days=800)
    leaf.verify_directly_issued_by(cert_of(folder / "ca.pem"))


def test_an_expired_ca_is_made_again_with_its_certificate(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    files(local(tmp_path), now=NOW - dt.timedelta(days=3650))
    ca_before = cert_of(folder / "ca.pem")
    assert ca_before.not_valid_after_utc < NOW + dt.timedelta(days=1)
    new = files(local(tmp_path))
    assert new.made == ("CA", "certificate")
    ca = cert_of(folder / "ca.pem")
    assert ca.serial_number != ca_before.serial_number
    cert_of(new.cert).verify_directly_issued_by(ca)


def test_a_certificate_that_does_not_name_the_host_is_made_again(tmp_path: Path) -> None:
    files(local(tmp_path))
    wider = files(local(tmp_path, host="mockle.test"))
    assert wider.made == ("certificate",) and "mockle.test" in wider.names
    # a start that needs fewer names keeps the wider certificate
    assert files(local(tmp_path)).made == ()


@pytest.mark.parametrize("victim", ["ca.pem", "ca-key.pem", "cert.pem", "key.pem"])
def test_a_damaged_file_is_replaced(tmp_path: Path, victim: str) -> None:
    files(local(tmp_path))
    (tmp_path / "tls" / victim).write_text("not a PEM file\n")
    made = files(local(tmp_path)).made
    assert made == (("CA", "certificate") if victim.startswith("ca") else ("certificate",))
    assert files(local(tmp_path)).made == ()


def test_a_certificate_of_another_ca_is_replaced(tmp_path: Path) -> None:
    files(local(tmp_path))
    other = files(Settings(port=0, tls=True, tls_dir=tmp_path / "other"))
    for name in ("cert.pem", "key.pem"):
        (tmp_path / "tls" / name).write_bytes((other.cert.parent / name).read_bytes())
    assert files(local(tmp_path)).made == ("certificate",)


def test_processes_starting_at_once_share_one_ca(tmp_path: Path) -> None:
    results: list[TLSFiles] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        try:
            results.append(files(local(tmp_path)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(results) == 4
    assert sum(1 for r in results if "CA" in r.made) == 1  # one made it, the others reused it
    ca = cert_of(tmp_path / "tls" / "ca.pem")
    cert_of(tmp_path / "tls" / "cert.pem").verify_directly_issued_by(ca)


def test_a_folder_mockle_cannot_write_is_used_while_its_files_are_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files(local(tmp_path))

    def refuse(path: Path, data: bytes, *, private: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(tls, "_write", refuse)  # as a read-only mount would (root ignores modes)
    assert files(local(tmp_path)).made == ()
    with pytest.raises(TLSError) as info:
        prepare(local(tmp_path, host="other.test"))  # needs a new certificate: cannot write it
    assert str(info.value) == (
        f"--tls-dir {tmp_path / 'tls'}: cannot use {tmp_path / 'tls' / 'key.pem'}: "
        "Permission denied"
    )


def test_default_folder_is_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert tls.default_dir() == tmp_path / "data" / "mockle" / "tls"
    f = files(Settings(port=0, tls=True))
    assert f.cert == tmp_path / "data" / "mockle" / "tls" / "cert.pem"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tls.default_dir() == tmp_path / "home" / ".local" / "share" / "mockle" / "tls"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # the spec says: ignore it
    assert tls.default_dir() == tmp_path / "home" / ".local" / "share" / "mockle" / "tls"


# -- your own certificate ----------------------------------------------------------------------


def self_signed(
    folder: Path,
    names: list[str],
    *,
    stem: str = "own",
    days: int = 30,
    start: dt.datetime = NOW - dt.timedelta(hours=1),
    rsa_key: bool = False,
) -> tuple[Path, Path]:
    """A self-signed certificate and its key: ``folder/<stem>.pem``, ``folder/<stem>-key.pem``."""
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "my own")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_own_certificate_is_used_as_given(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, ["localhost"], rsa_key=True)
    f = files(Settings(port=0, tls_cert=cert, tls_key=key, tls_dir=tmp_path / "unused"))
    assert not f.generated and f.cert == cert and f.key == key
    assert f.ca == cert  # self-signed: the file is its own CA
    assert f.names == ("localhost",) and f.issuer == "my own"
    assert f.uncovered == ("127.0.0.1",)  # the host of the URL mockle prints
    # what a certificate must name: the URL's host, --public-address, --tls-names
    s = Settings(tls_cert=cert, tls_key=key, host="localhost", tls_names=["a.test"])
    assert files(s).uncovered == ("a.test",)
    assert not (tmp_path / "unused").exists()


def test_own_certificate_and_key_in_one_file(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, ["localhost"])
    both = tmp_path / "both.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    f = files(Settings(port=0, tls_cert=both))
    assert f.cert == both and f.key == both


def test_own_certificate_of_another_ca_has_no_ca_file(tmp_path: Path) -> None:
    issued = files(local(tmp_path))  # a certificate whose CA is not in its file
    f = files(Settings(port=0, tls_cert=issued.cert, tls_key=issued.key))
    assert f.ca is None and f.issuer.startswith("mockle local CA")
    assert not f.generated


def test_own_chain_with_the_server_certificate_last_says_so(tmp_path: Path) -> None:
    issued = files(local(tmp_path))
    assert issued.ca is not None
    backwards = tmp_path / "backwards.pem"
    backwards.write_bytes(issued.ca.read_bytes() + issued.cert.read_bytes())
    with pytest.raises(TLSError) as info:
        prepare(Settings(tls_cert=backwards, tls_key=issued.key))
    assert str(info.value) == (
        f"--tls-cert {backwards}: the server certificate (the one the key belongs to) must come "
        "first in the file, before its CA certificates"
    )
    # in the right order the file carries its CA: that is the CA to trust
    chain = tmp_path / "chain.pem"
    chain.write_bytes(issued.cert.read_bytes() + issued.ca.read_bytes())
    f = files(Settings(tls_cert=chain, tls_key=issued.key))
    assert f.ca == chain


# -- bad files: one line naming the flag and the problem ----------------------------------------


def _encrypted(key: Path, out: Path) -> Path:
    secret = serialization.load_pem_private_key(key.read_bytes(), password=None)
    out.write_bytes(
        secret.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return out


def bad_case(tmp_path: Path, case: str) -> tuple[Settings, str]:
    """The settings of one bad case and the start of the line it must give."""
    cert, key = self_signed(tmp_path, ["localhost"])
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    missing = tmp_path / "missing.pem"
    if case == "cert missing":
        return Settings(tls_cert=missing), f"--tls-cert {missing}: cannot read it: No such file"
    if case == "cert not PEM":
        return Settings(tls_cert=garbage), f"--tls-cert {garbage}: no PEM certificate in it"
    if case == "no key anywhere":
        return Settings(tls_cert=cert), f"--tls-cert {cert}: holds no private key; give it"
    if case == "key missing":
        return Settings(tls_cert=cert, tls_key=missing), f"--tls-key {missing}: cannot read it"
    if case == "key not PEM":
        return (
            Settings(tls_cert=cert, tls_key=garbage),
            f"--tls-key {garbage}: not a usable PEM private key",
        )
    if case == "key is a certificate":
        return (
            Settings(tls_cert=cert, tls_key=cert),
            f"--tls-key {cert}: not a usable PEM private key",
        )
    if case == "key encrypted":
        encrypted = _encrypted(key, tmp_path / "encrypted.pem")
        return (
            Settings(tls_cert=cert, tls_key=encrypted),
            f"--tls-key {encrypted}: the private key is encrypted; mockle needs it without",
        )
    if case == "key of another certificate":
        _, other = self_signed(tmp_path, ["b"], stem="other")
        return (
            Settings(tls_cert=cert, tls_key=other),
            f"--tls-key {other}: this private key does not belong to the certificate in "
            f"--tls-cert {cert}",
        )
    if case == "cert expired":
        old, old_key = self_signed(
            tmp_path, ["localhost"], stem="old", days=1, start=NOW - dt.timedelta(days=3)
        )
        return (
            Settings(tls_cert=old, tls_key=old_key),
            f"--tls-cert {old}: the certificate expired on",
        )
    if case == "cert not yet valid":
        new, new_key = self_signed(
            tmp_path, ["localhost"], stem="new", start=NOW + dt.timedelta(days=2)
        )
        return (
            Settings(tls_cert=new, tls_key=new_key),
            f"--tls-cert {new}: the certificate is not valid before",
        )
    if case == "key without cert":
        return Settings(tls_key=key), f"--tls-key {key}: given without --tls-cert"
    if case == "folder blocked":
        blocker = tmp_path / "a-file"
        blocker.write_text("in the way")
        return (
            Settings(tls=True, tls_dir=blocker / "tls"),
            f"--tls-dir {blocker / 'tls'}: cannot create it",
        )
    if case == "bad name":
        return (
            Settings(tls=True, tls_dir=tmp_path, tls_names=["bad name!"]),
            "--tls-names 'bad name!': not a host name a certificate can name",
        )
    raise AssertionError(case)


BAD_CASES = [
    "cert missing",
    "cert not PEM",
    "no key anywhere",
    "key missing",
    "key not PEM",
    "key is a certificate",
    "key encrypted",
    "key of another certificate",
    "cert expired",
    "cert not yet valid",
    "key without cert",
    "folder blocked",
    "bad name",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_file_is_one_line_naming_the_flag(tmp_path: Path, case: str) -> None:
    settings, line = bad_case(tmp_path, case)
    with pytest.raises(TLSError) as info:
        prepare(settings)
    message = str(info.value)
    assert message.startswith(line), message
    assert "\n" not in message


@pytest.mark.parametrize("case", ["cert not PEM", "key of another certificate", "folder blocked"])
def test_mockle_serve_exits_2_with_the_line_and_no_traceback(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, line = bad_case(tmp_path, case)
    argv = ["serve", "--port", "0"]
    for name in ("tls_cert", "tls_key", "tls_dir"):
        value = getattr(settings, name)
        if value is not None:
            argv += ["--" + name.replace("_", "-"), str(value)]
    if settings.tls:
        argv.append("--tls")
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    [printed] = out.err.splitlines()
    assert printed.startswith("mockle: invalid configuration: " + line), printed


def test_tls_options_are_flags_and_environment_variables(tmp_path: Path) -> None:
    from mockle.cli import build_parser, settings_from

    args = build_parser().parse_args(["serve", "--tls-names", "a.test", "--tls-names", "b.test"])
    s = settings_from(
        args,
        {
            "MOCKLE_TLS": "1",
            "MOCKLE_TLS_DIR": str(tmp_path),
            "MOCKLE_TLS_CERT": "/c.pem",
            "MOCKLE_TLS_KEY": "/k.pem",
        },
    )
    assert s.tls is True and s.tls_dir == tmp_path and s.tls_names == ["a.test", "b.test"]
    assert s.tls_cert == Path("/c.pem") and s.tls_key == Path("/k.pem")
    assert tls.wanted(Settings(tls_cert=Path("/c.pem")))  # --tls-cert implies --tls
    assert not tls.wanted(Settings(tls_dir=tmp_path))


# -- what mockle serve prints ------------------------------------------------------------------


def test_startup_lines_of_the_local_ca(tmp_path: Path) -> None:
    folder = tmp_path / "my tls"  # a path that needs quoting in a shell
    f = files(Settings(port=0, tls=True, tls_dir=folder))
    lines = tls.startup_lines(f, "https://127.0.0.1:8443")
    ca, bundle = f"'{folder}/ca.pem'", f"'{folder}/bundle.pem'"
    assert lines[0] == "mockle WebSocket on wss://127.0.0.1:8443 (HTTPS and WSS share the port)"
    assert lines[1].startswith(
        "# TLS: certificate for localhost, 127.0.0.1, ::1, signed by mockle's local CA; "
        "made now: CA and certificate (valid until "
    )
    assert lines[-3:] == [
        f"export NODE_EXTRA_CA_CERTS={ca}",
        f"export SSL_CERT_FILE={bundle} REQUESTS_CA_BUNDLE={bundle}",
        f"curl --cacert {ca} https://127.0.0.1:8443/_mockle/health",
    ]
    again = tls.startup_lines(files(Settings(port=0, tls=True, tls_dir=folder)), "https://x:1")
    assert not any("made now" in line or "new CA" in line for line in again)


def test_startup_lines_of_your_own_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, ["localhost"])
    lines = tls.startup_lines(files(Settings(tls_cert=cert, tls_key=key)), "https://h:1")
    assert any(line.startswith(f"# TLS: your certificate {cert} for localhost") for line in lines)
    assert "# warning: the certificate does not name 127.0.0.1; clients" in "\n".join(lines)
    assert lines[-1] == f"curl --cacert {cert} https://h:1/_mockle/health"
    issued = files(local(tmp_path))
    lines = tls.startup_lines(
        files(Settings(tls_cert=issued.cert, tls_key=issued.key)), "https://h:1"
    )
    assert lines[-1].startswith("# trust the CA that issued it ('mockle local CA ")
