"""Plugin secrets at rest: the secret properties of a plugin's settings (``settings.is_secret``)
are stored encrypted, with a key that is never in the database.

A stored secret is one string, an *envelope*: ``nentang-secret:v1:<key id>:<Fernet token>``. The
token holds the JSON of the value (any JSON type), authenticated (AES-128-CBC + HMAC-SHA256, the
``cryptography`` library's Fernet). The key id is the first 12 hex digits of the SHA-256 of the
key, so a reader knows which key a row needs without trying them all, and a row sealed with a key
the worker does not hold fails with that id in the message instead of decrypting to nothing.

Where the key comes from (:meth:`SecretBox.for_settings`):

- ``NENTANG_SECRETS_KEY``: one or more Fernet keys separated by commas. The first seals new
  values; every listed key opens. Rotation: put a new key first, keep the old ones, run
  ``nentang plugin reseal``, then drop the old keys. Required in production mode.
- otherwise (development mode only) a key file generated on first use under the instance folder
  (beside the SQLite database, else ``var/``): ``secrets.key``, mode 0600.

Rows written before encryption existed hold plaintext secrets: they are read as they are, sealed
on the next write of those settings, and ``nentang plugin reseal`` seals them all at once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, final

from cryptography.fernet import Fernet, InvalidToken

from nentang.kernel.plugins.settings import is_secret
from nentang.kernel.settings import Settings, sqlite_path
from nentang.sdk.errors import IntegrityError, ValidationFailed

PREFIX: Final = "nentang-secret:v1:"
KEY_VARIABLE: Final = "NENTANG_SECRETS_KEY"
KEY_FILE_NAME: Final = "secrets.key"


class SecretUnreadable(IntegrityError):
    """A stored secret cannot be opened with the keys this worker holds (wrong or missing key,
    or a damaged value). Never answered with an empty value: the plugin call fails."""

    code = "secrets.unreadable"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


@final
class SecretBox:
    """Seals and opens plugin secrets with the configured keys (the first one seals)."""

    __slots__ = ("_fernets", "_missing", "sealing_id")

    def __init__(self, keys: Sequence[bytes], *, missing: str | None = None) -> None:
        if not keys and missing is None:
            raise ValidationFailed("a secrets key ring needs at least one key", code="secrets.key")
        #: Why there is no key (production without ``NENTANG_SECRETS_KEY``): sealing or opening
        #: then fails with it, and so does :meth:`require`, which the server calls at start.
        self._missing = missing
        self._fernets: dict[str, Fernet] = {}
        self.sealing_id = ""
        for key in keys:
            try:
                self._fernets[key_id(key)] = Fernet(key)
            except (ValueError, TypeError) as exc:
                raise ValidationFailed(
                    f"{KEY_VARIABLE}: each key must be 32 bytes in URL-safe base64 (44 characters, as "
                    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
                    f"prints); one is not ({exc})",
                    code="secrets.key",
                ) from exc
        if keys:
            self.sealing_id = key_id(keys[0])

    @classmethod
    def parse(cls, value: str) -> SecretBox:
        """A box from ``NENTANG_SECRETS_KEY``'s text: keys separated by commas, newest first."""
        keys = [part.strip().encode() for part in value.split(",") if part.strip()]
        if not keys:
            raise ValidationFailed(f"{KEY_VARIABLE} is set but holds no key", code="secrets.key")
        return cls(keys)

    @classmethod
    def for_settings(cls, settings: Settings) -> SecretBox:
        """The configured key ring; in production a missing key refuses to start."""
        if settings.secrets_key is not None:
            return cls.parse(settings.secrets_key)
        if settings.mode == "production":
            # one-shot commands that touch no secret (migrations, tenants) run without the key;
            # the server refuses to start (Kernel.start calls require())
            return cls([], missing=_MISSING_IN_PRODUCTION)
        return cls([_development_key(key_file_of(settings))])

    def require(self) -> None:
        """Raise ``secrets.key`` unless a key is configured."""
        if self._missing is not None:
            raise ValidationFailed(self._missing, code="secrets.key")

    # -- one value --------------------------------------------------------------------------

    def seal(self, value: Any) -> str:
        self.require()
        token = self._fernets[self.sealing_id].encrypt(json.dumps(value, ensure_ascii=False).encode())
        return f"{PREFIX}{self.sealing_id}:{token.decode()}"

    def open(self, envelope: str) -> Any:
        self.require()
        kid, _, token = envelope[len(PREFIX) :].partition(":")
        fernet = self._fernets.get(kid)
        if fernet is None:
            raise SecretUnreadable(
                f"a plugin secret was sealed with key {kid!r}, which this worker does not hold "
                f"(it holds {', '.join(sorted(self._fernets))}): set {KEY_VARIABLE} to include that key"
            )
        try:
            return json.loads(fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise SecretUnreadable(f"a plugin secret sealed with key {kid!r} is damaged or was altered") from exc

    # -- settings documents -----------------------------------------------------------------

    def open_or_unreadable(self, settings: Mapping[str, Any]) -> Mapping[str, Any]:
        """:meth:`open_secrets`, or :class:`UnreadableSettings` when a secret cannot be opened."""
        try:
            return self.open_secrets(settings)
        except SecretUnreadable as unreadable:
            return UnreadableSettings(unreadable)

    def seal_secrets(self, schema: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``settings`` (plaintext, validated) with every secret property sealed."""
        properties = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
        out: dict[str, Any] = {}
        for key, value in settings.items():
            sub = properties.get(key, {})
            if is_secret(sub):
                out[key] = value if is_sealed(value) else self.seal(value)
            elif isinstance(value, Mapping):
                out[key] = self.seal_secrets(sub, value)
            else:
                out[key] = value
        return out

    def open_secrets(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of stored ``settings`` with every envelope opened (no schema needed)."""
        out: dict[str, Any] = {}
        for key, value in settings.items():
            if is_sealed(value):
                out[key] = self.open(value)
            elif isinstance(value, Mapping):
                out[key] = self.open_secrets(value)
            else:
                out[key] = value
        return out

    def needs_resealing(self, schema: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
        """Whether a stored document has a plaintext secret or one sealed with an older key."""
        self.require()
        properties = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
        for key, value in settings.items():
            sub = properties.get(key, {})
            if is_secret(sub):
                if not is_sealed(value) or not value.startswith(f"{PREFIX}{self.sealing_id}:"):
                    return True
            elif isinstance(value, Mapping) and self.needs_resealing(sub, value):
                return True
        return False


_MISSING_IN_PRODUCTION: Final = (
    f"{KEY_VARIABLE} is required in production mode: plugin secrets are encrypted with it, "
    "and it must not live in the database or beside it (see docs/operations.md)"
)


@final
class UnreadableSettings(Mapping[str, Any]):
    """A plugin's settings whose secrets this worker cannot open: any read raises the reason, so
    the plugin's call fails loudly (and counts against its error budget) while the tenant's other
    plugins go on; never an empty mapping the plugin would take for "not configured"."""

    __slots__ = ("error",)

    def __init__(self, error: SecretUnreadable) -> None:
        self.error = error

    def __getitem__(self, key: str) -> Any:
        raise SecretUnreadable(self.error.message)

    def __iter__(self) -> Iterator[str]:
        raise SecretUnreadable(self.error.message)

    def __len__(self) -> int:
        raise SecretUnreadable(self.error.message)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def refuse_envelopes(plugin: str, settings: Mapping[str, Any]) -> None:
    """Settings from an administrator never hold an envelope: one copied from another row (or
    tenant) would otherwise be opened and handed to this plugin."""
    for key, value in settings.items():
        if is_sealed(value):
            raise ValidationFailed(
                f"settings for {plugin!r}: {key}: a value starting with {PREFIX!r} is reserved for sealed secrets",
                code="plugin.settings",
            )
        if isinstance(value, Mapping):
            refuse_envelopes(plugin, value)


def key_file_of(settings: Settings) -> Path:
    """The development key file: in the instance folder (the SQLite database's, else ``var/``)."""
    if settings.secrets_key_file is not None:
        return settings.secrets_key_file
    database = sqlite_path(settings.database_url)
    return (database.parent if database is not None else Path("var")) / KEY_FILE_NAME


def _development_key(path: Path) -> bytes:
    if path.exists():
        key = path.read_bytes().strip()
        if not key:
            raise ValidationFailed(f"the secrets key file {path} is empty; delete it or restore it", code="secrets.key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:  # O_EXCL: of two workers starting together, one writes and the other reads its key
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _development_key(path)
    with os.fdopen(handle, "wb") as out:
        out.write(key + b"\n")
    return key
