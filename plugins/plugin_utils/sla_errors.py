# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two kinds of failure the controller side reports, and nothing else.

An action catches these two and lets everything else through: a KeyError or
a TypeError is a defect in the collection, and it must surface with its
traceback, not be shown to an operator as if their input were wrong.
"""

from __future__ import annotations


class SlaInputError(ValueError):
    """Input the user can fix: a variable, an approval, a register, a time, a catalogue."""


class SlaOperationError(RuntimeError):
    """Something that happened while acting: the trail, the vault, a host's answer."""
