"""Encryption at rest for personal data: one data key per event, wrapped by the master key.

Every personal value is sealed with its event's data key: AES-256-GCM (from the `cryptography`
package) under a key derived from it with HKDF-SHA256. The data key itself is a Fernet key, stored
only wrapped (Fernet-encrypted) by the master key, settings.FIELD_ENCRYPTION_KEYS: the first master
key wraps, every one unwraps. When an event's retention ends its data key is destroyed
(`event_keys_destroy`), so whatever copy of its sealed values survives elsewhere (SQLite's WAL,
PostgreSQL's data files and WAL, a backup, a replica) no longer decrypts. A copy of the wrapped data
key may survive in those places too: it is useless once the master key that wrapped it is retired
(docs/deployment.md, "Retention and keys").

A sealed value is stored as `v2:<key id>:<base64 of nonce, ciphertext and tag>`; the key id is
authenticated with it. Values sealed before still read: `v1:<key id>:<Fernet token>` (the data key
used as Fernet: AES-CBC and HMAC-SHA256, a fifth of the speed; docs/performance.md), Fernet tokens
under the master key (arrest records) and plain text (columns that were not encrypted yet).

Nonces are random (96 bits): a key may seal about 2**32 values before two may collide, and a key
seals one event's values.

Without configured keys (local runs only; production refuses to start) a master key is derived from
SECRET_KEY so the embedded default works out of the box.
"""

import base64
import hashlib
import os
import secrets
import threading
from contextlib import contextmanager
from functools import cache, lru_cache
from operator import attrgetter

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django import forms
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.db.models import Q

SEALED_PREFIX = "v2:"  # what `seal` writes
SEALED_PREFIXES = ("v1:", SEALED_PREFIX)  # what `unseal` opens with a data key
VERSION_LENGTH = 3  # of each of those prefixes
KEY_ID_LENGTH = 16  # hex characters of a random key id
TOKEN_START = "gAAAA"  # every Fernet token starts so (its version byte is 0x80)
NONCE_BYTES = 12

MSG_KEY_DESTROYED = "This value was sealed with a data key that no longer exists."
MSG_UNREADABLE = "Encrypted value cannot be read with the configured keys."
MSG_WRITE_THROUGH_SAVE = (
    "{field} is encrypted with its event's key: it is written through save() or create(), and"
    " neither searched nor written with filter() or update()."
)


class Stored(str):
    """A value already in its stored form (a sealed value, or text that is meant to stay clear,
    such as a lookup prefix or a purged frame): written and compared as it is."""


# --- The master key ------------------------------------------------------------------------------


@cache
def _fernets(keys: tuple[str, ...], secret: str) -> tuple[Fernet, ...]:
    if not keys:
        derived = hashlib.sha256(b"fieldops-field-encryption:" + secret.encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return tuple(Fernet(key.encode()) for key in keys)


@cache
def _multi(fernets: tuple[Fernet, ...]) -> MultiFernet:
    return MultiFernet(list(fernets))


def fernet() -> MultiFernet:
    """The master key (all configured keys; the first one encrypts)."""
    return _multi(_fernets(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY))


def _first_master_key() -> Fernet:
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)[0]


def encrypt(text: str) -> str:
    """Encrypt with the master key (data keys are wrapped so; personal values are `seal`ed)."""
    return fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(MSG_UNREADABLE) from exc


# --- Per-event data keys -------------------------------------------------------------------------


class DataKey:
    """An event's data key, as it seals (AES-GCM under a key derived from it) and as it opened the
    values sealed before (Fernet)."""

    __slots__ = ("aad", "aead", "fernet", "key_id")

    def __init__(self, key_id: str, raw: bytes):
        # raw: the key as stored, a Fernet key (32 random bytes, base64)
        self.key_id = key_id
        self.aad = key_id.encode()  # the key id, authenticated with each value
        self.fernet = Fernet(raw)
        derive = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"fieldops seal v2")
        self.aead = AESGCM(derive.derive(base64.urlsafe_b64decode(raw)))

    def seal(self, text: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.aead.encrypt(nonce, text.encode(), self.aad)
        return f"{SEALED_PREFIX}{self.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, version: str, token: str) -> str:
        try:
            if version == "v1:":
                return self.fernet.decrypt(token.encode()).decode()
            sealed = base64.urlsafe_b64decode(token)
            return self.aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], self.aad).decode()
        except (InvalidToken, InvalidTag, ValueError) as exc:  # binascii.Error is a ValueError
            raise ValueError(MSG_UNREADABLE) from exc


# Key ids are random, so an id once seen always names the same key: this cache never goes stale,
# it only keeps a key a little longer than the database does (until the process ends).
_BY_ID: dict[str, DataKey] = {}
# event id -> (key, the transaction it was read in). Which key is the event's is read again in
# every transaction: a key may have been destroyed since, or created by a rolled-back one.
_BY_EVENT: dict[int, tuple[DataKey, object]] = {}


def _unwrap(key_id: str, wrapped: str) -> DataKey:
    key = _BY_ID.get(key_id)
    if key is None:
        key = _BY_ID[key_id] = DataKey(key_id, decrypt(wrapped).encode())
    return key


# (event id, key) that a transaction sealing many values of one event read once
# (`data_key_held`): its seals take it from here, without asking which transaction is open.
_held = threading.local()


@contextmanager
def data_key_held(*, event_id: int):
    """Around work that seals many values of one event (a batch of check-ins, from the rows it
    builds before the event's lock to the entries it writes under it): the event's key, read once
    here, for every seal until the block ends. Inside a block holding the same event's key, that
    key."""
    previous = getattr(_held, "key", None)
    if previous is not None and previous[0] == event_id:
        yield
        return
    _held.key = (event_id, event_data_key(event_id=event_id))
    try:
        yield
    finally:
        _held.key = previous


def event_data_key(*, event_id: int) -> DataKey:
    """The event's data key, created on first use."""
    from fieldops.models import EventKey

    held = getattr(_held, "key", None)
    if held is not None and held[0] == event_id:
        return held[1]

    # The outermost atomic block names the transaction (None in autocommit: read every time). The
    # connection itself, not django.db.connection: every seal asks, and that proxy looks it up.
    db = connections[DEFAULT_DB_ALIAS]
    current = db.atomic_blocks[0] if db.in_atomic_block else None
    cached = _BY_EVENT.get(event_id)
    if cached is not None and current is not None and cached[1] is current:
        return cached[0]
    row = _event_key_row(event_id)
    if row is None:
        raw = Fernet.generate_key()
        try:
            with transaction.atomic():
                created = EventKey.objects.create(
                    event_id=event_id,
                    key_id=secrets.token_hex(KEY_ID_LENGTH // 2),
                    wrapped=encrypt(raw.decode()),
                )
        except IntegrityError:  # another worker created it first
            row = EventKey.objects.filter(event_id=event_id).values_list("key_id", "wrapped").get()
        else:
            _BY_ID[created.key_id] = DataKey(created.key_id, raw)
            row = created.key_id, created.wrapped
    key = _unwrap(*row)
    _BY_EVENT[event_id] = (key, current)
    return key


def _event_key_row(event_id: int) -> tuple[str, str] | None:
    # Read in every transaction that seals (each check-in): one statement, without the ORM's
    # query compiler (docs/performance.md).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key_id, wrapped FROM fieldops_eventkey WHERE event_id = %s ORDER BY id LIMIT 1",
            [event_id],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def seal(text: str, *, event_id: int) -> Stored:
    """`text` encrypted with the event's data key, in its stored form."""
    return Stored(event_data_key(event_id=event_id).seal(text))


def is_sealed(stored: str) -> bool:
    """Whether `stored` was sealed with a data key (v2, or v1 before it)."""
    end = VERSION_LENGTH + KEY_ID_LENGTH
    if not stored.startswith(SEALED_PREFIXES) or stored[end : end + 1] != ":":
        return False
    return stored.startswith(SEALED_PREFIX) or stored[end + 1 : end + 6] == TOKEN_START


def sealed_filter(name: str) -> Q:
    """The rows whose column `name` holds a value sealed with a data key."""
    found = Q()
    for prefix in SEALED_PREFIXES:
        found |= Q(**{f"{name}__startswith": Stored(prefix)})
    return found


def unseal(stored: str) -> str:
    """The text of a stored value: sealed, a legacy master-key token, or plain."""
    if is_sealed(stored):
        key_id, token = stored[VERSION_LENGTH:].split(":", 1)
        key = _BY_ID.get(key_id)
        if key is None:
            from fieldops.models import EventKey

            wrapped = EventKey.objects.filter(key_id=key_id).values_list("wrapped", flat=True)
            if not wrapped:
                raise ValueError(MSG_KEY_DESTROYED)
            key = _unwrap(key_id, wrapped[0])
        return key.open(stored[:VERSION_LENGTH], token)
    if stored.startswith(TOKEN_START):
        return decrypt(stored)
    return stored


@lru_cache(maxsize=4096)
def _frame_text(stored: str) -> str:
    return unseal(stored)


def frame_text(stored: str) -> str:
    """A journal frame as sent on the wire, from its stored form. Replays send the same entries to
    many sockets: the text of recent frames is kept so each is decrypted about once per worker."""
    return stored if stored.startswith("{") else _frame_text(stored)


def event_keys_destroy(*, event_id: int) -> int:
    """Destroy the event's data key(s), inside the caller's transaction: every value sealed with
    them, wherever a copy of it lies, can no longer be read."""
    from fieldops.models import EventKey

    doomed = list(EventKey.objects.filter(event_id=event_id).values_list("key_id", flat=True))
    deleted, _ = EventKey.objects.filter(event_id=event_id).delete()

    def forget() -> None:
        _BY_EVENT.pop(event_id, None)
        for key_id in doomed:
            _BY_ID.pop(key_id, None)
        _frame_text.cache_clear()

    transaction.on_commit(forget)
    return deleted


def keys_forget() -> None:
    """Drop every data key (and opened frame) this process holds: it reads them again, as a worker
    that has just started would."""
    _BY_ID.clear()
    _BY_EVENT.clear()
    _frame_text.cache_clear()


def master_rotate(token: str) -> str | None:
    """`token` (encrypted with a master key: a wrapped data key, a value sealed before data keys)
    encrypted with the first master key instead, or None when the first one already opens it.
    ValueError when no configured master key opens it."""
    try:
        _first_master_key().decrypt(token.encode())
    except InvalidToken:
        try:
            return fernet().rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(MSG_UNREADABLE) from exc
    return None


def event_keys_rewrap() -> int:
    """Wrap every data key not wrapped by the first master key with it; returns how many. After
    this has run with a new master key first, the old master key can be retired."""
    from fieldops.models import EventKey

    count = 0
    for key in EventKey.objects.all():
        rotated = master_rotate(key.wrapped)
        if rotated is not None:
            key.wrapped = rotated
            key.save(update_fields=["wrapped"])
            count += 1
    return count


# --- Model fields --------------------------------------------------------------------------------


class EncryptedTextField(models.TextField):
    """A text column sealed with the data key of its row's event (`event_path`: the attribute path
    from the row to the event id); the empty string stays empty (nothing to hide).

    Values are sealed in pre_save, where the row is known: write them through save() or create();
    an update() with a value that is not `Stored` is refused rather than stored in clear.
    """

    def __init__(self, *args, event_path: str = "event_id", **kwargs):
        self.event_path = event_path
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.event_path != "event_id":
            kwargs["event_path"] = self.event_path
        return name, path, args, kwargs

    def to_text(self, value) -> str:
        return str(value)

    def from_db_value(self, value, expression, connection):
        if not isinstance(value, str) or value == "":
            return self.to_python(value)
        return self.to_python(unseal(value))

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        if value in (None, "") or isinstance(value, Stored):
            return value
        event_id = attrgetter(self.event_path)(model_instance)
        return seal(self.to_text(value), event_id=event_id)

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        if isinstance(value, Stored):
            return str(value)
        raise ValueError(MSG_WRITE_THROUGH_SAVE.format(field=f"{self.model.__name__}.{self.name}"))


class EncryptedFloatField(EncryptedTextField):
    """A number (a latitude, a longitude) sealed like EncryptedTextField, read back as a float."""

    description = "Floating point number, encrypted"

    def to_text(self, value) -> str:
        return repr(float(value))

    def to_python(self, value):
        if value is None or value == "" or isinstance(value, float):
            return value
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(f"{value!r} is not a number.") from exc

    def formfield(self, **kwargs):
        return models.Field.formfield(self, **{"form_class": forms.FloatField, **kwargs})
