# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import subprocess
import sys

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.secret_store import (
    SecretStoreError,
    VaultFileStore,
    read_vault_password,
)

SECRET = "PLANTED-rotated-secret-7731"


def test_a_secret_is_current_only_after_commit_and_the_file_opens_with_ansible_vault(tmp_path):
    password_file = tmp_path / "vault-password"
    password_file.write_text("PLANTED-vault-password-7731\n")
    store = VaultFileStore(str(tmp_path / "vault"), "acme", read_vault_password(str(password_file)))
    store.stage("db_user/wikiuser@localhost", SECRET, "2026-11-30T06:30:00+01:00")
    assert store.current("db_user/wikiuser@localhost") is None
    raw = (tmp_path / "vault" / "acme.vault.yml").read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.2;AES256;twovalue_sla") and SECRET.encode() not in raw
    store.commit("db_user/wikiuser@localhost", "2026-11-30T06:31:00+01:00")
    assert store.current("db_user/wikiuser@localhost") == SECRET
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "ansible.cli.vault",
            "view",
            "--vault-password-file",
            str(password_file),
            str(tmp_path / "vault" / "acme.vault.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert SECRET in shown.stdout and "pending: {}" in shown.stdout


def test_a_discarded_secret_leaves_the_current_one(tmp_path):
    store = VaultFileStore(str(tmp_path), "acme", b"pw")
    store.stage("x", "first", "t1")
    store.commit("x", "t1")
    store.stage("x", "second", "t2")
    store.discard("x")
    assert store.current("x") == "first"
    with pytest.raises(SecretStoreError, match="no staged secret for x"):
        store.commit("x", "t3")


def test_a_wrong_vault_password_is_a_clear_error(tmp_path):
    VaultFileStore(str(tmp_path), "acme", b"right").stage("x", "s", "t")
    with pytest.raises(SecretStoreError, match="cannot be opened with the vault password"):
        VaultFileStore(str(tmp_path), "acme", b"wrong").current("x")


def test_a_secret_staged_by_an_interrupted_rotation_survives_a_failed_retry(tmp_path):
    """Killed after the host took "first" and before the commit, then a retry that fails
    and puts the host back on "first": the vault must still hold "first"."""
    store = VaultFileStore(str(tmp_path), "acme", b"pw")
    store.stage("x", "first", "t1")
    store.stage("x", "second", "t2")
    store.discard("x")
    store.commit("x", "t3")
    assert store.current("x") == "first"


def test_a_committed_retry_leaves_nothing_staged(tmp_path):
    store = VaultFileStore(str(tmp_path), "acme", b"pw")
    for number, secret in enumerate(("first", "second", "third")):
        store.stage("x", secret, f"t{number}")
    store.discard("x")
    store.discard("x")
    store.stage("x", "fourth", "t4")
    store.commit("x", "t5")
    assert store.current("x") == "fourth"
    assert store._load()["pending"] == {}
