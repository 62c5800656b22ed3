# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection as pytest (see faults.py): a fault at a boundary must leave the host
intact (old or new state, a working secret for every credential, a verifying trail), and a
plain rerun must converge to the state a run without a fault reaches.

`pytest` runs the deploy and rotation workflows at the boundary that changes the host,
with each kind of fault; `pytest tests/reliability -m full` runs every boundary of every
workflow. The command line runner prints the figures."""

import faults
import pytest


@pytest.fixture(scope="module")
def references():
    """Each workflow's prepared image and reference run, made once."""
    made = {}

    def reference(name):
        if name not in made:
            workflow = faults.WORKFLOWS[name]
            image = faults.prepared_image(workflow)
            made[name] = (workflow, image, faults.reference(workflow, image))
        return made[name]

    yield reference
    faults.podman("network", "rm", faults.NETWORK, check=False)


def _check(trial):
    assert trial.fired, trial.problems
    assert trial.ended_as_faulted, f"{trial.kind} at {trial.where}: " + "; ".join(trial.problems)
    assert not trial.broken, f"{trial.kind} at {trial.where}: " + "; ".join(trial.broken)
    assert trial.converged, f"{trial.kind} at {trial.where}: " + "; ".join(trial.problems)


@pytest.mark.container
@pytest.mark.reduced
@pytest.mark.full
@pytest.mark.parametrize("kind", faults.KINDS)
@pytest.mark.parametrize("name", sorted(faults.REDUCED))
def test_a_fault_where_the_host_changes_leaves_it_intact_and_a_rerun_converges(
    references, name, kind
):
    workflow, image, ref = references(name)
    (boundary,) = faults.reduced_boundaries(workflow, ref)
    _check(faults.trial(workflow, image, ref, boundary, kind))


@pytest.mark.container
@pytest.mark.full
@pytest.mark.parametrize("name", sorted(faults.WORKFLOWS))
def test_a_fault_at_every_boundary_leaves_the_host_intact_and_a_rerun_converges(references, name):
    workflow, image, ref = references(name)
    assert ref.boundaries, f"the {name} reference run sent nothing to the host"
    failures = []
    for boundary in range(1, len(ref.boundaries) + 1):
        for kind in faults.KINDS:
            trial = faults.trial(workflow, image, ref, boundary, kind)
            if not trial.fired or not trial.ended_as_faulted or trial.broken or not trial.converged:
                failures.append(
                    f"{kind} at {boundary} {trial.where}: {trial.problems + trial.broken}"
                )
    assert not failures, "\n".join(failures)


# The checks themselves must be able to fail: states no workflow may leave behind.
OLD = {"site": ["200", "1.0"], "db": "aaaa", "api": "200"}
NEW = {"site": ["200", "2.0"], "db": "bbbb", "api": "200"}


@pytest.mark.parametrize(
    ("seen", "problem"),
    [
        ({"site": ["500", "1.0"], "db": "aaaa", "api": "200"}, "the site answers 500"),
        ({"site": ["200", "3.0"], "db": "aaaa", "api": "200"}, "neither old nor new"),
        ({"site": ["200", "1.0"], "db": "cccc", "api": "200"}, "database is neither old nor new"),
        ({"site": ["200", "2.0"], "db": "bbbb", "api": "503"}, "API answers 503"),
    ],
)
def test_the_deploy_invariants_catch_a_broken_state(seen, problem):
    problems = faults.WORKFLOWS["deploy"].intact(seen, OLD, NEW)
    assert any(problem in p for p in problems), problems
    assert faults.WORKFLOWS["deploy"].intact(OLD, OLD, NEW) == []
    assert faults.WORKFLOWS["deploy"].converged(OLD, NEW) != []


def test_the_update_invariants_catch_a_half_installed_package():
    old = {
        "site": ["200", "wiki page"],
        "db": "a",
        "dpkg_audit": "",
        "packages": {"php": ("1", "ii")},
    }
    new = {
        "site": ["200", "wiki page"],
        "db": "a",
        "dpkg_audit": "",
        "packages": {"php": ("2", "ii")},
    }
    half = dict(new, dpkg_audit="php is unpacked", packages={"php": ("2", "iU")})
    problems = faults.WORKFLOWS["updates"].intact(half, old, new)
    assert any("dpkg --audit" in p for p in problems) and any("iU" in p for p in problems)


def test_the_rotation_invariants_catch_a_credential_nobody_holds():
    state = {"site": ["200", "MediaWiki"], "pending": []}
    lost = dict(state, working_secrets={"db_user/wikiuser@": [], "cms": ["staged"]})
    rotation = faults.WORKFLOWS["rotation"]
    assert rotation.intact(lost, state, state) == [
        "no secret the agency holds opens db_user/wikiuser@"
    ]
    staged = dict(state, working_secrets={"db_user/wikiuser@": ["staged"]}, pending=["x"])
    assert len(rotation.converged(staged, state)) == 2


def test_a_faulted_run_that_ends_otherwise_than_its_fault_is_caught():
    for kind in faults.KINDS:
        says = f"TASK [deploy]\n{faults.FAULTED_SAYS[kind]}\n"
        assert faults.ends_as_fault(kind, faults.FAULTED_EXIT[kind], says)
        assert not faults.ends_as_fault(kind, faults.FAULTED_EXIT[kind], "TASK [deploy]\nok")
        for absorbed in (0, 2):
            assert not faults.ends_as_fault(kind, absorbed, says)
