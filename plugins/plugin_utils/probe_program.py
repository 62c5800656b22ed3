# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host probe as one plain Python program, fed to the host's interpreter on stdin.

Ansible's module runtime (the AnsiballZ wrapper importing
``ansible.module_utils.basic``) costs about 0.37 s of host CPU per run, more
than the probe's own work. The probe needs none of it: its code is standard
library only. So the program carries the probe's module_utils sources,
registers them under their collection names, and calls
``host_state.standalone_main``: the same code the module runs.
"""

from __future__ import annotations

import functools
import json
import os

from ansible_collections.twovalue.sla.plugins.module_utils import atomic_write, cms_site, host_state

# In import order: host_state imports atomic_write and cms_site.
_MODULES = (atomic_write, cms_site, host_state)

_REGISTER = """import sys
import types


def _register(name, source):
    module = types.ModuleType(name)
    module.__file__ = "<twovalue.sla probe>/" + name.rsplit(".", 1)[-1] + ".py"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
"""


@functools.lru_cache(maxsize=1)
def _sources():
    parts = [_REGISTER]
    for module in _MODULES:
        path = os.path.splitext(module.__file__)[0] + ".py"
        with open(path, encoding="utf-8") as handle:
            parts.append(f"_register({module.__name__!r}, {handle.read()!r})")
    return "\n".join(parts)


def probe_program(params, check_mode):
    """Python source that probes the host it runs on and prints the task result as JSON."""
    call = (
        f"sys.modules[{host_state.__name__!r}].standalone_main("
        f"{json.dumps(params, sort_keys=True)!r}, {bool(check_mode)!r})"
    )
    return f"{_sources()}\n{call}\n"
