"""A stand-in for AnsibleModule: records what a module's main() asks of it."""


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

    def __init__(self, argument_spec, supports_check_mode=False):
        self.argument_spec = argument_spec
        self.supports_check_mode = supports_check_mode
        self.params = dict(type(self).params)
        self.check_mode = type(self).check_mode
        self.warnings = []
        FakeModule.instances.append(self)

    def run_command(self, argv, **kwargs):  # pragma: no cover - never reached
        raise AssertionError("the module itself must not run commands")

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **kwargs):
        raise Exited(kwargs, failed=False)

    def fail_json(self, **kwargs):
        raise Exited(kwargs, failed=True)
