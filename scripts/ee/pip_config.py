#!/usr/bin/env python3
"""Write this machine's pip configuration into an image build context.

pip inside the execution environment build has to reach the package index
the way pip on the controller does. This reads the effective configuration
(`pip config list`: the configuration files and the PIP_* environment) and
writes one pip.conf into DEST, with every local file it names (a CA bundle, a
constraints file) copied beside it and its path rewritten to where DEST lands
in the image (IMAGE_DIR).

Values are never printed: they may name hosts and hold credentials. Local
directories (a local index or wheel cache, whose pages link to files outside
them) are left out: the package index serves the same packages.
"""

from __future__ import annotations

import argparse
import configparser
import os
import shutil
import subprocess
import sys

# Options pip reads as whitespace-separated lists of locations.
_LOCATION_LISTS = {"find-links", "extra-index-url", "index-url", "trusted-host"}


def _read_config(pip):
    listing = subprocess.run(
        [*pip, "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    files, environment = {}, {}
    for line in listing.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        section, _, option = key.rpartition(".")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if section == ":env:":
            environment[option] = value
        else:
            files.setdefault(section, {})[option] = value
    # The environment overrides the files, as it does for pip itself.
    merged = files
    merged.setdefault("global", {}).update(environment)
    return merged


class _Copier:
    def __init__(self, dest, image_dir):
        self.dest = dest
        self.image_dir = image_dir.rstrip("/")
        self.copied = {}
        self.skipped = 0

    def local(self, token):
        """Return the token with a local path copied and rewritten, or None to drop it."""
        url = token.startswith("file://")
        path = token[len("file://") :] if url else token
        if not os.path.isabs(path):
            return token
        if not os.path.isfile(path):
            # A directory, or a location that does not exist (pip ignores those).
            self.skipped += 1
            return None
        if path not in self.copied:
            name = f"local{len(self.copied)}"
            shutil.copyfile(path, os.path.join(self.dest, name))
            self.copied[path] = f"{self.image_dir}/{name}"
        rewritten = self.copied[path]
        return f"file://{rewritten}" if url else rewritten


def write(dest, image_dir, config):
    os.makedirs(dest, exist_ok=True)
    copier = _Copier(dest, image_dir)
    parser = configparser.ConfigParser(interpolation=None)
    for section, options in config.items():
        parser.add_section(section)
        for option, value in options.items():
            tokens = value.split() if option in _LOCATION_LISTS else [value]
            kept = [t for t in (copier.local(t) for t in tokens) if t is not None]
            if kept:
                parser.set(section, option, " ".join(kept))
    path = os.path.join(dest, "pip.conf")
    with open(path, "w", encoding="utf-8") as handle:
        parser.write(handle)
    os.chmod(path, 0o644)
    return len(copier.copied), copier.skipped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="directory in the build context")
    parser.add_argument("image_dir", help="where that directory lands in the image")
    args = parser.parse_args(argv)
    pip = [sys.executable, "-m", "pip"]
    copied, skipped = write(args.dest, args.image_dir, _read_config(pip))
    print(f"pip configuration staged ({copied} local files copied, {skipped} locations left out)")


if __name__ == "__main__":
    main()
