"""RFC 3161 requests and tokens over a batch root: building the request, checking a reply, checking a token offline.

The message time-stamped is the root's 32 bytes; the imprint is their SHA-256 (the root is a keccak
hash, so it is not passed off as a SHA-256 value itself). :func:`check_token` is the one rule that
decides what a token proves, for every caller: the imprint equals SHA-256(root), the CMS signature
verifies, the signer's certificate chains to a configured trust anchor and carries the critical
time-stamping extended key usage, every certificate is valid at the token's own time, and the policy
is the anchor's if it names one. Anything less gives a status other than ``valid`` and no time.

Uses ``rfc3161-client`` (the library sigstore-python uses); tokens are stored bare (a DER
``TimeStampToken``) and wrapped into a granted ``TimeStampResp`` for the library's parser.

Usage::

    request = new_request(root)                                  # SHA-256, fresh nonce, certReq
    token = token_of_reply(reply_bytes, request, root)           # TimestampError unless granted and matching
    result = check_token(TimestampToken(url, token), root, anchors, block_time)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from registry.core.stamps import TimestampToken
from registry.errors import RegistryError

if TYPE_CHECKING:  # the libraries load on first use: a verification without tokens never imports them
    from cryptography import x509
    from rfc3161_client import TimeStampResponse

#: OID of SHA-256 in a message imprint.
SHA256_OID: Final = "2.16.840.1.101.3.4.2.1"
#: Default largest difference between the authority's time and the block's before a token "disagrees".
DEFAULT_TOLERANCE: Final = 3600.0

VALID: Final = "valid"
#: Malformed, not over this root, bad signature, no time-stamping EKU, a certificate not valid at its time.
INVALID: Final = "invalid"
#: Well formed but its signer does not chain to any configured trust anchor (or another policy).
UNTRUSTED: Final = "untrusted"
#: Valid and trusted, but its time differs from the block's by more than the tolerance.
DISAGREES: Final = "disagrees"
#: No trust anchors configured on this path: the token was not checked, its time is not shown.
UNCHECKED: Final = "unchecked"


class TimestampError(RegistryError):
    """A time-stamp reply that is refused, or an authority that could not give one."""

    code = "timestamp"


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """Certificates a verifier trusts for time-stamps: root(s), optional intermediates and policy OID.

    ``authority`` (a URL or name) limits the anchor to tokens labelled with that authority; None
    accepts any (e.g. roots taken from an eIDAS trusted list).
    """

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    policy: str | None = None
    authority: str | None = None

    def applies_to(self, authority: str) -> bool:
        """Whether tokens labelled ``authority`` are checked against this anchor."""
        return self.authority is None or self.authority == authority


@dataclass(frozen=True, slots=True)
class Request:
    """A time-stamp query's DER bytes and its nonce."""

    der: bytes
    nonce: int


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What one token proves about a root: status, the authority's time (only when authentic), why."""

    authority: str
    status: str
    detail: str
    #: The authority's time (UTC ISO 8601), set only for ``valid`` and ``disagrees`` tokens.
    time: str | None = None
    #: Seconds between the authority's time and the block's (authority minus block), when both are known.
    offset: float | None = None
    serial: int | None = None
    policy: str | None = None
    #: The subject of the certificate that signed the token (set once the token verified): who says so,
    #: whatever the bundle's ``authority`` label claims.
    signer: str | None = None

    def to_json(self) -> dict[str, object]:
        """lowerCamelCase JSON (CLI ``--json``, the API)."""
        return {
            "authority": self.authority,
            "status": self.status,
            "time": self.time,
            "offsetSeconds": self.offset,
            "serialNumber": str(self.serial) if self.serial is not None else None,
            "policy": self.policy,
            "signer": self.signer,
            "detail": self.detail,
        }


def imprint(root: str) -> bytes:
    """The SHA-256 imprint time-stamped for a root (``0x``-hex of 32 bytes)."""
    return hashlib.sha256(root_bytes(root)).digest()


def root_bytes(root: str) -> bytes:
    """The 32 bytes of a ``0x``-hex root."""
    raw = bytes.fromhex(root[2:] if root.startswith("0x") else root)
    if len(raw) != 32:
        raise TimestampError(f"a batch root has 32 bytes, got {len(raw)}")
    return raw


def new_request(root: str) -> Request:
    """A time-stamp query for ``root``: SHA-256 imprint, a fresh 64-bit nonce, the signer's certificate asked for."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    built = (
        TimestampRequestBuilder()
        .data(root_bytes(root))
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    assert built.nonce is not None
    return Request(built.as_bytes(), int(built.nonce))


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def parse_token(token: bytes) -> TimeStampResponse:
    """A bare DER ``TimeStampToken`` as the library's response object (wrapped in a granted status)."""
    from rfc3161_client import decode_timestamp_response

    body = b"\x30\x03\x02\x01\x00" + token  # PKIStatusInfo { status granted (0) }, then the token
    return decode_timestamp_response(b"\x30" + _der_length(len(body)) + body)


def token_of_reply(reply: bytes, request: Request, root: str, anchors: Sequence[TrustAnchor] = ()) -> bytes:
    """The token of an authority's reply to ``request``: status granted, same nonce, imprint of ``root``, SHA-256;
    verified against ``anchors`` too when some are given. TimestampError naming what is wrong."""
    from rfc3161_client import PKIStatus, decode_timestamp_response

    try:
        response = decode_timestamp_response(reply)
    except Exception as exc:  # the parser raises ValueError and its own errors for malformed DER
        raise TimestampError(f"the reply is not an RFC 3161 time-stamp response ({type(exc).__name__})") from None
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        text = "; ".join(response.status_string)[:200]
        raise TimestampError(
            f"the authority refused the request (status {response.status}{': ' + text if text else ''})"
        )
    info = response.tst_info
    if info.nonce != request.nonce:
        raise TimestampError("the reply's nonce is not the request's (a replayed or foreign reply)")
    if info.message_imprint.hash_algorithm.dotted_string != SHA256_OID or info.message_imprint.message != imprint(root):
        raise TimestampError("the reply time-stamps another imprint than SHA-256 of the batch root")
    token = response.time_stamp_token()
    if anchors:
        check = check_token(TimestampToken("reply", token), root, anchors, None)
        if check.status != VALID:
            raise TimestampError(f"the reply's token is {check.status}: {check.detail}")
    return token


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` (seconds, or microseconds when the authority gave a fraction)."""
    moment = _utc(moment).astimezone(UTC)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _untrusted(message: str) -> bool:
    """Whether a chain error means 'no path to a trust anchor' (not a broken signature or a bad certificate)."""
    text = message.lower()
    return any(
        marker in text
        for marker in ("unable to get local issuer", "unable to get issuer", "self-signed certificate in certificate")
    )


def check_token(
    entry: TimestampToken,
    root: str,
    anchors: Sequence[TrustAnchor],
    block_time: datetime | None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> TokenCheck:
    """What ``entry`` proves about ``root``, checked offline against ``anchors`` (see the module docstring)."""
    who = entry.authority
    try:
        response = parse_token(entry.token)
        info = response.tst_info
        algorithm, message = info.message_imprint.hash_algorithm, info.message_imprint.message
        gen_time, serial, policy = _utc(info.gen_time), int(info.serial_number), info.policy.dotted_string
    except Exception as exc:  # malformed DER in any part the parser reads lazily
        return TokenCheck(who, INVALID, f"not an RFC 3161 time-stamp token ({type(exc).__name__})")
    if algorithm.dotted_string != SHA256_OID:
        return TokenCheck(who, INVALID, f"imprint algorithm {algorithm.dotted_string} is not SHA-256", serial=serial)
    if message != imprint(root):
        detail = (
            f"the token time-stamps imprint {message.hex()[:16]}…, not SHA-256 of root {root}: it is over another root"
        )
        return TokenCheck(who, INVALID, detail, serial=serial, policy=policy)
    usable = [a for a in anchors if a.applies_to(who)]
    if not usable:
        detail = "no trust anchor configured for this authority: the token's signature and time were not checked"
        return TokenCheck(who, UNCHECKED, detail, serial=serial, policy=policy)
    from cryptography import x509
    from rfc3161_client import VerificationError, VerifierBuilder

    problems: list[str] = []
    for anchor in usable:
        builder = VerifierBuilder(
            roots=list(anchor.roots),
            intermediates=list(anchor.intermediates),
            policy_id=x509.ObjectIdentifier(anchor.policy) if anchor.policy else None,
        )
        try:
            builder.build().verify(response, imprint(root))
        except (VerificationError, ValueError) as exc:
            problems.append(str(exc)[:300])
            continue
        break
    else:
        if all(_untrusted(p) for p in problems):
            detail = "its signer does not chain to any configured trust anchor (an untrusted authority)"
            return TokenCheck(who, UNTRUSTED, detail, serial=serial, policy=policy)
        if any("Policy ID mismatch" in p for p in problems):
            return TokenCheck(who, UNTRUSTED, f"policy {policy} is not the one the anchor requires", serial=serial)
        detail = next(p for p in problems if not _untrusted(p))
        return TokenCheck(who, INVALID, f"the token does not verify: {detail}", serial=serial, policy=policy)
    when = iso(gen_time)
    signer = _signer_name(response)
    if block_time is None:
        return TokenCheck(who, VALID, f"signed by {signer} at {when}", when, None, serial, policy, signer)
    offset = (gen_time - _utc(block_time)).total_seconds()
    if abs(offset) > tolerance:
        detail = (
            f"authentic, but the authority's time {when} is {abs(offset):.0f} s"
            f" {'after' if offset > 0 else 'before'} the block's (tolerance {tolerance:.0f} s)"
        )
        return TokenCheck(who, DISAGREES, detail, when, offset, serial, policy, signer)
    side = "after" if offset > 0 else "before"
    detail = f"signed by {signer} (trusted) at {when}, {abs(offset):.0f} s {side} the block"
    return TokenCheck(who, VALID, detail, when, offset, serial, policy, signer)


def _signer_name(response: TimeStampResponse) -> str:
    """The subject of the certificate named by the token's SignerInfo (the one the library verified)."""
    from cryptography import x509

    infos = list(response.signed_data.signer_infos)
    for der in response.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if infos and cert.issuer == infos[0].issuer and cert.serial_number == infos[0].serial_number:
            return cert.subject.rfc4514_string()[:200]
    return "a trusted authority"


def token_time(token: bytes) -> str | None:
    """The time a token states (UTC ISO 8601), for display of tokens this home checked when it stored them;
    None if it cannot be read. Verification uses :func:`check_token`, never this."""
    try:
        return iso(parse_token(token).tst_info.gen_time)
    except Exception:  # a malformed token shows no time
        return None
