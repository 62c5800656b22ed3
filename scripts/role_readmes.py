#!/usr/bin/env python3
"""Write each role's README variable table from its meta/argument_specs.yml.

The argument spec is the single description of a role's variables; the
README is made from it, so the two never disagree. With --check, exit 1 if
a README is not what the spec makes (make lint runs it that way).
"""

import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = "<!-- variables: generated from meta/argument_specs.yml by scripts/role_readmes.py -->"
END = "<!-- end of variables -->"


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def variables_table(spec):
    rows = ["| variable | type | default | description |", "|---|---|---|---|"]
    for name, option in spec.get("options", {}).items():
        kind = option.get("type", "str")
        if kind == "list" and "elements" in option:
            kind = f"list of {option['elements']}"
        if "default" in option:
            default = json.dumps(option["default"])
        else:
            default = "(required)" if option.get("required") else "none"
        description = option.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        rows.append(f"| `{name}` | {kind} | `{_cell(default)}` | {_cell(description)} |")
    return "\n".join(rows)


def render(role_dir, current):
    spec = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    main = spec["main"]
    block = f"{BEGIN}\n{variables_table(main)}\n{END}"
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return f"{head}{block}{tail}"
    description = main.get("description", [])
    if isinstance(description, str):
        description = [description]
    body = "\n\n".join(" ".join(str(p).split()) for p in description)
    return (
        f"# twovalue.sla.{role_dir.name}\n\n{main['short_description']}.\n\n{body}\n\n"
        f"## Variables\n\n{block}\n"
    )


def main(argv):
    check = "--check" in argv
    stale = []
    for role_dir in sorted((ROOT / "roles").iterdir()):
        if not (role_dir / "meta" / "argument_specs.yml").exists():
            continue
        readme = role_dir / "README.md"
        current = readme.read_text() if readme.exists() else ""
        wanted = render(role_dir, current)
        if wanted != current:
            stale.append(str(readme.relative_to(ROOT)))
            if not check:
                readme.write_text(wanted)
    if check and stale:
        print(
            "role READMEs out of date with meta/argument_specs.yml (run scripts/role_readmes.py):"
        )
        print("\n".join(f"  {path}" for path in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
