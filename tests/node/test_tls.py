"""A node serving HTTPS itself (``serve --tls-cert --tls-key``), for deployments without
a reverse proxy: a client trusting the node's CA (``--ca-file``) works, one that does
not is refused with one line; the pin applies over TLS as over plain HTTP.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli.test_cli import Cli, make_cli
from tests.node.conftest import Servers, operator_vkey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca_and_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it issued for 127.0.0.1: ``(ca.pem, node.pem, node-key.pem)``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("kpledger test CA"))
        .issuer_name(_name("kpledger test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
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
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = folder / "ca.pem"
    cert_pem = folder / "node.pem"
    key_pem = folder / "node-key.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_pem.chmod(0o600)
    return ca_pem, cert_pem, key_pem


@pytest.fixture
def tls_node(tmp_path: Path, servers: Servers) -> tuple[Cli, str, Path]:
    local = make_cli(tmp_path)
    ca, cert, key = make_ca_and_cert(tmp_path)
    server = servers.node(
        local.db, "--tls-cert", str(cert), "--tls-key", str(key), key=local.key("op")
    )
    assert server.url.startswith("https://127.0.0.1:")
    return local, server.url, ca


def test_a_client_trusting_the_ca_works(tls_node: tuple[Cli, str, Path], tmp_path: Path) -> None:
    local, url, ca = tls_node
    remote = Cli(tmp_path)
    remote.db = url
    pin = ["--trust", operator_vkey(local), "--ca-file", str(ca)]
    assert remote(*pin, "log").stdout == local("log").stdout
    remote(
        *pin, "origin", "--key", local.key("mine"), "--parcel", "TLS-1", "--carats", "1",
        "--stones", "1", "--mine", "Pit 1",
    )  # fmt: skip
    local("history", "TLS-1")  # appended through the TLS node
    assert json.loads(remote(*pin, "--json", "verify").stdout)["valid"] is True
    with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as http:  # any client
        assert http.get(url + "/checkpoint").status_code == 200
    # sync over TLS, with the same CA file
    mirror = Cli(tmp_path / "m")
    mirror.db = str(tmp_path / "mirror.db")
    mirror("--ca-file", str(ca), "--trust", operator_vkey(local), "sync", url)


def test_a_client_not_trusting_the_ca_is_refused(
    tls_node: tuple[Cli, str, Path], tmp_path: Path
) -> None:
    local, url, _ = tls_node
    remote = Cli(tmp_path)
    remote.db = url
    result = remote("--trust", operator_vkey(local), "log", ok=False)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: could not reach the node at {url}")
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # A plain-HTTP client cannot talk to it either.
    plain = url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):
        httpx.get(plain + "/checkpoint", timeout=5)


def test_tls_files_go_together_and_must_load(tmp_path: Path) -> None:
    local = make_cli(tmp_path)
    local.rejected("serve", "--tls-cert", str(tmp_path / "x.pem"), code=2, contains="--tls-key")
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    local.rejected(
        "serve", "--listen", "127.0.0.1:0", "--tls-cert", str(tmp_path / "bad.pem"),
        "--tls-key", str(tmp_path / "bad.pem"), code=1, contains="TLS",
    )  # fmt: skip
