# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import (
    VersionError,
    branch_of,
    classify_change,
    compare_versions,
    debian_suite,
    package_branch_switch,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("scheme", "installed", "candidate", "kind", "reason"),
    [
        ("mediawiki", "1.39.10", "1.39.17", "update", "1.39.10 -> 1.39.17 stays on branch 1.39"),
        ("mediawiki", "1.39.10", "1.43.1", "upgrade", "leaves branch 1.39 for 1.43"),
        ("mediawiki", "REL1_39", "REL1_43", "upgrade", "leaves branch 1.39 for 1.43"),
        ("mediawiki", "1.39.17", "1.39.10", "downgrade", "older version on the installed branch"),
        ("mediawiki", "1.39.17", "1.39.17", "same", "1.39.17 is already installed"),
        ("php", "8.2.32", "8.2.36", "update", "stays on branch 8.2"),
        ("php", "8.2.36", "8.4.1", "upgrade", "leaves branch 8.2 for 8.4"),
        ("php", "8.2", "8.4", "upgrade", "leaves branch 8.2 for 8.4"),
        ("mariadb", "10.11.6", "10.11.14", "update", "stays on branch 10.11"),
        ("mariadb", "10.11.14", "11.4.2", "upgrade", "leaves branch 10.11 for 11.4"),
        ("apache", "2.4.62", "2.4.65", "update", "stays on branch 2.4"),
        ("wordpress", "6.5", "6.5.2", "update", "stays on branch 6.5"),
        ("wordpress", "6.5.2", "6.6", "upgrade", "leaves branch 6.5 for 6.6"),
        ("semver", "1.2.3", "1.10.0", "update", "stays on branch 1"),
        ("semver", "1.0.0-rc.1", "1.0.0", "update", "stays on branch 1"),
        ("semver", "1.9.9", "2.0.0", "upgrade", "leaves branch 1 for 2"),
        ("semver", "0.3.1", "0.4.0", "upgrade", "leaves branch 0.3 for 0.4"),
        ("semver", "1.0.0+build.1", "1.0.0+build.2", "same", "already installed"),
        ("debian_release", "12", "13", "upgrade", "leaves branch 12 for 13"),
        ("debian_release", "bookworm", "trixie", "upgrade", "leaves branch 12 for 13"),
        ("debian_release", "12.8", "12.9", "update", "12.8 -> 12.9 stays on branch 12"),
        ("debian_release", "bookworm", "bookworm-security", "same", "already installed"),
        ("debian_release", "bookworm", "bookworm-updates", "same", "already installed"),
        ("debian_release", "bookworm", "bookworm-backports", "upgrade", "for 12-backports"),
    ],
)
def test_classify_change(scheme, installed, candidate, kind, reason):
    change = classify_change(scheme, installed, candidate)
    assert change.kind == kind
    assert reason in change.reason


def test_upgrade_reason_says_it_is_a_migration_project():
    change = classify_change("php", "8.2.36", "8.4.1")
    assert change.reason == (
        "8.2.36 -> 8.4.1 leaves branch 8.2 for 8.4: an upgrade is a migration project outside the SLA"
    )
    assert change.crosses_branch is True
    assert change.as_dict()["candidate_branch"] == "8.4"


def test_debian_security_upload_is_an_update():
    change = classify_change("debian", "2.36-9+deb12u9", "2.36-9+deb12u10")
    assert change.kind == "update"
    assert change.installed_branch == "debian 12"


def test_debian_ordering_uses_dpkg_rules():
    # dpkg: "~" sorts before anything, so a backport sorts below the release.
    assert compare_versions("debian", "1.0~rc1-1", "1.0-1") == -1
    assert compare_versions("debian", "1:1.0-1", "2.0-1") == 1
    assert compare_versions("debian", "1.0-1+deb12u1", "1.0-1") == 1


def test_debian_candidate_from_another_release_is_an_upgrade():
    change = classify_change("debian", "2.36-9+deb12u9", "2.41-6", candidate_suite="trixie")
    assert change.kind == "upgrade"
    assert change.candidate_branch == "debian 13"


def test_debian_candidate_from_backports_is_an_upgrade():
    change = classify_change(
        "debian", "1.22.1-9", "1.26.0-1~bpo12+1", candidate_suite="bookworm-backports", release="12"
    )
    assert change.kind == "upgrade"
    assert change.candidate_branch == "debian 12-backports"


def test_debian_backports_mark_in_revision_is_an_upgrade():
    change = classify_change("debian", "1.22.1-9", "1.26.0-1~bpo12+1", release="bookworm")
    assert change.kind == "upgrade"


def test_debian_candidate_from_security_suite_is_an_update():
    change = classify_change(
        "debian", "1.22.1-9", "1.22.1-9+deb12u1", candidate_suite="bookworm-security", release="12"
    )
    assert change.kind == "update"


def test_debian_unmarked_versions_need_the_release():
    with pytest.raises(VersionError, match="carries no Debian release mark"):
        classify_change("debian", "1.22.1-9", "1.22.1-10")


def test_debian_epoch_change_crosses_branch():
    change = classify_change("debian", "1.0-1+deb12u1", "1:0.9-1+deb12u1")
    assert change.kind == "upgrade"
    assert change.candidate_branch == "debian 12, epoch 1"


@pytest.mark.parametrize(
    ("scheme", "version"),
    [
        ("debian", "abc"),
        ("debian", "1.0-"),
        ("debian", "1:"),
        ("debian", "1.0 beta"),
        ("debian", ""),
        ("php", "8"),
        ("php", "8.2.x"),
        ("php", "v8.2.1"),
        ("mediawiki", "REL1_"),
        ("mediawiki", "1.39.10-wmf"),
        ("semver", "1.2"),
        ("semver", "01.2.3"),
        ("debian_release", "stable"),
        ("debian_release", "bookworm-nightly"),
        ("wordpress", None),
    ],
)
def test_malformed_versions_raise(scheme, version):
    with pytest.raises(VersionError):
        classify_change(scheme, version, version)


def test_malformed_version_error_says_what_is_expected():
    with pytest.raises(VersionError, match=r"'8\.2\.x' is not a php version; expected x\.y"):
        classify_change("php", "8.2.1", "8.2.x")


def test_unknown_scheme_raises():
    with pytest.raises(VersionError, match="version scheme is 'npm'"):
        classify_change("npm", "1.0.0", "1.0.1")


def test_suite_only_applies_to_debian():
    with pytest.raises(VersionError, match="apply to the debian scheme"):
        classify_change("php", "8.2.1", "8.2.2", candidate_suite="bookworm-security")


def test_bare_branch_cannot_be_ordered_within_its_branch():
    with pytest.raises(VersionError, match="one names only the branch 1.39"):
        classify_change("mediawiki", "1.39.10", "REL1_39")


def test_branch_of():
    assert branch_of("mediawiki", "REL1_43") == "1.43"
    assert branch_of("php", "8.4.1") == "8.4"
    assert branch_of("debian_release", "trixie-security") == "13"


def test_debian_suite():
    assert debian_suite("bookworm-security") == (12, "security")
    assert debian_suite("13") == (13, None)
    with pytest.raises(VersionError, match="not a Debian release or suite"):
        debian_suite("sid")


@pytest.mark.parametrize(
    ("installed", "candidate", "expected"),
    [
        ("php8.2-fpm", "php8.4-fpm", ("php*-fpm", "8.2", "8.4", "upgrade")),
        ("php8.2", "php8.4", ("php*", "8.2", "8.4", "upgrade")),
        (
            "libapache2-mod-php8.4",
            "libapache2-mod-php8.2",
            ("libapache2-mod-php*", "8.4", "8.2", "downgrade"),
        ),
        ("postgresql-15", "postgresql-17", ("postgresql-*", "15", "17", "upgrade")),
        ("php8.2-fpm", "php8.2-fpm", ("php*-fpm", "8.2", "8.2", "same")),
    ],
)
def test_package_branch_switch(installed, candidate, expected):
    switch = package_branch_switch(installed, candidate)
    assert (
        switch["family"],
        switch["installed_branch"],
        switch["candidate_branch"],
        switch["kind"],
    ) == expected


@pytest.mark.parametrize(
    ("installed", "candidate"),
    [("php8.2-fpm", "php8.2-mysql"), ("libssl3", "libssl3t64"), ("apache2", "nginx")],
)
def test_package_branch_switch_ignores_unrelated_names(installed, candidate):
    assert package_branch_switch(installed, candidate) is None


# Property tests: the ordering is a total order and classification is its mirror.

_numbers = st.integers(min_value=0, max_value=30)
_dotted = st.builds(lambda a, b, c: f"{a}.{b}.{c}", _numbers, _numbers, _numbers)
_prerelease = st.lists(
    st.one_of(_numbers.map(str), st.sampled_from(["alpha", "beta", "rc", "x-1"])),
    min_size=1,
    max_size=3,
).map(".".join)
_semver = st.builds(
    lambda core, pre: core if pre is None else f"{core}-{pre}",
    _dotted,
    st.one_of(st.none(), _prerelease),
)
_upstream = st.builds(
    lambda parts, tail: ".".join(map(str, parts)) + tail,
    st.lists(_numbers, min_size=1, max_size=3),
    st.sampled_from(["", "~rc1", "+dfsg", "a"]),
)
_debian = st.builds(
    lambda epoch, upstream, revision, release: (
        (f"{epoch}:" if epoch else "") + f"{upstream}-{revision}+deb{release}u1"
    ),
    st.integers(min_value=0, max_value=2),
    _upstream,
    st.integers(min_value=1, max_value=5),
    st.sampled_from([12, 13]),
)
_mediawiki = st.one_of(
    st.builds(lambda b, p: f"1.{b}.{p}", st.integers(35, 45), _numbers),
    st.builds(lambda b: f"REL1_{b}", st.integers(35, 45)),
)
_schemes = st.one_of(
    st.tuples(st.just("semver"), _semver),
    st.tuples(st.just("debian"), _debian),
    st.tuples(st.just("php"), _dotted),
    st.tuples(st.just("wordpress"), st.builds(lambda a, b: f"{a}.{b}", _numbers, _numbers)),
    st.tuples(st.just("mediawiki"), _mediawiki),
)


@st.composite
def _versions_of_one_scheme(draw, count):
    scheme, first = draw(_schemes)
    strategy = {
        "semver": _semver,
        "debian": _debian,
        "php": _dotted,
        "wordpress": st.builds(lambda a, b: f"{a}.{b}", _numbers, _numbers),
        "mediawiki": _mediawiki,
    }[scheme]
    return scheme, [first] + [draw(strategy) for _ in range(count - 1)]


def _comparable(scheme, *versions):
    try:
        for left in versions:
            for right in versions:
                compare_versions(scheme, left, right)
    except VersionError:
        # A bare branch (REL1_39) and a release on it have no order by design.
        return False
    return True


@settings(deadline=None)  # a shared CI machine is slow, not wrong
@given(_versions_of_one_scheme(2))
def test_ordering_is_antisymmetric(sample):
    scheme, (a, b) = sample
    if _comparable(scheme, a, b):
        assert compare_versions(scheme, a, b) == -compare_versions(scheme, b, a)


@settings(deadline=None)  # a shared CI machine is slow, not wrong
@given(_versions_of_one_scheme(3))
def test_ordering_is_transitive(sample):
    scheme, (a, b, c) = sample
    if not _comparable(scheme, a, b, c):
        return
    if compare_versions(scheme, a, b) <= 0 and compare_versions(scheme, b, c) <= 0:
        assert compare_versions(scheme, a, c) <= 0


_MIRROR = {
    ("update", False): ("downgrade", False),
    ("upgrade", True): ("downgrade", True),
    ("same", False): ("same", False),
    ("same", True): ("same", True),
}


@settings(deadline=None)  # a shared CI machine is slow, not wrong
@given(_versions_of_one_scheme(2))
def test_classification_mirrors_when_swapped(sample):
    scheme, (a, b) = sample
    if not _comparable(scheme, a, b):
        return
    forward = classify_change(scheme, a, b)
    backward = classify_change(scheme, b, a)
    pair = (forward.kind, forward.crosses_branch)
    if forward.kind == "downgrade":
        assert _MIRROR[(backward.kind, backward.crosses_branch)] == pair
    else:
        assert _MIRROR[pair] == (backward.kind, backward.crosses_branch)
    assert (forward.installed_branch, forward.candidate_branch) == (
        backward.candidate_branch,
        backward.installed_branch,
    )


@settings(deadline=None)  # a shared CI machine is slow, not wrong
@given(_versions_of_one_scheme(2))
def test_classification_agrees_with_ordering(sample):
    scheme, (a, b) = sample
    if not _comparable(scheme, a, b):
        return
    kind = classify_change(scheme, a, b).kind
    order = compare_versions(scheme, b, a)
    assert {1: ("update", "upgrade"), 0: ("same",), -1: ("downgrade",)}[order].count(kind) == 1
