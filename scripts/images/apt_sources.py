#!/usr/bin/env python3
"""Write a container's apt sources from the controller's own configuration.

The controller's deb822 sources name the package mirror; images must use the
same mirror but only Debian 12's main suite, so that the security and updates
suites can be enabled later and bring real pending updates. The mirror address
is read here and written into the image, never printed.

usage: apt_sources.py HOST_SOURCES OUT_SOURCES   write the image's sources
       apt_sources.py HOST_SOURCES --main-uri FILE  write the main URI to FILE
"""

import sys


def _stanzas(text):
    block = {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if block:
                yield block
            block = {}
            continue
        if line[0] in " \t" or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        block[key.strip()] = value.strip()


def _debian_stanzas(text):
    main = security = None
    for stanza in _stanzas(text):
        suites = stanza.get("Suites", "").split()
        if "bookworm" in suites and main is None:
            main = stanza
        if "bookworm-security" in suites and security is None:
            security = stanza
    if main is None or security is None:
        raise SystemExit(
            "the controller's apt sources have no bookworm and bookworm-security entries"
        )
    return main, security


def _render(stanza, suites, enabled):
    lines = ["Types: deb", f"URIs: {stanza['URIs']}", f"Suites: {suites}", "Components: main"]
    if "Signed-By" in stanza:
        lines.append(f"Signed-By: {stanza['Signed-By']}")
    if not enabled:
        # Switched on by the test hosts' "enable updates" step.
        lines.append("Enabled: no")
    return "\n".join(lines) + "\n"


def main(argv):
    with open(argv[1], encoding="utf-8") as handle:
        main_stanza, security = _debian_stanzas(handle.read())
    if argv[2] == "--main-uri":
        with open(argv[3], "w", encoding="utf-8") as handle:
            handle.write(main_stanza["URIs"].split()[0] + "\n")
        return 0
    body = "\n".join(
        [
            _render(main_stanza, "bookworm", True),
            _render(main_stanza, "bookworm-updates", False),
            _render(security, "bookworm-security", False),
        ]
    )
    with open(argv[2], "w", encoding="utf-8") as handle:
        handle.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
