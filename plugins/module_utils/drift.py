# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What makes staging a faithful rehearsal of production, and where the two differ.

``host_drift_facts`` runs on a host (standard library only): installed
packages, the stack's versions, the CMS sites with their extensions, and
SHA-256 checksums of the web server, PHP and MariaDB configuration. Files
that differ between environments by design (site settings with their URL
and credentials) are not hashed. ``compare`` runs on the controller.
"""

from __future__ import annotations

import glob
import hashlib
import os

from ansible_collections.twovalue.sla.plugins.module_utils.cms_site import discover_sites

CONFIG_GLOBS = (
    "/etc/apache2/apache2.conf",
    "/etc/apache2/ports.conf",
    "/etc/apache2/mods-enabled/*",
    "/etc/apache2/conf-enabled/*",
    "/etc/apache2/sites-enabled/*",
    "/etc/php/*/apache2/php.ini",
    "/etc/php/*/apache2/conf.d/*",
    "/etc/mysql/my.cnf",
    "/etc/mysql/mariadb.conf.d/*",
)
_MAX_BYTES = 4 * 1024 * 1024


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_MAX_BYTES))
    return digest.hexdigest()


def config_checksums(globs=CONFIG_GLOBS, root="/"):
    checksums = {}
    for pattern in globs:
        for path in sorted(glob.glob(os.path.join(root, pattern.lstrip("/")))):
            if os.path.isfile(path):
                shown = "/" + os.path.relpath(path, root)
                try:
                    checksums[shown] = _sha256(path)
                except OSError as exc:
                    checksums[shown] = f"unreadable: {exc.strerror}"
    return checksums


def site_summary(roots):
    sites = {}
    for site in discover_sites(roots):
        components = {
            f"{kind} {entry['name']}": entry.get("version") or "unknown"
            for kind in ("extensions", "skins", "plugins", "themes")
            for entry in site.get(kind) or []
        }
        sites[site["site_root"]] = {
            "kind": site["kind"],
            "version": site["version"],
            "components": components,
        }
    return sites


def compare(reference, other):
    """Differences of ``other`` (staging) against ``reference`` (production), sorted."""
    items = []

    def differ(area, name, ref_value, other_value):
        if ref_value != other_value:
            items.append(
                {"area": area, "item": name, "production": ref_value, "staging": other_value}
            )

    for area in ("packages", "config"):
        ref, oth = reference.get(area, {}), other.get(area, {})
        for name in sorted(set(ref) | set(oth)):
            differ(area, name, ref.get(name), oth.get(name))
    ref_sites, oth_sites = reference.get("sites", {}), other.get("sites", {})
    for root in sorted(set(ref_sites) | set(oth_sites)):
        ref_site, oth_site = ref_sites.get(root) or {}, oth_sites.get(root) or {}
        differ("cms", f"{root} {ref_site.get('kind') or oth_site.get('kind')}",
               ref_site.get("version"), oth_site.get("version"))  # fmt: skip
        ref_parts, oth_parts = ref_site.get("components", {}), oth_site.get("components", {})
        for name in sorted(set(ref_parts) | set(oth_parts)):
            differ("cms", f"{root} {name}", ref_parts.get(name), oth_parts.get(name))
    return items
