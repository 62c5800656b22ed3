# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection as pytest (see faults.py): a fault at a boundary must leave the host
intact (old or new state, a working secret for every credential, a verifying trail), and a
plain rerun must converge to the state a run without a fault reaches.

`pytest` runs the deploy and rotation workflows at the boundary that changes the host,
with each kind of fault; `pytest tests/reliability -m full` runs every boundary of every
workflow. The command line runner prints the figures."""

import shutil

import faults
import pytest

needs_podman = pytest.mark.skipif(not shutil.which("podman"), reason="needs podman")


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
    assert not trial.broken, f"{trial.kind} at {trial.where}: " + "; ".join(trial.broken)
    assert trial.converged, f"{trial.kind} at {trial.where}: " + "; ".join(trial.problems)


@needs_podman
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


@needs_podman
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
            if not trial.fired or trial.broken or not trial.converged:
                failures.append(
                    f"{kind} at {boundary} {trial.where}: {trial.problems + trial.broken}"
                )
    assert not failures, "\n".join(failures)
