# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The callback's store options: backend, DSN and password, resolved without a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
PASSWORD = "Callback-Db-Pass-4410"

_SCRIPT = """
import json
from ansible.plugins.loader import callback_loader, init_plugin_loader
init_plugin_loader()
callback = callback_loader.get("twovalue.sla.audit")
try:
    callback.set_options()
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__ + ": " + str(exc)}))
else:
    print(json.dumps({"settings": callback.audit_settings(), "secrets": callback.audit_secrets(),
                      "store": repr(callback._store)}))
"""


def _resolve(**env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLA_AUDIT_")}
    environment.update(
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        **env,
    )
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_file_backend_is_the_default():
    resolved = _resolve(SLA_AUDIT_DIR="/tmp/audit-x")
    assert resolved["settings"]["backend"] == "file"
    assert "backend='file', audit_dir='/tmp/audit-x'" in resolved["store"]


def test_the_database_settings_mask_the_password_and_keep_it_for_the_writers():
    dsn = f"host=db1 port=6543 dbname=sla_audit user=sla password={PASSWORD}"
    resolved = _resolve(SLA_AUDIT_BACKEND="postgresql", SLA_AUDIT_DSN=dsn)
    assert (
        resolved["settings"]["dsn"]
        == "host=db1 port=6543 dbname=sla_audit user=sla password=********"
    )
    assert PASSWORD not in json.dumps(resolved["settings"]) + resolved["store"]
    assert resolved["secrets"]["dsn"] == dsn
    resolved = _resolve(
        SLA_AUDIT_BACKEND="postgresql",
        SLA_AUDIT_DSN="dbname=sla_audit",
        SLA_AUDIT_DB_PASSWORD=PASSWORD,
    )
    assert resolved["secrets"]["db_password"] == PASSWORD
    assert PASSWORD not in json.dumps(resolved["settings"]) + resolved["store"]


def test_bad_backend_settings_stop_the_run_with_what_to_set():
    assert (
        "Invalid value 'mongodb' for config 'backend'"
        in _resolve(SLA_AUDIT_BACKEND="mongodb")["error"]
    )
    error = _resolve(SLA_AUDIT_BACKEND="postgresql")["error"]
    assert error.startswith("AnsibleError: twovalue.sla.audit: the postgresql audit backend needs")
    assert "SLA_AUDIT_DSN" in error
