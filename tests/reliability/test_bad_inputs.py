# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input catalogue as pytest: every case must fail naming the problem,
touch no host and leave a valid audit trail (see bad_inputs.py).

`pytest` runs the cases marked reduced; `pytest tests/reliability -m full`
runs the whole catalogue, real container hosts included."""

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
    outcome = bad_inputs.run_case(case)
    unexplained = bad_inputs.beyond_known_defect(case, outcome.problems)
    assert not unexplained, "\n".join(unexplained) + "\n\n" + outcome.output[-4000:]
    if case.xfail:
        assert outcome.problems, (
            f"known defect no longer shows, remove the case's xfail: {case.xfail}"
        )
        pytest.xfail(case.xfail)


@pytest.mark.reduced
@pytest.mark.full
def test_a_known_defect_excuses_only_its_own_problem():
    (case,) = [c for c in bad_inputs.catalogue() if c.xfail]
    changed = "the real host changed: gone ['apache2 1 ii'], new ['apache2 2 ii']"
    assert bad_inputs.beyond_known_defect(case, ["the run exited 0"]) == []
    assert bad_inputs.beyond_known_defect(case, ["the run exited 0", changed]) == [changed]
    plain = next(c for c in bad_inputs.catalogue() if not c.xfail)
    assert bad_inputs.beyond_known_defect(plain, ["the run exited 0"]) == ["the run exited 0"]
