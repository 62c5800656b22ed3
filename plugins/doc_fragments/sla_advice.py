# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option of every action that leaves advice documents on the controller."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  advice_dir:
    description: Controller directory for the advice documents, one folder per customer.
    type: path
    required: true
"""
