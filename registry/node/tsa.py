"""A local RFC 3161 time-stamping authority for the demo, the tests and the task force: ``openssl ts -reply`` over HTTP.

At first use it creates, in ``<home>/tsa/``, a test root (EC P-256, self-signed, CA) and a time-stamping
certificate it issues (critical EKU ``timeStamping``), and an ``openssl.cnf`` whose ``[tsa]`` section
puts only the signing certificate in replies (no ``certs =``: ``rfc3161-client``'s strict parser refuses
replies carrying extra certificates). Queries are ``POST``\\ ed as ``application/timestamp-query`` and answered
``application/timestamp-reply``. ``available = False`` makes it answer 503 (an outage, for tests).

Not an authority anyone should trust: its root is generated on this machine and says so in its name.

Usage::

    tsa = LocalAuthority(home)
    url = tsa.start()                     # http://127.0.0.1:<port>/tsr, in a background thread
    ...  # ipreg anchor --tsa URL --tsa-cert <home>/tsa/root.pem  (and allow 127.0.0.0/8)
    tsa.stop()
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

from registry.errors import ConfigError

#: The policy OID the local authority's tokens carry (under 2.999, the ITU-T arc for examples).
LOCAL_POLICY: Final = "2.999.3161.1"
#: Largest query accepted (a SHA-512 query with a nonce is about 100 bytes).
MAX_QUERY: Final = 4096

_CONFIG: Final = f"""
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ipreg local test TSA root (not trusted anywhere)
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tsa]
default_tsa = local
[local]
serial = ./serial
crypto_device = builtin
signer_digest = sha256
default_policy = {LOCAL_POLICY}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        raise ConfigError("the local time-stamping authority needs the openssl command (OpenSSL 3)")
    return found


def _run(args: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    done = subprocess.run([_openssl(), *args], cwd=cwd, input=stdin, capture_output=True, check=False, timeout=30)
    if done.returncode != 0:
        raise ConfigError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return done.stdout


class LocalAuthority:
    """The local RFC 3161 authority of one home (files in ``<home>/tsa``)."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "tsa"
        #: False: answer 503 to every query (a simulated outage).
        self.available = True
        self.queries = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def root_cert(self) -> Path:
        """The test root's certificate (PEM): the trust anchor of this authority's tokens."""
        return self.dir / "root.pem"

    @property
    def signing_cert(self) -> Path:
        """The time-stamping certificate (PEM)."""
        return self.dir / "tsa.pem"

    def ensure(self) -> LocalAuthority:
        """Create the root, the time-stamping key and certificate, and the configuration if missing."""
        with self._lock:
            if self.signing_cert.is_file() and self.root_cert.is_file():
                return self
            self.dir.mkdir(parents=True, exist_ok=True)
            d = self.dir
            (d / "openssl.cnf").write_text(_CONFIG, encoding="ascii")
            (d / "serial").write_text("01\n", encoding="ascii")
            ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            _run(["req", "-x509", "-new", *ec, "-keyout", "root.key", "-out", "root.tmp", "-days", "3650",
                  "-config", "openssl.cnf", "-extensions", "v3_ca"], d)  # fmt: skip
            _run(["req", "-new", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj",
                  "/CN=ipreg local test TSA (not trusted anywhere)"], d)  # fmt: skip
            issue = ["-CA", "root.tmp", "-CAkey", "root.key", "-CAcreateserial", "-days", "3650"]
            _run(["x509", "-req", "-in", "tsa.csr", *issue, "-out", "tsa.tmp",
                  "-extfile", "openssl.cnf", "-extensions", "v3_tsa"], d)  # fmt: skip
            (d / "tsa.tmp").replace(self.signing_cert)
            (d / "root.tmp").replace(self.root_cert)  # last: its presence means the set is complete
            return self

    def respond(self, query: bytes) -> bytes:
        """The DER reply to a DER time-stamp query (``openssl ts -reply``, signing certificate only)."""
        self.ensure()
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            self.queries += 1
            Path(tmp, "q.tsq").write_bytes(query)
            _run(["ts", "-reply", "-config", "openssl.cnf", "-queryfile", str(Path(tmp, "q.tsq")),
                  "-inkey", "tsa.key", "-signer", "tsa.pem", "-out", str(Path(tmp, "r.tsr"))], self.dir)  # fmt: skip
            return Path(tmp, "r.tsr").read_bytes()

    # -- HTTP

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve queries on ``host:port`` (0: a free port) in a daemon thread; return the URL to POST to."""
        self.ensure()
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                kind = self.headers.get("Content-Type", "")
                if not authority.available:
                    self._send(503, b"unavailable", "text/plain")
                elif kind != "application/timestamp-query" or not 0 < length <= MAX_QUERY:
                    self._send(400, b"expected an application/timestamp-query body", "text/plain")
                else:
                    try:
                        reply = authority.respond(self.rfile.read(length))
                    except ConfigError:
                        self._send(500, b"could not answer", "text/plain")
                    else:
                        self._send(200, reply, "application/timestamp-reply")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-tsa", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        """The URL queries are POSTed to (after :meth:`start`)."""
        assert self._server is not None, "start() the authority first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsr"

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
