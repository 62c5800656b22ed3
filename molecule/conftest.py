# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every scenario's verifier shares: the tests' helpers (tests/polling.py,
tests/playbook_runner.py) importable by name.

Molecule's testinfra verifier runs pytest on the scenario's test files with the
repository's pytest.ini, so pytest loads this file, a parent of them, first.
"""

import os
import sys

_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
