"""nginx from deploy/nginx.conf in front of a worker: on 127.0.0.1, a throwaway certificate, files in
a temporary directory.

The site file is used as shipped, with only its ports, certificate paths and log directory replaced;
the main configuration stands in for Debian's /etc/nginx/nginx.conf.
"""

import ipaddress
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .processes import ROOT

SITE = ROOT / "deploy" / "nginx.conf"
SERVER = r"server 127\.0\.0\.1:\d+"  # a worker in the site's upstream


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(found):
        raise RuntimeError("nginx not found (apt-get install nginx)")
    return found


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid for a day; (certificate, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_site(
    *, upstreams: list[int], http_port: int, https_port: int, directory: Path, cert, key
) -> str:
    """deploy/nginx.conf as shipped, but on 127.0.0.1 ports, with this certificate, these workers
    and its logs in `directory`."""
    text = SITE.read_text()
    # Each worker keeps the parameters the shipped site gives the first one (max_fails=0).
    servers = "".join(rf"\g<1>server 127.0.0.1:{port}\g<2>;\n" for port in upstreams)
    edits = [
        (rf"(?m)^(\s*){SERVER}([^;]*);\n(?:\s*{SERVER}[^;]*;\n)*", servers),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ([^;]*);", rf"listen 127.0.0.1:{https_port} \1;"),
        (r"/etc/letsencrypt/live/fieldops\.example\.org/fullchain\.pem", str(cert)),
        (r"/etc/letsencrypt/live/fieldops\.example\.org/privkey\.pem", str(key)),
        (r"/var/log/nginx/", f"{directory}/"),
    ]  # fmt: skip
    for pattern, replacement in edits:
        text, count = re.subn(pattern, replacement, text)
        if not count:
            raise RuntimeError(f"deploy/nginx.conf no longer matches {pattern!r}: update the kit")
    listens = re.findall(r"listen ([^;]*);", text)
    if not all(x.startswith("127.0.0.1:") for x in listens):
        raise RuntimeError(f"nginx would listen beyond 127.0.0.1: {listens}")
    return text


def nginx_main(directory: Path, site: Path) -> str:
    """A main configuration like Debian's /etc/nginx/nginx.conf, everything in `directory`.
    Its http-level access log is Debian's default: the site's servers must not fall back to it."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    ssl_protocols TLSv1.2 TLSv1.3;\n"
        f"    access_log {directory}/access.log;\n{temp}    include {site};\n}}\n"
    )


def nginx_command(
    directory: Path, *, upstreams: list[int], http_port: int, https_port: int
) -> list[str]:
    """The nginx command line for the shipped site in front of the workers on `upstreams`, its
    configuration and certificate written to `directory`."""
    directory.mkdir()
    cert, key = certificate(directory)
    site = directory / "fieldops.conf"
    site.write_text(
        nginx_site(
            upstreams=upstreams, http_port=http_port, https_port=https_port,
            directory=directory, cert=cert, key=key,
        )
    )  # fmt: skip
    main = directory / "nginx.conf"
    main.write_text(nginx_main(directory, site))
    return [nginx_binary(), "-p", f"{directory}/", "-c", str(main), "-e", "stderr"]


def nginx_test(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=60)
