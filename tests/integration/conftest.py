# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the integration tests: a throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import postgres_cluster  # noqa: E402


@pytest.fixture(scope="session")
def pg_cluster():
    """One cluster for the session, started on a free port and removed afterwards."""
    with postgres_cluster.cluster() as instance:
        yield instance
