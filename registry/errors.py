"""Error types of the registry: one base with ``diagnostics()``, one subclass per area.

The CLI and the service catch :class:`RegistryError` once and show ``diagnostics()``: a
single line naming the problem. Nothing in this module prints or exits.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every error the registry reports to a user."""

    #: Short machine-readable code used by the HTTP API (``errorCode``).
    code = "registryError"
    #: HTTP status the service answers with.
    http_status = 400

    def diagnostics(self) -> str:
        """One line for a person: what went wrong, naming the input."""
        return str(self).splitlines()[0] if str(self) else self.__class__.__name__


class InputError(RegistryError):
    """A file, flag or request body the registry cannot accept."""

    code = "invalidInput"


class CanonicalizationError(InputError):
    """Content that cannot be canonicalized (malformed or hostile XML/JSON)."""

    code = "invalidContent"


class RecordIdError(InputError):
    """A record id, office code, number or kind code that is not valid."""

    code = "invalidRecordId"


class BundleError(InputError):
    """A proof bundle that is not a valid ``ipreg-proof-v1`` document."""

    code = "invalidProofBundle"


class Interrupted(RegistryError):
    """The user stopped a command (Ctrl-C); the message says what was done and how to resume."""

    code = "interrupted"


class ConfigError(RegistryError):
    """Missing or inconsistent configuration (deployment, keystore, endpoint)."""

    code = "configuration"
    http_status = 500


class ChainError(RegistryError):
    """The chain endpoint failed or a transaction reverted."""

    code = "chain"
    http_status = 502


class NodeUnavailableError(ChainError):
    """The JSON-RPC endpoint cannot be reached."""

    code = "nodeUnavailable"
    http_status = 503


class TransactionTimeout(ChainError):
    """A transaction was broadcast but not mined in time (it may still be mined later)."""

    code = "transactionTimeout"
    http_status = 504


class ContractRevertError(ChainError):
    """A contract call reverted; the message names the custom error and its values."""

    code = "contractRevert"
    http_status = 409


class StoreError(RegistryError):
    """The local store (SQLite) is unusable or inconsistent."""

    code = "store"
    http_status = 500


class AuthError(RegistryError):
    """Missing or wrong credentials for an office write."""

    code = "unauthorised"
    http_status = 401


class ForbiddenError(AuthError):
    """Valid credentials, but not for this office."""

    code = "forbidden"
    http_status = 403


class NotFoundError(RegistryError):
    """The requested office, batch or record does not exist."""

    code = "notFound"
    http_status = 404
