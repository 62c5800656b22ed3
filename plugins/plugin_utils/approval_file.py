# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The customer's approval of one change set, read from the file an operator passes in.

Every action that may act under an approval (updates, CMS steps, accesses,
rotation, deploys) and the sla_approval_file filter read it here, so a file is
accepted or refused the same way whichever activity it is for.
"""

from __future__ import annotations

import datetime

import yaml
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    GateError,
    approval_status,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import PlanError


def load_approval(path):
    """Read an approval file (YAML or JSON); a file that does not parse is an error."""
    try:
        with open(path, encoding="utf-8") as handle:
            approval = yaml.safe_load(handle)
    except OSError as exc:
        raise PlanError(f"approval file {path} cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"approval file {path} is not valid YAML or JSON: {exc}") from exc
    if not isinstance(approval, dict):
        raise PlanError(
            f"approval file {path} holds {type(approval).__name__}; expected a mapping with "
            "reference, change_set and approved_by"
        )
    # YAML reads an unquoted timestamp as a datetime; the gate wants text or an aware time.
    if isinstance(approval.get("expires"), datetime.datetime):
        approval["expires"] = approval["expires"].isoformat()
    try:
        # Checked against a dummy set: only the approval's own shape matters here.
        approval_status(approval, "", datetime.datetime.now(datetime.UTC))
    except GateError as exc:
        raise PlanError(f"approval file {path}: {exc}") from exc
    return approval
