# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""twovalue.sla.sla_report documents exactly what its action accepts."""

from __future__ import annotations

from ansible_collections.twovalue.sla.plugins.action import sla_report as sla_report_action
from ansible_collections.twovalue.sla.plugins.modules import sla_report
from fake_module import documented_spec


def test_sla_report_documentation_equals_the_action_argument_spec():
    assert documented_spec(sla_report.DOCUMENTATION) == sla_report_action.ARGUMENT_SPEC
