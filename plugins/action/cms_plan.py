# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.cms_plan: catalogue, gate, advice and audit in one step.

Like update_plan, it decides from the probed state: a host whose sites need
nothing costs no module invocation.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os

from ansible.module_utils.urls import open_url
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    mask_secrets,
    shown_url,
    url_secrets,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import (
    advice_paths,
    write_text,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.cms_plan import (
    KINDS,
    CmsPlanError,
    advice_json,
    advice_markdown,
    from_endoflife,
    plan_cms,
    validate_catalogue,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import (
    DecisionAction,
    decision_argument_spec,
)

ARGUMENT_SPEC = decision_argument_spec(
    state={"type": "dict", "required": True},
    catalogue_file={"type": "path", "required": True},
    catalogue_urls={"type": "dict", "default": {}},
    sources={"type": "dict", "default": {}},
    updated_packages={"type": "list", "elements": "str", "default": []},
    migration_project={"type": "str"},
    advice_dir={"type": "path", "required": True},
)

_RECORDED = {"apply": "approved", "apply_with_approval": "approved", "advise": "advised"}
_URL_TIMEOUT = 10


def load_catalogue(path, urls, warn):
    """The shipped catalogue, with products refreshed from ``urls`` where they answer.

    A catalogue URL that cannot be read is a warning, not a failure: the
    shipped dates still hold, and the advice names which catalogue it used.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise CmsPlanError(f"release catalogue {path} cannot be read: {exc}") from exc
    origins = [f"shipped catalogue {os.path.basename(path)}"]
    for kind, url in sorted(urls.items()):
        if kind not in KINDS:
            raise CmsPlanError(f"catalogue_urls names {kind!r}; expected one of {', '.join(KINDS)}")
        # A catalogue behind basic auth: open_url sends the URL's credentials, and
        # warnings and the advice name the URL with its password masked.
        shown = shown_url(url)
        try:
            answer = json.loads(open_url(url, timeout=_URL_TIMEOUT).read())
            product = answer if isinstance(answer, dict) else from_endoflife(kind, answer, shown)
            # endoflife.date publishes no support policy; the migration advice still needs it.
            product.setdefault("policy", document["products"].get(kind, {}).get("policy", ""))
            refreshed = dict(document, products=dict(document["products"], **{kind: product}))
            validate_catalogue(refreshed, f"catalogue from {shown}")
        except (OSError, http.client.HTTPException, ValueError, CmsPlanError) as exc:
            problem = mask_secrets(str(exc), url_secrets(url))
            warn(
                f"release catalogue for {kind} not refreshed from {shown}: {problem}; "
                "shipped dates used"
            )
            continue
        document = refreshed
        document["as_of"] = datetime.date.today().isoformat()
        origins.append(shown)
    return validate_catalogue(document, " + ".join(origins))


class ActionModule(DecisionAction):
    _requires_connection = False
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        sla = args["sla"]
        warnings = []
        with self.planning("plan CMS maintenance"):
            catalogue = load_catalogue(
                args["catalogue_file"], args["catalogue_urls"], warnings.append
            )
            plan = plan_cms(
                args["state"].get("cms", []),
                sla["targets"],
                self.decision_time(args),
                catalogue,
                sources=args["sources"],
                approval=self.approval(args),
                control=sla.get("control"),
                migration_project=args["migration_project"],
                scope=self.scope(sla),
                updated_packages=args["updated_packages"],
            )
        has_advice = bool(
            plan["advice"]
            or plan["notes"]
            or plan["migrations"]
            or any(not step["run"] for step in plan["schema"])
            or any(not entry.get("supported", True) for entry in plan["support"])
        )
        refusal = "the CMS decisions could not be recorded, so nothing is applied"
        with self.failing_as(refusal):
            files = advice_paths(args["advice_dir"], sla["customer"], self.host, "cms", has_advice)
            # Recorded first: advice the trail does not know of is never handed out.
            self.record_before_acting(
                sla, lambda writer: self._records(writer, plan, files), refusal
            )
            if files:
                write_text(files[0], advice_markdown(plan, sla["customer"], self.host, sla["tier"]))
                write_text(files[1], advice_json(plan, sla["customer"], self.host, sla["tier"]))
        plan["advice_files"] = files
        facts = {
            "sla_cms_plan": {
                "change_set": plan["change_set"],
                "summary": plan["summary"],
                "to_apply": len(plan["apply"]),
                "schema_steps": sum(1 for step in plan["schema"] if step["run"]),
                "advice_files": files,
                "support": plan["support"],
            }
        }
        if warnings:
            result["warnings"] = warnings
        result.update(changed=False, plan=plan, ansible_facts=facts)
        return result

    def _records(self, writer, plan, files):
        approval = (plan["approval"] or {}).get("reference")
        records = [
            self.record(
                writer,
                "cms",
                _RECORDED.get(item["decision"], "refused"),
                item=item["component"],
                reason=item["reason"],
                before=item["installed"],
                after=item["candidate"],
                approval=approval if item["decision"] == "apply_with_approval" else None,
                result={
                    "kind": item["kind"],
                    "security": item["security"],
                    "addressed_to": item["addressed_to"],
                    "deadline": item["deadline"],
                },
            )
            for item in plan["decisions"]
        ]
        records += [
            self.record(
                writer,
                "cms",
                "approved" if step["run"] else "advised",
                item=f"{step['component']} schema",
                reason=step["reason"],
            )
            for step in plan["schema"]
        ]
        records.append(
            self.record(
                writer,
                "cms",
                "planned",
                item="change_set",
                reason=f"{len(plan['apply'])} release switches, "
                f"{sum(1 for s in plan['schema'] if s['run'])} schema steps, "
                f"{len(plan['advice'])} advised or refused",
                after=plan["change_set"],
                result={
                    "summary": plan["summary"],
                    "support": {
                        entry["component"]: entry["eol"] or "no end date"
                        for entry in plan["support"]
                    },
                    "advice_files": json.dumps(files),
                },
            )
        )
        return records
