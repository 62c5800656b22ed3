# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.deploy: promotion gate, trail, upload, one host module run."""

from __future__ import annotations

import datetime
import os
import tempfile

from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import sha256_of
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC
from ansible_collections.twovalue.sla.plugins.module_utils.site_deploy import (
    validate_deploy_params,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import (
    callback_settings,
    customer_trail,
    run_id,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import (
    RECORD_ERRORS,
    ActionFailed,
    DecisionAction,
    decision_argument_spec,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.deploy_plan import (
    DeployPlanError,
    decide_deploy,
    pack_directory,
    staging_passes,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import AuditError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError

ARGUMENT_SPEC = decision_argument_spec(
    artifact={"type": "path", "required": True},
    sha256={"type": "str"},
    version={"type": "str", "required": True},
    release={"type": "str"},
    site_root={"type": "path", "required": True},
    site_url={"type": "str", "required": True},
    version_marker={"type": "str", "default": "sla-version.txt"},
    shared_paths={"type": "list", "elements": "str", "default": []},
    schema={"type": "str", "choices": ["mediawiki", "wordpress"]},
    database={"type": "str"},
    keep_releases={"type": "int", "default": 3},
    retry_failed={"type": "bool", "default": False},
    # The host modules' own spec: a credential in a check is no_log from the first validation.
    **HEALTH_CHECK_SPEC,
    override={"type": "dict"},
)

_HOST_OPTIONS = (
    "version",
    "site_root",
    "site_url",
    "version_marker",
    "shared_paths",
    "schema",
    "database",
    "keep_releases",
    "retry_failed",
    "health_checks",
    "health_retries",
    "health_delay",
)


# A dry run applies nothing, so it records what it would do, never "applied".
_OUTCOME = {(True, False): "applied", (True, True): "planned", (False, False): "failed",
            (False, True): "failed"}  # fmt: skip


class ActionModule(DecisionAction):
    # The host's temporary directory is made in _on_host, after every
    # controller-side check: a refused deploy never contacts the host.
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        host, sla, check_mode = self.host, args["sla"], self.check_mode
        environment = self._templar.template(self.task_vars.get("sla_environment"))
        with tempfile.TemporaryDirectory(prefix="sla-deploy-") as scratch:
            with self.planning("deploy", (SlaInputError, OSError, AuditError)):
                artifact, sha256 = self._artifact(args, scratch)
                now = self.decision_time(args)
                approval = self.approval(args)
                trail = customer_trail(
                    self.task_vars, self._templar.template, sla["customer"],
                    settings=callback_settings(),
                )  # fmt: skip
                allowed, reason, reference = decide_deploy(
                    environment, sla["targets"], sha256, host, staging_passes(trail, sha256),
                    args["override"], approval, now, sla["customer"],
                )  # fmt: skip
            release = args["release"] or args["version"]
            # The host would refuse these too, but only after being contacted.
            problems = validate_deploy_params(dict(args, release=release, sha256=sha256))
            if problems:
                raise ActionFailed(f"host {host}: cannot deploy: {'; '.join(problems)}")
            facts = {"sha256": sha256, "release": release, "version": args["version"],
                     "environment": environment}  # fmt: skip
            writer, _appended = self.record_before_acting(sla, lambda writer: [
                self.record(
                    writer, "deploy", "approved" if allowed else "refused",
                    item=f"release {release}", reason=reason, after=sha256, approval=reference,
                    result=dict(facts, override=bool(args["override"])),
                )
            ], "the deploy could not be recorded, so nothing is deployed")  # fmt: skip
            if not allowed:
                raise ActionFailed(f"host {host}: deploy of {release} refused: {reason}",
                                   refused=True, sha256=sha256)  # fmt: skip
            answer = self._on_host(args, artifact, sha256, release)
        ok = not answer.get("failed") and not answer.get("unreachable")
        try:
            writer.append([
                self.record(
                    writer, "deploy", _OUTCOME[(ok, check_mode)], item=f"release {release}",
                    reason=answer.get("msg"), after=sha256, before=answer.get("previous"),
                    approval=reference,
                    result=dict(facts, healthy=ok and not check_mode,
                                steps=answer.get("steps", []),
                                failed_release=answer.get("failed_release")),
                )
            ])  # fmt: skip
        except RECORD_ERRORS as exc:
            answer.update(failed=True, msg=f"{answer.get('msg')}; not recorded: {exc}")
        for key in ("invocation", "_ansible_no_log"):
            answer.pop(key, None)
        result.update(answer)
        result.update(sha256=sha256, release=release, promotion=reason)
        return result

    def _artifact(self, args, scratch):
        """The artifact as a tar.gz on the controller and its SHA-256, checked if given."""
        path = args["artifact"]
        if os.path.isdir(path):
            packed = os.path.join(scratch, f"{os.path.basename(os.path.normpath(path))}.tar.gz")
            pack_directory(path, packed)
            path = packed
        elif not os.path.isfile(path):
            raise DeployPlanError(f"artifact {path} does not exist on the controller")
        actual = sha256_of(path)
        if args["sha256"] and args["sha256"].lower() != actual:
            raise DeployPlanError(
                f"artifact {os.path.basename(path)} has SHA-256 {actual}, not {args['sha256']}"
            )
        return path, actual

    def _on_host(self, args, artifact, sha256, release):
        module_args = {key: args[key] for key in _HOST_OPTIONS}
        # Unique per deploy, also for two deploys in one run: it names the backup directory.
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        module_args.update(sha256=sha256, release=release, run_id=f"{run_id()}-{stamp}")
        if self.check_mode:
            module_args["artifact"] = "/nonexistent/not-uploaded-in-check-mode.tar.gz"
            return self._execute_module(
                "twovalue.sla.deploy_release", module_args=module_args, task_vars=self.task_vars
            )
        # Whoever made the remote tmpdir removes it: here, unless the task already had one.
        owned = self._connection._shell.tmpdir is None
        tmp = self._connection._shell.tmpdir or self._make_tmp_path()
        try:
            remote = self._connection._shell.join_path(tmp, "artifact.tar.gz")
            self._transfer_file(artifact, remote)
            self._fixup_perms2((tmp, remote))
            module_args["artifact"] = remote
            return self._execute_module(
                "twovalue.sla.deploy_release", module_args=module_args, task_vars=self.task_vars
            )
        finally:
            if owned:
                self._remove_tmp_path(tmp)
