# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version schemes and the update/upgrade distinction the SLA rests on.

An *update* stays on the installed branch and is covered by the SLA; an
*upgrade* leaves it and is a migration project. Each scheme knows how to parse
a version, order two versions and name the branch a version belongs to.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from debian.debian_support import Version as DebianVersion

SCHEMES = (
    "debian",
    "debian_release",
    "php",
    "mariadb",
    "apache",
    "mediawiki",
    "wordpress",
    "semver",
)
KINDS = ("update", "upgrade", "downgrade", "same")

DEBIAN_CODENAMES = {
    "buster": 10,
    "bullseye": 11,
    "bookworm": 12,
    "trixie": 13,
    "forky": 14,
    "duke": 15,
}
_DEBIAN_POCKETS = (
    "security",
    "updates",
    "proposed-updates",
    "backports",
    "backports-sloppy",
)


class VersionError(SlaInputError):
    """A version string that does not belong to its scheme, or cannot be ordered."""


@dataclass(frozen=True)
class VersionChange:
    scheme: str
    installed: str
    candidate: str
    kind: str
    installed_branch: str
    candidate_branch: str
    crosses_branch: bool
    reason: str

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class _Parsed:
    """A parsed version: ``key`` orders it, ``branch`` names its branch.

    ``key`` is None for a bare branch name (``1.39``, ``REL1_39``): it can be
    compared with another branch but not with a release inside its own branch.
    """

    text: str
    branch: str
    branch_key: tuple
    key: object


def _fail(scheme, text, expected):
    raise VersionError(f"{text!r} is not a {scheme} version; expected {expected}")


def _require_text(scheme, text):
    if not isinstance(text, str) or not text.strip():
        raise VersionError(f"{scheme} version is {text!r}; expected a non-empty string")
    return text.strip()


_DOTTED = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


def _dotted(scheme, text, bare_branch_is_release):
    """Parse ``x.y[.z]``; the branch is ``x.y``.

    For PHP, MariaDB and Apache ``x.y`` names a branch; WordPress ships
    ``6.5`` as a release equal to ``6.5.0``.
    """
    match = _DOTTED.match(text)
    if not match:
        _fail(scheme, text, "x.y or x.y.z with numbers, e.g. 8.2.29")
    major, minor = int(match.group(1)), int(match.group(2))
    patch = match.group(3)
    if patch is None and not bare_branch_is_release:
        key = None
    else:
        key = (major, minor, int(patch or 0))
    return _Parsed(text, f"{major}.{minor}", (major, minor), key)


_MEDIAWIKI_BRANCH = re.compile(r"^REL(\d+)_(\d+)$")


def _mediawiki(text):
    match = _MEDIAWIKI_BRANCH.match(text)
    if match:
        major, minor = int(match.group(1)), int(match.group(2))
        return _Parsed(text, f"{major}.{minor}", (major, minor), None)
    try:
        return _dotted("mediawiki", text, bare_branch_is_release=False)
    except VersionError:
        _fail("mediawiki", text, "1.NN, 1.NN.P or a branch name REL1_NN")


_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def _semver_prerelease_key(prerelease):
    # semver.org rule 11: a release sorts after its pre-releases; numeric
    # identifiers sort numerically and before alphanumeric ones.
    if prerelease is None:
        return (1,)
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split(".")
    )
    return (0, identifiers)


def _semver(text):
    match = _SEMVER.match(text)
    if not match:
        _fail("semver", text, "MAJOR.MINOR.PATCH[-prerelease][+build], e.g. 2.4.1")
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    # Before 1.0.0 every minor release may break the API (semver.org rule 4).
    branch_key = (0, minor) if major == 0 else (major,)
    branch = f"0.{minor}" if major == 0 else str(major)
    return _Parsed(
        text,
        branch,
        branch_key,
        (major, minor, patch, _semver_prerelease_key(match.group(4))),
    )


_DEBIAN_RELEASE = re.compile(r"^(\d+)(?:\.(\d+))?$")


def debian_suite(text):
    """Split a Debian release or suite into ``(release number, pocket)``.

    Accepts ``12``, ``bookworm``, ``bookworm-security``, ``bookworm-backports``,
    ``trixie-updates``; the pocket is None for the release itself. Moving
    names such as ``stable`` are refused: they mean another release next year.
    """
    if not isinstance(text, str):
        raise VersionError(f"Debian suite is {text!r}; expected e.g. bookworm or bookworm-security")
    name = text.strip().lower()
    codename, _, pocket = name.partition("-")
    if codename.isdigit():
        number = int(codename)
    elif codename in DEBIAN_CODENAMES:
        number = DEBIAN_CODENAMES[codename]
    else:
        known = ", ".join(f"{n} ({c})" for c, n in DEBIAN_CODENAMES.items())
        raise VersionError(f"{text!r} is not a Debian release or suite; expected one of {known}")
    if pocket and pocket not in _DEBIAN_POCKETS:
        raise VersionError(
            f"{text!r} has an unknown pocket {pocket!r}; expected one of {', '.join(_DEBIAN_POCKETS)}"
        )
    return number, pocket or None


def _debian_branch(number, pocket):
    # Backports carry newer upstream versions outside the release's security
    # support, so they are a branch of their own.
    if pocket and pocket.startswith("backports"):
        return f"{number}-backports", (number, 1)
    return str(number), (number, 0)


def _debian_release(text):
    match = _DEBIAN_RELEASE.match(text)
    if match:
        number = int(match.group(1))
        point = match.group(2)
        branch, branch_key = _debian_branch(number, None)
        return _Parsed(text, branch, branch_key, None if point is None else (number, int(point)))
    try:
        number, pocket = debian_suite(text)
    except VersionError:
        _fail(
            "debian_release",
            text,
            "12, 12.8, bookworm or a suite like bookworm-security",
        )
    branch, branch_key = _debian_branch(number, pocket)
    return _Parsed(text, branch, branch_key, None)


_DEBIAN_PACKAGE_VERSION = re.compile(r"^(?:\d+:)?[0-9][A-Za-z0-9.+~:-]*$")
_DEBIAN_RELEASE_MARKER = re.compile(r"(?:deb(\d+)u\d+|bpo(\d+))")


def _check_debian_package_version(text):
    # python-debian orders versions but accepts strings dpkg refuses
    # ("abc", "1.0-"); an SLA decision must not rest on those.
    expected = "[epoch:]upstream[-revision] starting with a digit, e.g. 1:10.11.14-0+deb12u2"
    if not _DEBIAN_PACKAGE_VERSION.match(text) or text.endswith("-"):
        _fail("debian", text, expected)
    upstream = text.split(":", 1)[1] if re.match(r"^\d+:", text) else text
    if ":" in upstream:
        _fail("debian", text, expected)
    try:
        return DebianVersion(text)
    except ValueError as e:
        raise VersionError(f"{text!r} is not a debian version; expected {expected}") from e


def _debian_revision_release(version):
    """Return the release a revision was built for (``+deb12u3``, ``~bpo12+1``)."""
    match = _DEBIAN_RELEASE_MARKER.search(version.debian_revision or "")
    if not match:
        return None
    if match.group(1):
        return _debian_branch(int(match.group(1)), None)
    return _debian_branch(int(match.group(2)), "backports")


def _debian_package(text, suite=None, release=None):
    """Parse a Debian package version; its branch is the Debian release.

    Debian's stable and security uploads are reviewed for the release even
    when they move upstream (firefox-esr, MariaDB point releases), so the
    branch is the release a version is built for: the suite it comes from,
    else the ``debNNuM``/``bpoNN`` mark in its revision, else the host's
    release. The branch is None when none of these is known. An epoch is part
    of the branch because a new epoch means the packaging renumbered, which
    deserves a human look.
    """
    version = _check_debian_package_version(text)
    if suite is not None:
        located = _debian_branch(*debian_suite(suite))
    else:
        located = _debian_revision_release(version)
        if located is None and release is not None:
            located = _debian_branch(*debian_suite(release))
    epoch = int(version.epoch or 0)
    if located is None:
        return _Parsed(text, None, (epoch, 0, 0), version)
    branch, branch_key = located
    branch = f"debian {branch}" + (f", epoch {epoch}" if epoch else "")
    return _Parsed(text, branch, (epoch, *branch_key), version)


def _require_debian_branch(parsed, what):
    if parsed.branch is None:
        raise VersionError(
            f"{what} {parsed.text!r} carries no Debian release mark (debNNuM, bpoNN); "
            "give release (the host's Debian release, e.g. 12 or bookworm) "
            "and, for the candidate, candidate_suite (e.g. bookworm-security)"
        )


def _parse(scheme, text, suite=None, release=None):
    text = _require_text(scheme, text)
    if scheme == "debian":
        return _debian_package(text, suite=suite, release=release)
    if scheme == "debian_release":
        return _debian_release(text)
    if scheme in ("php", "mariadb", "apache"):
        return _dotted(scheme, text, bare_branch_is_release=False)
    if scheme == "wordpress":
        return _dotted(scheme, text, bare_branch_is_release=True)
    if scheme == "mediawiki":
        return _mediawiki(text)
    if scheme == "semver":
        return _semver(text)
    raise VersionError(f"version scheme is {scheme!r}; expected one of {', '.join(SCHEMES)}")


def _sign(a, b):
    return (a > b) - (a < b)


def _compare_parsed(scheme, left, right):
    if left.branch_key != right.branch_key:
        if scheme == "debian":
            # Across releases the package versions still order the change:
            # a trixie candidate can be older than a bookworm-backports one.
            order = _sign(left.key, right.key)
            return order if order else _sign(left.branch_key, right.branch_key)
        return _sign(left.branch_key, right.branch_key)
    if left.key is None and right.key is None:
        return 0
    if left.key is None or right.key is None:
        raise VersionError(
            f"cannot order {left.text!r} and {right.text!r}: one names only the branch "
            f"{left.branch}; give the full {scheme} version"
        )
    return _sign(left.key, right.key)


def compare_versions(scheme, left, right):
    """Return -1, 0 or 1 as ``left`` is older than, equal to or newer than ``right``."""
    return _compare_parsed(scheme, _parse(scheme, left), _parse(scheme, right))


def branch_of(scheme, version):
    """Return the branch a version belongs to (``1.39.10`` -> ``1.39``)."""
    return _parse(scheme, version).branch


def classify_change(scheme, installed, candidate, candidate_suite=None, release=None):
    """Classify going from ``installed`` to ``candidate`` as update, upgrade, downgrade or same.

    ``candidate_suite`` (debian only) is the suite the candidate comes from,
    e.g. ``bookworm-security`` or ``bookworm-backports``; ``release`` is the
    host's Debian release, used when a version carries no release mark.
    Raises VersionError for malformed versions rather than guessing.
    """
    if scheme not in SCHEMES:
        raise VersionError(f"version scheme is {scheme!r}; expected one of {', '.join(SCHEMES)}")
    if scheme != "debian" and (candidate_suite is not None or release is not None):
        raise VersionError(f"candidate_suite and release apply to the debian scheme, not {scheme}")
    old = _parse(scheme, installed, release=release)
    new = _parse(scheme, candidate, suite=candidate_suite, release=release)
    if scheme == "debian":
        _require_debian_branch(old, "installed version")
        _require_debian_branch(new, "candidate version")
    order = _compare_parsed(scheme, new, old)
    crosses = old.branch_key != new.branch_key
    kind, reason = _describe(order, crosses, old, new)
    return VersionChange(
        scheme=scheme,
        installed=old.text,
        candidate=new.text,
        kind=kind,
        installed_branch=old.branch,
        candidate_branch=new.branch,
        crosses_branch=crosses,
        reason=reason,
    )


def _describe(order, crosses, old, new):
    arrow = f"{old.text} -> {new.text}"
    if order == 0:
        if crosses:
            return (
                "same",
                f"{arrow}: the same version, moved from branch {old.branch} to {new.branch}",
            )
        return "same", f"{old.text} is already installed"
    if order < 0:
        where = f"branch {new.branch}" if crosses else f"the installed branch {old.branch}"
        return "downgrade", f"{arrow} goes back to an older version on {where}"
    if crosses:
        return "upgrade", (
            f"{arrow} leaves branch {old.branch} for {new.branch}: "
            "an upgrade is a migration project outside the SLA"
        )
    return "update", f"{arrow} stays on branch {old.branch}"


_VERSIONED_PACKAGE = re.compile(
    r"^(?P<prefix>[a-z0-9][a-z0-9+.-]*[a-z+-])(?P<branch>\d+(?:\.\d+)*)(?P<suffix>-[a-z][a-z0-9+.-]*)?$"
)


def _split_versioned_package(name):
    match = _VERSIONED_PACKAGE.match(name)
    if not match:
        return None
    family = f"{match.group('prefix')}{{}}{match.group('suffix') or ''}"
    return family, match.group("branch")


def package_branch_switch(installed_package, candidate_package):
    """Compare versioned package names such as ``php8.2-fpm`` and ``php8.4-fpm``.

    Debian names some packages after their branch, so moving to another
    branch means installing another package rather than a newer version.
    Returns a dict (family, installed_branch, candidate_branch, kind, reason)
    or None when the names are not the same family with a branch in the name.
    """
    for name in (installed_package, candidate_package):
        if not isinstance(name, str) or not name:
            raise VersionError(f"package name is {name!r}; expected a Debian package name")
    old = _split_versioned_package(installed_package)
    new = _split_versioned_package(candidate_package)
    if old is None or new is None or old[0] != new[0]:
        return None
    family = old[0]
    old_key = tuple(int(part) for part in old[1].split("."))
    new_key = tuple(int(part) for part in new[1].split("."))
    order = _sign(new_key, old_key)
    arrow = f"{installed_package} -> {candidate_package}"
    if order == 0:
        kind, reason = "same", f"{installed_package} is the same package"
    elif order > 0:
        kind = "upgrade"
        reason = (
            f"{arrow} switches branch {old[1]} to {new[1]}: "
            "an upgrade is a migration project outside the SLA"
        )
    else:
        kind, reason = (
            "downgrade",
            f"{arrow} goes back from branch {old[1]} to {new[1]}",
        )
    return {
        "family": family.format("*"),
        "installed_branch": old[1],
        "candidate_branch": new[1],
        "kind": kind,
        "reason": reason,
    }
