# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a release may go to a host: promotion from staging, overrides, tier.

Production accepts only an artifact (by SHA-256) that the same customer's
staging ran and passed its health check with, as the audit trail records
it. An explicit override is possible, is recorded with its reason, and on a
tier without the deploy activity (Basic) needs the customer's approval like
every deploy there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile

from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import trail_records
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import may_change

STAGING, PRODUCTION = "staging", "production"


class DeployPlanError(SlaInputError):
    pass


def deploy_change_set(host, sha256):
    canonical = json.dumps({"deploy": sha256.lower(), "host": host}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def staging_passes(trail, sha256):
    """The hosts of the customer's staging on which this artifact was deployed healthy.

    ``trail`` is the customer's trail store (or a trail file's path).
    """
    hosts = set()
    for record in trail_records(trail, sha256):
        result = record.get("result") or {}
        if (
            record.get("kind") == "decision"
            and record.get("activity") == "deploy"
            and record.get("decision") == "applied"
            and not record.get("check_mode")
            and result.get("sha256") == sha256
            and result.get("environment") == STAGING
            and result.get("healthy") is True
        ):
            hosts.add(record.get("host"))
    return hosts


def decide_deploy(environment, targets, sha256, host, passes, override, approval, now, customer):
    """(allowed, reason, approval reference) for deploying ``sha256`` to ``host``."""
    if environment not in (STAGING, PRODUCTION):
        raise DeployPlanError(
            f"sla_environment is {environment!r}; a deploy needs staging or production"
        )
    tier = may_change(
        "deploy",
        targets,
        now,
        approval=approval,
        change_set=deploy_change_set(host, sha256),
        scope={"customer": customer, "host": host},
    )
    if not tier["allowed"]:
        return False, tier["reason"], None
    reference = tier["approval"]
    if environment == STAGING:
        return True, "staging takes any verified artifact", reference
    if passes:
        return (
            True,
            f"promoted: the artifact passed its health check on staging ({', '.join(sorted(passes))})",
            reference,
        )
    if override:
        if not str(override.get("reason") or "").strip():
            raise DeployPlanError("deploy_override needs a reason, which is recorded")
        return True, f"promotion override: {override['reason']}", reference
    return (
        False,
        f"artifact {sha256[:12]}.. was never deployed healthy to this customer's staging; "
        "deploy it to staging first, or give deploy_override with a reason",
        None,
    )


def pack_directory(directory, target):
    """A tar.gz of ``directory`` that is byte-identical for identical content."""

    def normalised(info):
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    top = os.path.basename(os.path.normpath(directory))
    with (
        open(target, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for base, dirs, files in os.walk(directory):
            dirs.sort()
            relative = os.path.relpath(base, directory)
            name = top if relative == "." else os.path.join(top, relative)
            archive.add(base, arcname=name, recursive=False, filter=normalised)
            # os.walk does not enter linked directories; the links themselves belong in the release.
            linked = [d for d in dirs if os.path.islink(os.path.join(base, d))]
            for file_name in sorted(files + linked):
                archive.add(
                    os.path.join(base, file_name),
                    arcname=os.path.join(name, file_name),
                    filter=normalised,
                )
