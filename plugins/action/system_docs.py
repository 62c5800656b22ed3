# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.system_docs: a customer's documentation and migration advice.

Reads every documented host's probed state (``sla_state``) and access
register from the inventory, the customer's verified audit trail and the
release catalogues, and writes the documents on the controller. Nothing
runs on the managed host.
"""

from __future__ import annotations

import datetime
import json
import os
import zoneinfo

from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import write_changed
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import as_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.cms_plan import (
    KINDS as CMS_KINDS,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.cms_plan import (
    CmsPlanError,
    validate_catalogue,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import (
    DocumentAction,
    document_argument_spec,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report import load_period
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_date
from ansible_collections.twovalue.sla.plugins.plugin_utils.system_docs import (
    DEFAULT_HORIZON_DAYS,
    DOCUMENTS,
    EXTENSIONS,
    STACK_PRODUCTS,
    DocsError,
    build_docs,
    render_documents,
)

_ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")
STACK_CATALOGUE = os.path.join(_ROLES_DIR, "updates", "files", "release_catalogue.json")
CMS_CATALOGUE = os.path.join(_ROLES_DIR, "cms", "files", "release_catalogue.json")
# The whole trail, as far as any trail can reach.
_TRAIL_START = "1970-01-01T00:00:00Z"
_TRAIL_END = "9999-12-31T00:00:00Z"

ARGUMENT_SPEC = document_argument_spec(
    docs_dir={"type": "path", "required": True},
    hosts={"type": "list", "elements": "str"},
    horizon_days={"type": "int", "default": DEFAULT_HORIZON_DAYS},
    stack_catalogue={"type": "path"},
    cms_catalogue={"type": "path"},
    today={"type": "str"},
)


def load_catalogue_file(path, products):
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DocsError(f"release catalogue {path} cannot be read: {exc}") from exc
    try:
        return validate_catalogue(document, os.path.basename(path), kinds=products)
    except CmsPlanError as exc:
        raise DocsError(str(exc)) from exc


def trail_records(path, key):
    """The verified trail's decision records, or none when the customer has no trail yet.

    ``path`` is a trail file, or a trail store of any backend (audit_store).
    """
    trail = as_trail(path)
    if not trail.exists():
        return [], None
    period = load_period(trail, _TRAIL_START, _TRAIL_END, key=key)
    return period["records"], os.path.basename(trail.path)


class ActionModule(DocumentAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _customer_hosts(self, customer, names, task_vars):
        hostvars = task_vars.get("hostvars", {})
        if names is None:
            names = [
                name
                for name in task_vars.get("ansible_play_hosts", [])
                if hostvars[name].get("sla_customer") == customer
            ]
        hosts = []
        for name in names:
            if name not in hostvars:
                raise DocsError(f"hosts names {name!r}, which is not in the inventory")
            variables = hostvars[name]
            facts = variables.get("ansible_facts") or {}
            hosts.append(
                {
                    "name": name,
                    "environment": variables.get("sla_environment"),
                    "state": facts.get("sla_state"),
                    "grants": variables.get("access_grants"),
                    "control": (facts.get("sla") or {}).get("control"),
                }
            )
        return hosts

    def act(self, args, result):
        task_vars = self.task_vars
        sla = args["sla"]
        with self.documenting("system documentation", sla) as (customer, tier):
            if args["today"]:
                today = parse_date(args["today"], "today")
            else:
                timezone = (sla.get("targets") or {}).get("timezone", "UTC")
                today = datetime.datetime.now(zoneinfo.ZoneInfo(timezone)).date()
            stack = load_catalogue_file(args["stack_catalogue"] or STACK_CATALOGUE, STACK_PRODUCTS)
            cms = load_catalogue_file(args["cms_catalogue"] or CMS_CATALOGUE, CMS_KINDS)
            records, trail_file = trail_records(*self.trail_and_key(args, customer))
            hosts = self._customer_hosts(customer, args["hosts"], task_vars)
            data = build_docs(
                customer,
                tier,
                hosts,
                stack,
                cms,
                today,
                records=records,
                people=task_vars.get("access_people"),
                horizon_days=args["horizon_days"],
                trail_file=trail_file,
            )
            documents = render_documents(data, args["language"])

        folder = os.path.join(args["docs_dir"], customer)
        paths = {
            name: {ext: os.path.join(folder, f"{name}.{ext}") for ext in EXTENSIONS}
            for name in DOCUMENTS
        }
        with self.failing_as(f"system documentation for {customer}", OSError):
            changed = write_changed(
                [
                    (paths[name][ext], documents[name][ext])
                    for name in DOCUMENTS
                    for ext in EXTENSIONS
                ],
                self.check_mode,
            )
        result.update(
            changed=changed,
            paths=paths,
            hosts=[host["name"] for host in data["hosts"]],
            advice=[
                {
                    key: item[key]
                    for key in ("host", "component", "installed", "state", "eol", "extended_until")
                }
                for item in data["advice"]
            ],
        )
        return result
