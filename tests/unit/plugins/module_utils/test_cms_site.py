# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils import cms_site
from ansible_collections.twovalue.sla.plugins.module_utils.cms_site import (
    branch_of,
    discover_sites,
)

MW_DEFINES = "<?php\ndefine( 'MW_VERSION', '1.39.17' );\ndefine( 'DB_PRIMARY', -2 );\n"
WP_VERSION_PHP = "<?php\n$wp_version = '6.8.3';\n$wp_db_version = 60421;\n"

# Every value a leak check looks for; none may reach the result.
PLANTED = (
    "PLANTED-db-secret",
    "PLANTED-db-user",
    "PLANTED-secret-key",
    "PLANTED-upgrade-key",
    "PLANTED-url-password",
    "PLANTED-auth-key",
    "PLANTED-secure-auth-key",
    "PLANTED-logged-in-key",
    "PLANTED-nonce-key",
    "PLANTED-salt",
    "PLANTED-wp-user",
    "PLANTED-wp-password",
)

LOCAL_SETTINGS = """<?php
# Protect against web entry
if ( !defined( 'MEDIAWIKI' ) ) {
\texit;
}
$wgSitename = "Team Wiki";
$wgScriptPath = "";
$wgServer = "https://admin:PLANTED-url-password@wiki.example.org";
$wgDBtype = "mysql";
$wgDBserver = "db.internal:3306";
$wgDBname = 'wiki_db';
$wgDBprefix = "";
$wgDBuser = "PLANTED-db-user";
$wgDBpassword = "PLANTED-db-secret";
$wgSecretKey = "PLANTED-secret-key";
$wgUpgradeKey = 'PLANTED-upgrade-key';
$wgLogos = [ '1x' => "$wgResourceBasePath/resources/assets/logo.png" ];
# $wgReadOnly = 'commented out';
wfLoadSkin( 'Vector' );
wfLoadExtension( 'Cite' );
// wfLoadExtension( 'Commented' );
wfLoadExtensions( [ 'ParserFunctions', "Broken" ] );
wfLoadExtension( 'NotInstalled' );
"""


def _mediawiki(root, settings=LOCAL_SETTINGS):
    (root / "includes").mkdir(parents=True)
    (root / "includes/Defines.php").write_text(MW_DEFINES)
    if settings is not None:
        (root / "LocalSettings.php").write_text(settings)
    for folder, manifest, name, content in (
        ("extensions", "extension.json", "Cite", '{"name": "Cite", "version": "1.0.0"}'),
        ("extensions", "extension.json", "ParserFunctions", '{"name": "ParserFunctions"}'),
        ("extensions", "extension.json", "Broken", '{"name": "Broken", "version": '),
        ("extensions", "extension.json", "Unused", '{"version": "2.1"}'),
        ("skins", "skin.json", "Vector", '{"name": "Vector", "version": "1.0.0"}'),
        ("skins", "skin.json", "MonoBook", '{"name": "MonoBook"}'),
    ):
        (root / folder / name).mkdir(parents=True)
        (root / folder / name / manifest).write_text(content)
    # An extension from before extension.json is not reported.
    (root / "extensions/Legacy").mkdir()
    (root / "extensions/Legacy/Legacy.php").write_text("<?php\n")
    return root


def _releases_site(tmp_path):
    site = tmp_path / "var/www/wiki"
    _mediawiki(site / "releases/1.39.16")
    _mediawiki(site / "releases/1.39.17")
    failed = _mediawiki(site / "releases/1.39.18")
    (failed / ".sla-failed").write_text("schema update failed\n")
    (site / "releases/README").write_text("not a release")
    (site / "current").symlink_to(site / "releases/1.39.17")
    return site


def _leaks(result):
    text = json.dumps(result)
    return [value for value in PLANTED if value in text]


def test_mediawiki_tarball_in_releases_layout(tmp_path):
    site = _releases_site(tmp_path)
    www = tmp_path / "var/www"
    sites = discover_sites([f"{www}/*", f"{www}/*/current"])
    real = str(site / "releases/1.39.17")
    assert sites == [
        {
            "kind": "mediawiki",
            "path": str(site / "current"),
            "realpath": real,
            "version": "1.39.17",
            "branch": "1.39",
            "install": "tarball",
            "layout": "releases",
            "site_root": str(site),
            "releases": [
                {"name": "1.39.16", "failed": False},
                {"name": "1.39.17", "failed": False},
                {"name": "1.39.18", "failed": True},
            ],
            "settings": {
                "file": f"{real}/LocalSettings.php",
                "readable": True,
                "db_type": "mysql",
                "db_server": "db.internal:3306",
                "db_name": "wiki_db",
                "db_prefix": "",
                "server": "https://wiki.example.org",
                "script_path": "",
                "sitename": "Team Wiki",
                "read_only": False,
                "loaded_extensions": ["Cite", "ParserFunctions", "Broken", "NotInstalled"],
                "loaded_skins": ["Vector"],
            },
            "extensions": [
                {"name": "Broken", "version": None, "loaded": True},
                {"name": "Cite", "version": "1.0.0", "loaded": True},
                {"name": "ParserFunctions", "version": None, "loaded": True},
                {"name": "Unused", "version": "2.1", "loaded": False},
            ],
            "skins": [
                {"name": "MonoBook", "version": None, "loaded": False},
                {"name": "Vector", "version": "1.0.0", "loaded": True},
            ],
            "errors": ["extensions/Broken/extension.json is not valid JSON"],
        }
    ]
    assert _leaks(sites) == []


def test_debian_package_follows_the_settings_symlink(tmp_path, monkeypatch):
    share = tmp_path / "usr/share"
    monkeypatch.setattr(cms_site, "PACKAGE_PREFIXES", (f"{share}/",))
    etc = tmp_path / "etc/mediawiki"
    etc.mkdir(parents=True)
    (etc / "LocalSettings.php").write_text(LOCAL_SETTINGS)
    package = _mediawiki(share / "mediawiki", settings=None)
    (package / "LocalSettings.php").symlink_to(etc / "LocalSettings.php")
    www = tmp_path / "var/www"
    www.mkdir(parents=True)
    (www / "wiki").symlink_to(package)

    sites = discover_sites([str(package), f"{www}/*"])

    assert len(sites) == 1
    site = sites[0]
    assert (site["path"], site["install"], site["layout"]) == (str(package), "debian", "package")
    assert site["site_root"] == str(package)
    assert site["releases"] == []
    assert site["settings"]["db_name"] == "wiki_db"
    assert _leaks(sites) == []


def test_in_place_layouts(tmp_path):
    www = tmp_path / "var/www"
    _mediawiki(www / "html")
    # A current link without releases/ beside it, or pointing elsewhere, is no release switch.
    _mediawiki(www / "plain/build")
    (www / "plain/current").symlink_to(www / "plain/build")
    (www / "odd/releases").mkdir(parents=True)
    _mediawiki(www / "odd/elsewhere")
    (www / "odd/current").symlink_to(www / "odd/elsewhere")

    sites = discover_sites([f"{www}/*/current", f"{www}/html"])

    assert [(s["path"], s["layout"], s["site_root"], s["releases"]) for s in sites] == [
        (f"{www}/odd/current", "in_place", f"{www}/odd/elsewhere", []),
        (f"{www}/plain/current", "in_place", f"{www}/plain/build", []),
        (f"{www}/html", "in_place", f"{www}/html", []),
    ]
    assert {s["install"] for s in sites} == {"tarball"}


def test_dedupes_by_realpath_keeping_the_first_name(tmp_path):
    site = _releases_site(tmp_path)
    sites = discover_sites([str(site / "releases/1.39.17"), str(site / "current")])
    assert [(s["path"], s["layout"]) for s in sites] == [
        (str(site / "releases/1.39.17"), "in_place")
    ]


def test_missing_local_settings(tmp_path):
    root = _mediawiki(tmp_path / "wiki", settings=None)
    (site,) = discover_sites([str(root)])
    assert site["settings"] == {"file": f"{root}/LocalSettings.php", "readable": False}
    assert site["errors"] == [
        "LocalSettings.php is missing",
        "extensions/Broken/extension.json is not valid JSON",
    ]
    # Without the settings nobody knows what is loaded, which is not the same as "not loaded".
    assert {e["loaded"] for e in site["extensions"] + site["skins"]} == {None}


def test_oversized_and_special_settings_files_are_not_read(tmp_path, monkeypatch):
    big = _mediawiki(tmp_path / "big")
    fifo = _mediawiki(tmp_path / "fifo", settings=None)
    os.mkfifo(fifo / "LocalSettings.php")
    monkeypatch.setattr(cms_site, "MAX_FILE_BYTES", len(LOCAL_SETTINGS) - 1)

    sites = discover_sites([str(big), str(fifo)])

    assert [s["settings"]["readable"] for s in sites] == [False, False]
    assert sites[0]["errors"][0] == "LocalSettings.php is larger than 1 MiB"
    assert sites[1]["errors"][0] == "LocalSettings.php is not a regular file"


@pytest.mark.parametrize(
    ("line", "read_only"),
    [
        ("$wgReadOnly = 'Upgrading to 1.43';", True),
        ('$wgReadOnly  =  "Maintenance" ;', True),
        ("# $wgReadOnly = 'x';", False),
        ("// $wgReadOnly = 'x';", False),
        ("/*\n$wgReadOnly = 'x';\n*/", False),
        ("$wgReadOnly = '';", False),
        ("$wgReadOnly = false;", False),
        ("$wgReadOnly = 'Upgrading';\n$wgReadOnly = false;", False),
        ("$wgServer = 'https://x.example/#frag'; $wgReadOnly = 'after a hash in a string';", True),
    ],
)
def test_read_only(tmp_path, line, read_only):
    root = _mediawiki(tmp_path / "wiki", settings=f"<?php\n{line}\n")
    (site,) = discover_sites([str(root)])
    assert site["settings"]["read_only"] is read_only


def test_load_calls_in_every_form(tmp_path):
    settings = """<?php
wfLoadExtensions( [
\t'ParserFunctions',
\t"Cite",
] );
wfLoadExtensions( array( 'Interwiki', 'Cite' ) );
wfLoadExtension( "Echo", "$IP/extensions/Echo/extension.json" );
/* wfLoadExtension( 'Hidden' ); */
wfLoadSkins( [ 'Vector', 'Timeless' ] );
$wgServer = WebRequest::detectServer();
$wgDBname = 'wiki' . $suffix;
"""
    root = _mediawiki(tmp_path / "wiki", settings=settings)
    (site,) = discover_sites([str(root)])
    assert site["settings"]["loaded_extensions"] == ["ParserFunctions", "Cite", "Interwiki", "Echo"]
    assert site["settings"]["loaded_skins"] == ["Vector", "Timeless"]
    # Computed values are not literals; reporting half of them would mislead.
    assert site["settings"]["server"] is None
    assert site["settings"]["db_name"] is None


WP_CONFIG = """<?php
define( 'DB_NAME', 'blog_db' );
define( 'DB_USER', 'PLANTED-wp-user' );
define( 'DB_PASSWORD', 'PLANTED-wp-password' );
define( "DB_HOST", "localhost" );
define( 'AUTH_KEY',         'PLANTED-auth-key' );
define( 'SECURE_AUTH_KEY',  'PLANTED-secure-auth-key' );
define( 'LOGGED_IN_KEY',    'PLANTED-logged-in-key' );
define( 'NONCE_KEY',        'PLANTED-nonce-key' );
define( 'AUTH_SALT',        'PLANTED-salt' );
define( 'SECURE_AUTH_SALT', 'PLANTED-salt' );
define( 'LOGGED_IN_SALT',   'PLANTED-salt' );
define( 'NONCE_SALT',       'PLANTED-salt' );
define( 'WP_HOME', 'https://blog.example.org' );
define( 'DISALLOW_FILE_MODS', true );
define( 'WP_AUTO_UPDATE_CORE', 'minor' );
// define( 'WP_SITEURL', 'https://commented.example.org' );
$table_prefix = 'wp_blog_';
if ( ! defined( 'ABSPATH' ) ) {
\tdefine( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
"""


def _wordpress(root):
    (root / "wp-includes").mkdir(parents=True)
    (root / "wp-includes/version.php").write_text(WP_VERSION_PHP)
    plugins = root / "wp-content/plugins"
    (plugins / "akismet").mkdir(parents=True)
    (plugins / "akismet/akismet.php").write_text(
        "<?php\n/**\n * Plugin Name: Akismet Anti-spam\n * Version: 5.3.7\n */\n"
    )
    # The main file need not be named after the directory.
    (plugins / "seo").mkdir()
    (plugins / "seo/helpers.php").write_text("<?php\nfunction seo_helper() {}\n")
    (plugins / "seo/main.php").write_text(
        "<?php\n/*\nPlugin Name: SEO\nVersion: 21.0 */\n" + "// padding\n" * 2000
    )
    (plugins / "hello.php").write_text("<?php\n/*\nPlugin Name: Hello Dolly\nVersion: 1.7.2\n*/\n")
    (plugins / "index.php").write_text("<?php\n// Silence is golden.\n")
    (plugins / "not-a-plugin").mkdir()
    (plugins / "not-a-plugin/readme.txt").write_text("Version: 9.9\n")
    themes = root / "wp-content/themes"
    (themes / "twentytwentyfive").mkdir(parents=True)
    (themes / "twentytwentyfive/style.css").write_text(
        "/*\nTheme Name: Twenty Twenty-Five\nVersion: 1.3\n*/\n"
    )
    (themes / "bare").mkdir()
    (themes / "bare/style.css").write_text("body { color: black; }\n")
    (themes / "index.php").write_text("<?php\n")
    return root


def test_wordpress_with_config_in_parent_directory(tmp_path):
    www = tmp_path / "var/www/blog"
    root = _wordpress(www / "public")
    (www / "wp-config.php").write_text(WP_CONFIG)

    (site,) = discover_sites([f"{www}/*"])

    assert site == {
        "kind": "wordpress",
        "path": str(root),
        "realpath": str(root),
        "version": "6.8.3",
        "branch": "6.8",
        "install": "tarball",
        "layout": "in_place",
        "site_root": str(root),
        "releases": [],
        "settings": {
            "file": f"{www}/wp-config.php",
            "readable": True,
            "db_name": "blog_db",
            "db_host": "localhost",
            "table_prefix": "wp_blog_",
            "home": "https://blog.example.org",
            "siteurl": None,
            "disallow_file_mods": True,
            "auto_update_core": "minor",
        },
        "plugins": [
            {"name": "akismet", "version": "5.3.7", "active": None},
            {"name": "hello", "version": "1.7.2", "active": None},
            {"name": "seo", "version": "21.0", "active": None},
        ],
        "themes": [
            {"name": "bare", "version": None},
            {"name": "twentytwentyfive", "version": "1.3"},
        ],
        "db_version": 60421,
        "errors": [],
    }
    assert _leaks(site) == []


def test_wordpress_config_beside_the_code_wins(tmp_path):
    www = tmp_path / "blog"
    root = _wordpress(www / "public")
    (root / "wp-config.php").write_text("<?php\ndefine( 'DB_NAME', 'own' );\n")
    (www / "wp-config.php").write_text(WP_CONFIG)
    (site,) = discover_sites([str(root)])
    assert site["settings"]["db_name"] == "own"
    assert site["settings"]["disallow_file_mods"] is False
    assert site["settings"]["auto_update_core"] is None


def test_wordpress_parent_config_of_another_install_is_not_used(tmp_path):
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "wp-settings.php").write_text("<?php\n")
    (outer / "wp-config.php").write_text(WP_CONFIG)
    root = _wordpress(outer / "nested")
    (site,) = discover_sites([str(root)])
    assert site["settings"] == {"file": f"{root}/wp-config.php", "readable": False}
    assert site["errors"] == ["wp-config.php is missing"]


def test_wordpress_release_layout_and_unreadable_version(tmp_path):
    site_root = tmp_path / "shop"
    release = _wordpress(site_root / "releases/2025-06-01")
    (release / "wp-includes/version.php").write_text("<?php\n// truncated\n")
    (site_root / "shared").mkdir()
    (site_root / "shared/wp-config.php").write_text(WP_CONFIG)
    (release / "wp-config.php").symlink_to(site_root / "shared/wp-config.php")
    (site_root / "current").symlink_to("releases/2025-06-01")

    (site,) = discover_sites([str(site_root / "current")])

    assert (site["version"], site["branch"], site["db_version"]) == (None, None, None)
    assert (site["layout"], site["site_root"]) == ("releases", str(site_root))
    assert site["releases"] == [{"name": "2025-06-01", "failed": False}]
    assert site["settings"]["db_name"] == "blog_db"
    assert site["errors"] == ["wp-includes/version.php names no version"]
    assert _leaks(site) == []


def test_nothing_found(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert discover_sites([str(tmp_path / "*"), str(tmp_path / "absent/*")]) == []


@pytest.mark.parametrize(
    ("version", "branch"),
    [
        ("1.39.17", "1.39"),
        ("6.8.3", "6.8"),
        ("6.8", "6.8"),
        ("1.43.0-rc.0", "1.43"),
        ("6.9-beta1", "6.9"),
        ("trunk", None),
        (None, None),
    ],
)
def test_branch_of(version, branch):
    assert branch_of(version) == branch
