# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway project for local ansible-playbook runs, with inline-vaulted variables."""

from __future__ import annotations

import sys
import textwrap

VAULT_PASSWORD = "pass"


def vault_text(plaintext, password=VAULT_PASSWORD):
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(password.encode()))]).encrypt(plaintext).decode()


def write_local_project(base, vaulted, plain="", inventory="wiki1 sla_customer=acme\n"):
    """``base``/vault-pass, an inventory and group_vars/all.yml for the local connection,
    with each of ``vaulted`` as an inline ``!vault`` value and ``plain`` appended as is."""
    (base / "vault-pass").write_text(VAULT_PASSWORD)
    (base / "group_vars").mkdir()
    lines = [
        "ansible_connection: local",
        f"ansible_python_interpreter: {sys.executable}",
        *(
            f"{name}: !vault |\n{textwrap.indent(vault_text(value), '  ')}"
            for name, value in vaulted.items()
        ),
    ]
    (base / "group_vars" / "all.yml").write_text("\n".join(lines) + "\n" + plain)
    (base / "inventory.ini").write_text(inventory)
