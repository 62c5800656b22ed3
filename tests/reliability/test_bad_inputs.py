# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input catalogue as pytest: every case must fail naming the problem,
touch no host and leave a valid audit trail (see bad_inputs.py).

`pytest` runs the cases marked reduced; `pytest tests/reliability -m full`
runs the whole catalogue, real container hosts included."""

import shutil

import bad_inputs
import pytest


def _params():
    params = []
    for case in bad_inputs.catalogue():
        # Every case is in the full catalogue; the reduced ones also run by default.
        marks = [pytest.mark.full] + ([pytest.mark.reduced] if case.reduced else [])
        if case.real_host:
            marks.append(pytest.mark.container)
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_bad_input_fails_naming_the_problem_and_touches_no_host(case):
    if case.real_host and not shutil.which("podman"):
        pytest.skip("needs podman and the image " + bad_inputs.IMAGE)
    outcome = bad_inputs.run_case(case)
    defect_shows = any(case.xfail_problem in problem for problem in outcome.problems)
    if case.xfail and defect_shows:
        pytest.xfail(case.xfail)
    assert not case.xfail, (
        f"known defect no longer shows, remove the case's xfail: {case.xfail}; "
        f"problems now: {outcome.problems}"
    )
    assert not outcome.problems, "\n".join(outcome.problems) + "\n\n" + outcome.output[-4000:]
