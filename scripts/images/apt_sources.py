#!/usr/bin/env python3
"""Write a container's apt sources from the controller's own configuration.

The controller's deb822 sources name the package mirror; images must use the
same mirror but only Debian 12's main suite, so that the security and updates
suites can be enabled later and bring real pending updates. The mirror address
is read here and written into the image, never printed.

HOST_SOURCES is deb822 (debian.sources) or the one-line sources.list format.

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


def _one_line_stanzas(text):
    """Read the classic one-line ``sources.list`` format as deb822 stanzas."""
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields or fields[0] != "deb":
            continue
        fields = fields[1:]
        stanza = {}
        if fields and fields[0].startswith("["):
            options = []
            while fields:
                options.append(fields.pop(0))
                if options[-1].endswith("]"):
                    break
            for option in " ".join(options).strip("[]").split():
                key, _, value = option.partition("=")
                if key == "signed-by":
                    stanza["Signed-By"] = value
        if len(fields) < 2:
            continue
        stanza.update(URIs=fields[0], Suites=fields[1], Components=" ".join(fields[2:]))
        yield stanza


def _debian_stanzas(text):
    main = security = None
    stanzas = _stanzas(text) if "Types:" in text else _one_line_stanzas(text)
    for stanza in stanzas:
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
    lines.append(
        f"Signed-By: {stanza.get('Signed-By', '/usr/share/keyrings/debian-archive-keyring.gpg')}"
    )
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
