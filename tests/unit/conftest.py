# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures the plugin unit tests share."""

from __future__ import annotations

import pathlib

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_writer


@pytest.fixture
def audit_settings(tmp_path, monkeypatch):
    """The audit callback's settings as the decision actions read them: a trail under tmp_path.

    A test module that needs the same settings elsewhere (an action that
    imported ``callback_settings`` by name) patches it with this dict too.
    """
    settings = {
        "audit_dir": str(tmp_path / "audit"),
        "key_file": None,
        "operator": "ops-alice",
        "secret_var_names": [],
    }
    monkeypatch.setattr(audit_writer, "callback_settings", lambda: settings)
    return settings


@pytest.fixture
def audit_dir(audit_settings):
    """Where the actions write their decision records; not created until one is written."""
    return pathlib.Path(audit_settings["audit_dir"])
