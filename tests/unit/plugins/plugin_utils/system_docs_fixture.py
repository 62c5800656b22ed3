# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A recorded customer for the system documentation: two hosts' probed state, a register, a trail.

Customer acme on SLA Pro, documented on ``TODAY`` (2026-11-28) with a
180-day horizon. The states are what the probe returned on the demo's
LAMP image (Debian 12, Apache 2.4, PHP 8.2, MariaDB 10.11, Debian's
MediaWiki 1.39), plus a tarball WordPress 6.9 on staging. What the
documents must therefore say:

- Debian 12: regular security support ended 2026-06-10, LTS until
  2028-06-30: advice, Debian 13 (trixie) proposed;
- PHP 8.2 ends 2026-12-31, within the horizon: advice, PHP 8.4 with Debian 13;
- MariaDB 10.11 (to 2028-02-16) and Apache 2.4: supported, no advice;
- MediaWiki 1.39 past its end of life (2025-12-31), and its upgrade to 1.43.6
  refused in the trail (first on 2026-11-01);
- WordPress 6.9: the newest branch, supported;
- the register: bob left on 2026-10-31 and still holds the customer's wiki
  account; wikiuser rotated on 2026-09-14, SLA-Admin never.

``SECRET`` is planted where no section may show it: in a wiki setting the
parser never reads, in pending updates, in a trail record's result, as a
key comment; the public key bodies must not appear either.
"""

from __future__ import annotations

import base64

from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_redaction import Redactor

CUSTOMER = "acme"
TIER = "pro"
TODAY = "2026-11-28"
SECRET = "s3cret-Wiki-DB-9d2e"
ROTATED_AT = "2026-09-14T02:10:00.500000Z"
REFUSED_FIRST = "2026-11-01T03:00:00Z"


def _public_key(seed):
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes([seed]) * 32
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


ALICE_KEY = _public_key(1)
BOB_KEY = _public_key(2)
KEY_BODIES = (ALICE_KEY.split()[1], BOB_KEY.split()[1])


def _state(kernel, sites, php_modules):
    return {
        "probe_time": 1795000000,
        "os": {
            "id": "debian",
            "version_id": "12",
            "codename": "bookworm",
            "pretty_name": "Debian GNU/Linux 12 (bookworm)",
            "debian_version": "12.12",
            "kernel": kernel,
            "arch": "x86_64",
        },
        "components": {
            "apache": {
                "package": "apache2",
                "version": "2.4.68-1~deb12u1",
                "upstream": "2.4.68",
                "source": "debian",
                "modules": ["mpm_prefork", "php8.2", "rewrite"],
            },
            "mariadb": {
                "package": "mariadb-server",
                "version": "1:10.11.18-0+deb12u1",
                "upstream": "10.11.18",
                "source": "debian",
            },
            "php": {
                "package": "php8.2-common",
                "version": "8.2.32-1~deb12u1",
                "upstream": "8.2.32",
                "source": "debian",
                "branches": ["8.2"],
                "modules": php_modules,
            },
        },
        "package_count": 612,
        "cms": sites,
        "updates": {
            "pending": [
                {
                    "package": "apache2",
                    "installed": "2.4.68-1~deb12u1",
                    "candidate": f"2.4.69-1~deb12u1+{SECRET}",
                    "security": True,
                }
            ],
            "security_count": 1,
            "regular_count": 0,
        },
    }


WIKI = {
    "kind": "mediawiki",
    "path": "/usr/share/mediawiki",
    "realpath": "/usr/share/mediawiki",
    "version": "1.39.17",
    "branch": "1.39",
    "install": "debian",
    "layout": "package",
    "site_root": "/usr/share/mediawiki",
    "releases": [],
    "settings": {
        "readable": True,
        "db_type": "mysql",
        "db_server": "localhost",
        "db_name": "wikidb",
        "db_password": SECRET,
        "server": "http://wiki.acme.example",
        "script_path": "/mediawiki",
        "sitename": "Acme Intranet",
        "loaded_extensions": ["ParserFunctions"],
        "loaded_skins": ["Vector"],
    },
    "extensions": [
        {"name": "ParserFunctions", "version": "1.6.1", "loaded": True},
        {"name": "Cite", "version": None, "loaded": False},
    ],
    "skins": [{"name": "Vector", "version": "1.0.0", "loaded": True}],
    "schema_version": None,
    "errors": [],
}

BLOG = {
    "kind": "wordpress",
    "path": "/var/www/blog/current",
    "realpath": "/var/www/blog/releases/6.9.1",
    "version": "6.9.1",
    "branch": "6.9",
    "install": "tarball",
    "layout": "releases",
    "site_root": "/var/www/blog",
    "releases": [{"name": "6.9.1", "failed": False}],
    "settings": {"db_name": "blog", "home": "https://blog.acme.example", "auth_key": SECRET},
    "plugins": [{"name": "akismet", "version": "5.3", "active": None}],
    "themes": [{"name": "twentytwentyfive", "version": "1.2"}],
    "db_version": 60421,
    "errors": [],
}

PHP_MODULES = {"apache2": ["intl", "mysqli", "opcache"], "cli": ["intl", "mysqli"]}

HOSTS = [
    {
        "name": "acme-prod",
        "environment": "production",
        "state": _state("6.1.0-41-amd64", [WIKI], PHP_MODULES),
        "control": {"os": "agency", "cms": "agency", "access": "agency"},
        "grants": [
            {
                "kind": "os_account",
                "account": "alice",
                "person": "alice",
                "sudo": True,
                "controlled_by": "agency",
            },
            {
                "kind": "os_account",
                "account": "deploy",
                "people": ["alice", "bob"],
                "controlled_by": "agency",
            },
            {
                "kind": "db_user",
                "account": "wikiuser",
                "rotate": True,
                "site": "/usr/share/mediawiki",
                "controlled_by": "agency",
            },
            {
                "kind": "cms_account",
                "account": "SLA-Admin",
                "rotate": True,
                "site": "/usr/share/mediawiki",
                "controlled_by": "agency",
            },
            {
                "kind": "cms_account",
                "account": "Bob",
                "person": "bob",
                "site": "/usr/share/mediawiki",
                "controlled_by": "customer",
            },
            {
                "kind": "cms_account",
                "account": "Carol",
                "person": "carol",
                "site": "/usr/share/mediawiki",
                "controlled_by": "customer",
            },
        ],
    },
    {
        "name": "acme-staging",
        "environment": "staging",
        "state": _state("6.1.0-41-amd64", [WIKI, BLOG], PHP_MODULES),
        "control": {"os": "agency", "cms": "agency", "access": "agency"},
        "grants": [
            {
                "kind": "os_account",
                "account": "alice",
                "person": "alice",
                "sudo": True,
                "controlled_by": "agency",
            },
        ],
    },
]

PEOPLE = {
    "alice": {
        "name": "Alice Jansen",
        "organisation": "agency",
        "ssh_keys": [f"{ALICE_KEY} alice@{SECRET}"],
    },
    "bob": {
        "name": "Bob de Vries",
        "organisation": "agency",
        "ends": "2026-10-31",
        "ssh_keys": [BOB_KEY],
    },
    "carol": {"name": "Carol Pieters", "organisation": "customer", "customer": "acme"},
}


def _decision(time, host, activity, decision, item, **fields):
    return {
        "kind": "decision",
        "time": time,
        "run_id": "r1",
        "operator": "ops-alice",
        "controller": "ops-laptop",
        "customer": CUSTOMER,
        "host": host,
        "tier": TIER,
        "activity": activity,
        "decision": decision,
        "item": item,
        **fields,
    }


def _wiki_refusal(time, host):
    return _decision(
        time,
        host,
        "cms",
        "refused",
        "mediawiki /usr/share/mediawiki",
        before="1.39.17",
        after="1.43.6",
        reason="1.39.17 -> 1.43.6 leaves branch 1.39 for 1.43: a CMS branch change is a migration project",
        result={"kind": "upgrade", "security": False, "addressed_to": "customer", "deadline": None},
    )


RECORDS = [
    _decision(
        ROTATED_AT,
        "acme-prod",
        "access",
        "applied",
        "credential db_user/wikiuser@localhost",
        reason="rotation due",
        result={"steps": ["staged", "set", "verified", "committed"], "note": SECRET},
    ),
    _wiki_refusal(REFUSED_FIRST, "acme-prod"),
    _wiki_refusal("2026-11-27T03:00:00Z", "acme-prod"),
    _wiki_refusal("2026-11-27T03:00:00Z", "acme-staging"),
    # A dry run decides nothing.
    dict(
        _decision(
            "2026-11-20T03:00:00Z",
            "acme-staging",
            "access",
            "applied",
            "credential db_user/wikiuser@localhost",
        ),
        check_mode=True,
    ),
]


def write_trail(path):
    """The records through the real writer, without a redactor that knows the secret."""
    trail = AuditTrail(str(path), redactor=Redactor())
    trail.append_many(RECORDS)
    return trail.head()
