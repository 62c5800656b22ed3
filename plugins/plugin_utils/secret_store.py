# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where rotated credentials live: one ansible-vault encrypted file per customer.

A rotation is two-phase on both sides. The new secret is staged here
before the host changes, so a run killed half-way never leaves a live
password that nobody knows; it becomes current only after the host proved
a login with it, and is discarded when the host put the old one back.
``SecretStore`` is the whole interface a HashiCorp Vault backend would
implement.
"""

from __future__ import annotations

import fcntl
import os

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaOperationError

VAULT_ID = "twovalue_sla"


class SecretStoreError(SlaOperationError):
    pass


class SecretStore:
    """Current and staged secrets of one customer, by credential id."""

    def current(self, credential):
        raise NotImplementedError

    def stage(self, credential, secret, when):
        raise NotImplementedError

    def commit(self, credential, when):
        raise NotImplementedError

    def discard(self, credential):
        raise NotImplementedError


def read_vault_password(path):
    try:
        with open(path, "rb") as handle:
            password = handle.read().strip()
    except OSError as exc:
        raise SecretStoreError(
            f"vault password file {path} cannot be read: {exc.strerror}"
        ) from exc
    if not password:
        raise SecretStoreError(f"vault password file {path} is empty")
    return password


class VaultFileStore(SecretStore):
    """``<directory>/<customer>.vault.yml``, readable with ``ansible-vault view``."""

    def __init__(self, directory, customer, password):
        self.path = os.path.join(os.path.expanduser(directory), f"{customer}.vault.yml")
        self._vault = VaultLib([(VAULT_ID, VaultSecret(password))])

    def _load(self):
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return {"credentials": {}, "pending": {}}
        try:
            document = yaml.safe_load(self._vault.decrypt(data)) or {}
        except Exception as exc:  # noqa: BLE001 - any decrypt failure means the same to the operator
            raise SecretStoreError(
                f"{self.path} cannot be opened with the vault password: {type(exc).__name__}"
            ) from None
        document.setdefault("credentials", {})
        document.setdefault("pending", {})
        return document

    def _save(self, document):
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        text = yaml.safe_dump(document, sort_keys=True, default_flow_style=False)
        encrypted = self._vault.encrypt(text, vault_id=VAULT_ID)
        atomic_write(self.path, encrypted, mode=0o600)

    def _update(self, change):
        """Read, change and write the file under an exclusive lock: parallel hosts share it."""
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        with open(f"{self.path}.lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            document = self._load()
            change(document)
            self._save(document)

    def current(self, credential):
        entry = self._load()["credentials"].get(credential)
        return None if entry is None else entry["secret"]

    def stage(self, credential, secret, when):
        def change(document):
            entry = {"secret": secret, "staged_at": when}
            left = document["pending"].get(credential)
            if left is not None:
                # Staged by a rotation that was interrupted: the host may run on it, so it is
                # kept until this rotation is committed, and staged again if it is discarded.
                earlier = [{"secret": left["secret"], "staged_at": left["staged_at"]}]
                entry["earlier"] = earlier + left.get("earlier", [])
            document["pending"][credential] = entry

        self._update(change)

    def commit(self, credential, when):
        def change(document):
            pending = document["pending"].pop(credential, None)
            if pending is None:
                raise SecretStoreError(f"no staged secret for {credential} to commit")
            document["credentials"][credential] = {"secret": pending["secret"], "rotated_at": when}

        self._update(change)

    def discard(self, credential):
        def change(document):
            entry = document["pending"].pop(credential, None)
            earlier = (entry or {}).get("earlier") or []
            if earlier:
                latest, *older = earlier
                document["pending"][credential] = dict(
                    latest, **({"earlier": older} if older else {})
                )

        self._update(change)
