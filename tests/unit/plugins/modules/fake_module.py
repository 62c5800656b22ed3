"""A stand-in for AnsibleModule: records what a module's main() asks of it."""

import importlib

import yaml


class Exited(Exception):
    def __init__(self, kwargs, failed):
        super().__init__(kwargs)
        self.kwargs = kwargs
        self.failed = failed


class FakeModule:
    """Set ``params`` and ``check_mode`` on the class before calling main()."""

    instances = []
    params = {}
    check_mode = False

    def __init__(self, argument_spec, supports_check_mode=False, required_if=None):
        self.argument_spec = argument_spec
        self.supports_check_mode = supports_check_mode
        self.required_if = required_if or []
        self.params = dict(type(self).params)
        self.check_mode = type(self).check_mode
        self.warnings = []
        self.no_log_values = set()
        FakeModule.instances.append(self)

    def run_command(self, argv, **kwargs):  # pragma: no cover - never reached
        raise AssertionError("the module itself must not run commands")

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **kwargs):
        raise Exited(kwargs, failed=False)

    def fail_json(self, **kwargs):
        raise Exited(kwargs, failed=True)


def _spec_from_doc(options):
    """Turn documented options into the argument_spec shape they must equal."""
    spec = {}
    for name, option in options.items():
        entry = {k: v for k, v in option.items() if k not in ("description", "suboptions")}
        if "suboptions" in option:
            entry["options"] = _spec_from_doc(option["suboptions"])
        spec[name] = entry
    return spec


def documented_spec(documentation):
    """A module's documented options, with those of its doc fragments, as an argument_spec."""
    doc = yaml.safe_load(documentation)
    options = {}
    for fragment in doc.get("extends_documentation_fragment", []):
        name = fragment.rpartition(".")[2]
        module = importlib.import_module(
            f"ansible_collections.twovalue.sla.plugins.doc_fragments.{name}"
        )
        options.update(yaml.safe_load(module.ModuleDocFragment.DOCUMENTATION)["options"])
    options.update(doc["options"])
    return _spec_from_doc(options)


# Argument spec keys that module documentation does not repeat.
_UNDOCUMENTED_KEYS = ("required_if", "no_log")


def without_undocumented_keys(spec):
    return {
        name: {
            k: (without_undocumented_keys(v) if k == "options" else v)
            for k, v in entry.items()
            if k not in _UNDOCUMENTED_KEYS
        }
        for name, entry in spec.items()
    }
