# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find MediaWiki and WordPress sites on a host and what maintenance decides on.

This runs on every managed host on every daily run (inside ``host_probe``),
so it uses the standard library only, starts no processes, and reads small
files or file headers only.

Configuration files hold database passwords and signing keys next to the
facts maintenance needs. Values are therefore copied out through a whitelist
of names: nothing that is not listed here can reach facts, logs or advice.
"""

from __future__ import annotations

import glob
import json
import os
import re
import stat

# Debian's mediawiki package installs its code here; anything else was unpacked by hand.
PACKAGE_PREFIXES = ("/usr/share/",)

# A configuration file or manifest larger than this is not one we should parse daily.
MAX_FILE_BYTES = 1024 * 1024
# WordPress itself reads no more than this of a plugin or theme file for its header.
HEADER_BYTES = 8 * 1024

# A deploy that failed leaves this marker in its release directory.
FAILED_MARKER = ".sla-failed"
# Code version each site's database schema was last updated for, by realpath.
SCHEMA_STATE = "/var/lib/twovalue-sla/cms-schema.json"

_MARKERS = (
    ("mediawiki", "includes/Defines.php"),
    ("wordpress", "wp-includes/version.php"),
)

_MW_VERSION = re.compile(r"""define\(\s*['"]MW_VERSION['"]\s*,\s*['"]([^'"]+)['"]\s*\)""")
_WP_VERSION = re.compile(r"""^\$wp_version\s*=\s*['"]([^'"]+)['"]""", re.MULTILINE)
_WP_DB_VERSION = re.compile(r"^\$wp_db_version\s*=\s*(\d+)\s*;", re.MULTILINE)
_BRANCH = re.compile(r"^(\d+)\.(\d+)")

# Strings are matched too so that "#" or "//" inside a URL is not taken for a
# comment. Unterminated tokens run to the end of the text, which keeps the
# scan linear on a truncated or odd file.
_PHP_TOKEN = re.compile(
    r"""'(?:[^'\\]|\\.?)*(?:'|\Z)"""
    r"""|"(?:[^"\\]|\\.?)*(?:"|\Z)"""
    r"""|/\*.*?(?:\*/|\Z)"""
    r"""|(?://|\#)[^\n]*""",
    re.DOTALL,
)
_LITERAL = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(?i:true|false|null)|-?\d+"""
# Only a literal followed by ";" counts: an expression is not a value we can report.
_ASSIGNMENT = re.compile(r"\$(\w+)\s*=\s*(" + _LITERAL + r")\s*;")
_DEFINE = re.compile(r"""\bdefine\s*\(\s*(['"])(\w+)\1\s*,\s*(""" + _LITERAL + r")\s*[,)]")
_MW_LOAD = re.compile(
    r"""\bwfLoad(?P<what>Extension|Skin)(?:"""
    r"""\s*\(\s*(?P<quote>['"])(?P<one>[^'"]+)(?P=quote)"""
    r"""|s\s*\(\s*(?:\[|array\s*\()(?P<many>[^\])]*))"""
)
_QUOTED = re.compile(r"""(['"])([^'"]+)\1""")
# Credentials in a URL are still credentials.
_URL_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")

_MW_SETTINGS = {
    "wgDBtype": "db_type",
    "wgDBserver": "db_server",
    "wgDBname": "db_name",
    "wgDBprefix": "db_prefix",
    "wgServer": "server",
    "wgScriptPath": "script_path",
    "wgSitename": "sitename",
}
_WP_CONSTANTS = {
    "DB_NAME": "db_name",
    "DB_HOST": "db_host",
    "WP_HOME": "home",
    "WP_SITEURL": "siteurl",
    "DISALLOW_FILE_MODS": "disallow_file_mods",
    "WP_AUTO_UPDATE_CORE": "auto_update_core",
}
_WP_VARIABLES = {"table_prefix": "table_prefix"}
_URL_KEYS = ("server", "home", "siteurl")


def _header_pattern(name):
    # The same line shape WordPress's get_file_data() accepts.
    return re.compile(
        r"^(?:[ \t]*<\?php)?[ \t/*#@]*" + name + r":(.*)$", re.MULTILINE | re.IGNORECASE
    )


_PLUGIN_NAME = _header_pattern("Plugin Name")
_VERSION_HEADER = _header_pattern("Version")
_HEADER_TAIL = re.compile(r"\s*(?:\*/|\?>).*")


def _read(path, limit, whole):
    """Return ``(text, problem)``: at most ``limit`` bytes, or why nothing was read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, "is missing"
    except OSError:
        return None, "is not readable"
    # A FIFO or device under a config name would block or stream forever.
    if not stat.S_ISREG(info.st_mode):
        return None, "is not a regular file"
    if whole and info.st_size > MAX_FILE_BYTES:
        return None, "is larger than 1 MiB"
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit)
    except OSError:
        return None, "is not readable"
    return data.decode("utf-8", "replace"), None


def _read_file(path):
    return _read(path, MAX_FILE_BYTES, whole=True)


def _read_head(path):
    text, problem = _read(path, HEADER_BYTES, whole=False)
    return (text.replace("\r", "\n") if text is not None else None), problem


def _header(text, pattern):
    match = pattern.search(text)
    if not match:
        return None
    return _HEADER_TAIL.sub("", match.group(1)).strip() or None


def branch_of(version):
    """``1.39`` for MediaWiki 1.39.17, ``6.8`` for WordPress 6.8.3."""
    match = _BRANCH.match(version or "")
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _strip_comments(source):
    return _PHP_TOKEN.sub(lambda m: m.group(0) if m.group(0)[0] in "'\"" else " ", source)


def _literal(token):
    lowered = token.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if token[0] == "'":
        return re.sub(r"\\([\\'])", r"\1", token[1:-1])
    if token[0] == '"':
        return re.sub(r'\\([\\"$])', r"\1", token[1:-1])
    return int(token)


def _php_truthy(value):
    return value not in (None, False, 0, "", "0")


def _literals(pattern, code, names, name_group, value_group):
    # Later ones win, as they do when PHP runs the file top to bottom.
    return {
        match.group(name_group): _literal(match.group(value_group))
        for match in pattern.finditer(code)
        if match.group(name_group) in names
    }


def _without_userinfo(value):
    return _URL_USERINFO.sub(r"\1", value) if isinstance(value, str) else value


def _loaded(code):
    loaded = {"Extension": [], "Skin": []}
    for match in _MW_LOAD.finditer(code):
        names = loaded[match.group("what")]
        if match.group("one") is not None:
            found = [match.group("one")]
        else:
            found = [m.group(2) for m in _QUOTED.finditer(match.group("many"))]
        names.extend(name for name in found if name not in names)
    return loaded["Extension"], loaded["Skin"]


def _settings_code(path, errors, name):
    """The settings file's code without comments; None (the problem noted) when unreadable."""
    source, problem = _read_file(path)
    if problem:
        errors.append(f"{name} {problem}")
        return None
    return _strip_comments(source)


def mediawiki_settings(path, errors):
    """Maintenance facts from LocalSettings.php; never a credential or key."""
    code = _settings_code(path, errors, "LocalSettings.php")
    if code is None:
        return {"file": path, "readable": False}
    values = _literals(_ASSIGNMENT, code, set(_MW_SETTINGS) | {"wgReadOnly"}, 1, 2)
    settings = {"file": path, "readable": True}
    for name, key in _MW_SETTINGS.items():
        settings[key] = values.get(name)
    read_only = values.get("wgReadOnly")
    settings["read_only"] = isinstance(read_only, str) and read_only != ""
    settings["loaded_extensions"], settings["loaded_skins"] = _loaded(code)
    for key in _URL_KEYS:
        if key in settings:
            settings[key] = _without_userinfo(settings[key])
    return settings


def wp_config_path(real):
    """The wp-config.php WordPress would load for the installation at ``real``."""
    own = os.path.join(real, "wp-config.php")
    if os.path.exists(own):
        return own
    # wp-load.php also accepts a config one level up, unless that directory
    # is itself a WordPress installation.
    parent = os.path.dirname(real)
    above = os.path.join(parent, "wp-config.php")
    if os.path.exists(above) and not os.path.exists(os.path.join(parent, "wp-settings.php")):
        return above
    return own


def wordpress_settings(path, errors):
    """Maintenance facts from wp-config.php; never a credential, key or salt."""
    code = _settings_code(path, errors, "wp-config.php")
    if code is None:
        return {"file": path, "readable": False}
    constants = _literals(_DEFINE, code, set(_WP_CONSTANTS), 2, 3)
    variables = _literals(_ASSIGNMENT, code, set(_WP_VARIABLES), 1, 2)
    settings = {"file": path, "readable": True}
    for name, key in _WP_CONSTANTS.items():
        settings[key] = constants.get(name)
    for name, key in _WP_VARIABLES.items():
        settings[key] = variables.get(name)
    # Undefined means WordPress may modify files, which is what maintenance must know.
    settings["disallow_file_mods"] = _php_truthy(constants.get("DISALLOW_FILE_MODS"))
    for key in _URL_KEYS:
        if key in settings:
            settings[key] = _without_userinfo(settings[key])
    return settings


def _list_dir(path, label, errors):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
    except OSError:
        errors.append(f"{label} is not readable")
        return []


def _manifest_version(data):
    version = data.get("version") if isinstance(data, dict) else None
    if isinstance(version, bool):
        return None
    if isinstance(version, (int, float)):
        return str(version)
    return version if isinstance(version, str) and version else None


def mediawiki_components(real, folder, manifest, loaded, errors):
    """Extensions or skins with a manifest; ``loaded`` is None when unknown."""
    base = os.path.join(real, folder)
    found = []
    for name in _list_dir(base, f"{folder}/", errors):
        path = os.path.join(base, name, manifest)
        if not os.path.isfile(path):
            continue
        label = f"{folder}/{name}/{manifest}"
        version = None
        text, problem = _read_file(path)
        if problem:
            errors.append(f"{label} {problem}")
        else:
            try:
                version = _manifest_version(json.loads(text))
            except ValueError:
                errors.append(f"{label} is not valid JSON")
        found.append(
            {"name": name, "version": version, "loaded": None if loaded is None else name in loaded}
        )
    return found


def _plugin_version(directory, slug, errors):
    """``(is_plugin, version)`` for a plugin directory, preferring ``<slug>.php``."""
    main = f"{slug}.php"
    others = [n for n in _list_dir(directory, f"wp-content/plugins/{slug}/", errors) if n != main]
    for name in [main] + [n for n in others if n.endswith(".php")]:
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        head, problem = _read_head(path)
        if problem:
            errors.append(f"wp-content/plugins/{slug}/{name} {problem}")
        elif _header(head, _PLUGIN_NAME):
            return True, _header(head, _VERSION_HEADER)
    return False, None


def wordpress_plugins(real, errors):
    base = os.path.join(real, "wp-content", "plugins")
    plugins = []
    for name in _list_dir(base, "wp-content/plugins/", errors):
        if name.startswith("."):
            continue
        path = os.path.join(base, name)
        if os.path.isdir(path):
            is_plugin, version = _plugin_version(path, name, errors)
            slug = name
        elif name.endswith(".php") and os.path.isfile(path):
            head, problem = _read_head(path)
            if problem:
                errors.append(f"wp-content/plugins/{name} {problem}")
                continue
            is_plugin, version = bool(_header(head, _PLUGIN_NAME)), _header(head, _VERSION_HEADER)
            slug = name[: -len(".php")]
        else:
            continue
        if is_plugin:
            # Which plugins are active lives in the database, which the probe does not open.
            plugins.append({"name": slug, "version": version, "active": None})
    return sorted(plugins, key=lambda plugin: plugin["name"])


def wordpress_themes(real, errors):
    base = os.path.join(real, "wp-content", "themes")
    themes = []
    for name in _list_dir(base, "wp-content/themes/", errors):
        style = os.path.join(base, name, "style.css")
        if name.startswith(".") or not os.path.isfile(style):
            continue
        head, problem = _read_head(style)
        if problem:
            errors.append(f"wp-content/themes/{name}/style.css {problem}")
        themes.append({"name": name, "version": _header(head, _VERSION_HEADER) if head else None})
    return themes


def _version(real, kind, marker, errors):
    text, problem = _read_file(os.path.join(real, marker))
    if problem:
        errors.append(f"{marker} {problem}")
        return None, None
    match = (_MW_VERSION if kind == "mediawiki" else _WP_VERSION).search(text)
    if not match:
        errors.append(f"{marker} names no version")
    return (match.group(1) if match else None), text


def code_version(directory, kind="mediawiki"):
    """The CMS version of the code in ``directory``, or None when it names none."""
    marker = dict(_MARKERS)[kind]
    return _version(directory, kind, marker, [])[0]


def _layout(path, real, install):
    """``(layout, site_root)``."""
    name = os.path.normpath(path)
    if os.path.basename(name) == "current" and os.path.islink(name):
        parent = os.path.dirname(name)
        releases = os.path.join(parent, "releases")
        # Only a link into its own releases/ can be switched and rolled back.
        if os.path.isdir(releases) and real.startswith(os.path.realpath(releases) + os.sep):
            return "releases", parent
    return ("package" if install == "debian" else "in_place"), real


def _releases(site_root, errors):
    base = os.path.join(site_root, "releases")
    return [
        {"name": name, "failed": os.path.isfile(os.path.join(base, name, FAILED_MARKER))}
        for name in _list_dir(base, "releases/", errors)
        if os.path.isdir(os.path.join(base, name))
    ]


def describe_site(kind, marker, path, real):
    """Everything discovery reports about one installation."""
    errors = []
    version, source = _version(real, kind, marker, errors)
    install = "debian" if real.startswith(PACKAGE_PREFIXES) else "tarball"
    layout, site_root = _layout(path, real, install)
    site = {
        "kind": kind,
        "path": path,
        "realpath": real,
        "version": version,
        "branch": branch_of(version),
        "install": install,
        "layout": layout,
        "site_root": site_root,
        "releases": _releases(site_root, errors) if layout == "releases" else [],
    }
    if kind == "mediawiki":
        settings = mediawiki_settings(os.path.join(real, "LocalSettings.php"), errors)
        readable = settings["readable"]
        site["settings"] = settings
        site["extensions"] = mediawiki_components(
            real,
            "extensions",
            "extension.json",
            settings["loaded_extensions"] if readable else None,
            errors,
        )
        site["skins"] = mediawiki_components(
            real, "skins", "skin.json", settings["loaded_skins"] if readable else None, errors
        )
    else:
        site["settings"] = wordpress_settings(wp_config_path(real), errors)
        site["plugins"] = wordpress_plugins(real, errors)
        site["themes"] = wordpress_themes(real, errors)
        match = _WP_DB_VERSION.search(source or "")
        site["db_version"] = int(match.group(1)) if match else None
    site["errors"] = errors
    return site


def discover_sites(roots):
    """Describe every MediaWiki and WordPress installation matched by the glob ``roots``.

    A site reached under several names is reported once, under the first name seen.
    """
    sites = []
    seen = set()
    for pattern in roots:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real in seen or not os.path.isdir(real):
                continue
            for kind, marker in _MARKERS:
                if os.path.isfile(os.path.join(real, marker)):
                    seen.add(real)
                    sites.append(describe_site(kind, marker, path, real))
                    break
    return sites
