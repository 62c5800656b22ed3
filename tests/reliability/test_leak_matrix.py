# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The secret-leak matrix as pytest (see leak_matrix.py and docs/reliability-leaks.md).

`pytest` runs the reduced matrix; `pytest tests/reliability -m full` runs every cell.
One module-scoped fixture starts the container hosts and runs the matrix once; each
cell is then judged on its own.
"""

import base64
import json
import pathlib
import urllib.parse

import leak_matrix
import pytest


def _selected(config):
    full = "full" in (config.option.markexpr or "")
    return [c for c in leak_matrix.matrix() if full or leak_matrix.reduced(c)]


@pytest.fixture(scope="module")
def matrix_run(request):
    cells = _selected(request.config)
    # Whoever runs pytest holds the heavy lock (flock(1)); taking it here would deadlock.
    result = leak_matrix.run_matrix(cells, take_lock=False, echo=lambda _line: None)
    print(result.line)
    return result


def _params():
    params = []
    for cell in leak_matrix.matrix():
        marks = [pytest.mark.full, pytest.mark.container]
        if leak_matrix.reduced(cell):
            marks.append(pytest.mark.reduced)
        params.append(pytest.param(cell.id, id=cell.id, marks=marks))
    return params


@pytest.mark.parametrize("cell_id", _params())
def test_no_secret_reaches_any_output(matrix_run, cell_id):
    assert cell_id in {c.id for c in matrix_run.cells}, f"the cell did not run: {matrix_run.errors}"
    errors = [e for e in matrix_run.errors if e.startswith(cell_id + ":")]
    assert not errors, "\n".join(errors)
    hits = [
        f"{output}: secret {name} ({kind})"
        for c, output, name, kind in matrix_run.hits
        if c == cell_id
    ]
    assert not hits, matrix_run.line + "\n" + "\n".join(hits)


@pytest.mark.reduced
@pytest.mark.full
@pytest.mark.container
def test_the_search_finds_a_canary_printed_on_purpose(matrix_run):
    selfcheck = [e for e in matrix_run.errors if e.startswith("self-check")]
    assert not selfcheck, selfcheck
    assert matrix_run.outputs >= 8 * len(matrix_run.cells)
    assert matrix_run.planted >= 10
    if any(c.playbook == "rotate_credentials" for c in matrix_run.cells):
        assert matrix_run.rotated > 0, "no rotated password was read back from the vault"


@pytest.mark.reduced
@pytest.mark.full
def test_every_encoded_form_of_a_secret_is_found():
    planted = leak_matrix.make_secrets()
    assert len(planted) >= 10
    name, value = "vault-password", planted["vault-password"]
    wrapped = [
        value,
        json.dumps({"v": value}).replace("/", "\\/"),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
    ] + [base64.b64encode(b"x" * pad + value.encode() + b"tail").decode() for pad in range(3)]
    for text in wrapped:
        assert leak_matrix.search("before " + text + " after", planted)[0][0] == name, text
    assert leak_matrix.search("nothing secret here", planted) == []


@pytest.mark.reduced
@pytest.mark.full
def test_every_playbook_of_the_collection_is_in_the_matrix():
    on_disk = {path.stem for path in (pathlib.Path(leak_matrix.ROOT) / "playbooks").glob("*.yml")}
    assert on_disk == set(leak_matrix.ORDER) == set(leak_matrix.DESIGN)


def _templated_options(value, path=""):
    """(option path, value) of every string in an option tree that templates the vault."""
    if isinstance(value, dict):
        return [o for k, v in value.items() for o in _templated_options(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [o for item in value for o in _templated_options(item, f"{path}[]")]
    return [(path, value)] if isinstance(value, str) and leak_matrix.VAULTED_PW in value else []


@pytest.mark.reduced
@pytest.mark.full
def test_the_vaulted_cells_reach_every_credential_option_only_through_a_template():
    from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC

    options = HEALTH_CHECK_SPEC["health_checks"]["options"]
    credential_options = {name for name, spec in options.items() if spec.get("no_log")} | {"url"}
    for playbook in ("maintenance", "deploy", "rotate_credentials"):
        for path in ("vaulted", "vaulted-failure"):
            _args, extra, expect_ok = leak_matrix.DESIGN[playbook][path]
            assert expect_ok is (path == "vaulted")
            reached = {
                name
                for option, _ in _templated_options(extra)
                for name in option.replace("[]", "").split(".")
            }
            assert credential_options <= reached, (playbook, path, credential_options - reached)
            # The value itself is never in the cell: only the vaulted variable's name.
            assert "LEAKCANARY" not in json.dumps(extra)
            for verbosity in (0, 4):
                assert leak_matrix.reduced(leak_matrix.Cell(playbook, path, verbosity))
    cells = {c.id for c in leak_matrix.matrix()}
    assert {f"maintenance-vaulted-v{v}" for v in leak_matrix.VERBOSITIES} <= cells
    assert {"maintenance-vaulted-v4-runner", "maintenance-vaulted-failure-v0-runner"} <= cells
    # A URL option carries the password as well: the site URLs of deploys and rotations.
    assert leak_matrix.VAULTED_URL in leak_matrix.DESIGN["deploy"]["vaulted"][1]["deploy_site_url"]


@pytest.mark.reduced
@pytest.mark.full
def test_the_part_of_a_secret_a_url_parser_quotes_is_found():
    planted = leak_matrix.make_secrets()
    value = planted["health-password"]
    head = value.partition("/")[0]
    text = f"nonnumeric port: '{head}'"
    assert leak_matrix.search(text, planted) == [("health-password", "head")]
