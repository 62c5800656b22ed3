# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rotate one service credential on the host so nobody is locked out.

Standard library only (runs on managed hosts). The order is: remember the
old credential (its hash, never its text), set the new one, prove a login
with it, point the site's configuration at it, health-check the site. Any
failure puts the old hash and the old configuration back, so the old
password works again. The new secret arrives on stdin inside the module's
arguments and goes to MariaDB and PHP on stdin as well: never into a
command line, a log line or a result.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import tempfile
import urllib.parse
import urllib.request

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    SQL_CLIENTS,
    HealthChecks,
    first_existing,
    sql_string,
    tail,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import HostError, HostRunner

_NATIVE_HASH = re.compile(r"IDENTIFIED BY PASSWORD '(\*[0-9A-F]{40})'")
_MW_PASSWORD = re.compile(r"""^(\s*\$wgDBpassword\s*=\s*)(['"])(?:[^'"\\]|\\.)*\2(\s*;)""", re.M)
_WP_PASSWORD = re.compile(
    r"""^(\s*define\s*\(\s*['"]DB_PASSWORD['"]\s*,\s*)(['"])(?:[^'"\\]|\\.)*\2(\s*\)\s*;)""", re.M
)
_TIMEOUT = 10


class RotationError(HostError):
    def __init__(self, msg, steps, reverted):
        super().__init__(msg, {"steps": steps, "reverted": reverted})
        self.steps = steps
        self.reverted = reverted


def php_single_quoted(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def site_config(site):
    """The configuration file holding a site's database password, and its kind."""
    site = site.rstrip("/")
    if site == "/usr/share/mediawiki":
        candidates = [("/etc/mediawiki/LocalSettings.php", "mediawiki")]
    else:
        candidates = [
            (f"{site}/current/LocalSettings.php", "mediawiki"),
            (f"{site}/LocalSettings.php", "mediawiki"),
            (f"{site}/current/wp-config.php", "wordpress"),
            (f"{site}/wp-config.php", "wordpress"),
        ]
    for path, kind in candidates:
        if os.path.isfile(path):
            return path, kind
    return None, None


def with_password(text, kind, secret):
    """The configuration text with the database password replaced; None if none is set there."""
    pattern = _MW_PASSWORD if kind == "mediawiki" else _WP_PASSWORD
    literal = php_single_quoted(secret)
    new, count = pattern.subn(lambda m: m.group(1) + literal + m.group(3), text, count=1)
    return new if count == 1 else None


def site_check(kind, site_url):
    base = site_url.rstrip("/")
    if kind == "mediawiki":
        # siteinfo reads the database: a wiki that cannot log in answers an error.
        return {
            "type": "http",
            "url": f"{base}/api.php?action=query&meta=siteinfo&format=json",
            "contains": '"generator"',
        }
    return {"type": "http", "url": f"{base}/", "contains": "</html>"}


class CredentialRotation(HostRunner):
    def __init__(self, call, check_mode=False, health=None, opener=None):
        super().__init__(call, check_mode)
        self._health = health or HealthChecks(call)
        self._opener = opener

    def _sql(self, statement, what, defaults_file=None, user="root"):
        client = first_existing(SQL_CLIENTS)
        if client is None:
            raise RotationError("no mariadb client on the host", self.steps, False)
        argv = [client]
        if defaults_file:
            # Must come first: the client reads the login from it, not from argv.
            argv.append(f"--defaults-extra-file={defaults_file}")
        argv += ["--batch", "-N", f"--user={user}", "--protocol=socket"]
        rc, out, err = self._call(argv, data=statement)
        return rc, out, f"{what}: {tail(err or out)}"

    def _login_works(self, account, secret):
        with tempfile.TemporaryDirectory(prefix="sla-rotate-") as private:
            path = os.path.join(private, "login.cnf")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("[client]\npassword=" + secret.replace("\\", "\\\\") + "\n")
            rc, _out, detail = self._sql(
                "SELECT 1", "login with the new password", defaults_file=path, user=account
            )
        return rc == 0, detail

    # -- database users --------------------------------------------------------

    def rotate_db_user(self, params, secret):
        account, host = params["account"], params["db_host"]
        name = f"{sql_string(account)}@{sql_string(host)}"
        rc, out, detail = self._sql(f"SHOW CREATE USER {name}", f"reading {account}@{host}")
        if rc != 0:
            raise RotationError(detail, self.steps, False)
        match = _NATIVE_HASH.search(out)
        if not match:
            raise RotationError(
                f"{account}@{host} does not log in with a mysql_native_password hash; "
                "only such users are rotated",
                self.steps,
                False,
            )
        old_hash = match.group(1)
        config, kind, old_text = None, None, None
        if params.get("site"):
            config, kind = site_config(params["site"])
            if config is None:
                raise RotationError(
                    f"no LocalSettings.php or wp-config.php found for {params['site']}",
                    self.steps,
                    False,
                )
            with open(config, encoding="utf-8") as handle:
                old_text = handle.read()
            if with_password(old_text, kind, secret) is None:
                raise RotationError(
                    f"{config} sets no database password this rotation can replace",
                    self.steps,
                    False,
                )
        if self._would(f"set a new password for {account}@{host}"):
            return {"changed": True, "steps": self.steps}
        rc, _out, detail = self._sql(
            f"ALTER USER {name} IDENTIFIED BY {sql_string(secret)}", "setting the new password"
        )
        if rc != 0:
            raise RotationError(detail, self.steps, False)
        self._step(f"new password set for {account}@{host}")
        try:
            works, detail = self._login_works(account, secret)
            if not works:
                raise RotationError(detail, self.steps, False)
            self._step("login with the new password verified")
            if config:
                self._write_config(config, with_password(old_text, kind, secret))
                self._step(f"{config} points at the new password")
                # The site must answer from its database with the new password in place.
                checks = [site_check(kind, params["site_url"]), *params["health_checks"]]
                ok, results = self._health.run(
                    checks, params["health_retries"], params["health_delay"]
                )
                if not ok:
                    failed = "; ".join(r["detail"] for r in results if not r["ok"])
                    raise RotationError(f"health check failed: {failed}", self.steps, False)
                self._step("site healthy with the new password")
        except (RotationError, OSError) as exc:
            self._revert_db(name, old_hash, config, old_text)
            msg = exc.msg if isinstance(exc, RotationError) else str(exc)
            if config:
                msg += self._check_after_revert(kind, params)
            raise RotationError(msg, self.steps, True) from exc
        return {"changed": True, "steps": self.steps}

    def _check_after_revert(self, kind, params):
        """The web server may keep the configuration it cached for a moment: the revert is
        only done once the site answers from its database with the old password again."""
        ok, results = self._health.run(
            [site_check(kind, params["site_url"])], params["health_retries"], params["health_delay"]
        )
        if ok:
            self._step("site healthy again with the old password")
            return ""
        detail = "; ".join(r["detail"] for r in results if not r["ok"])
        self._step(f"site unhealthy after the revert: {detail}")
        return f"; and after the revert the site still fails: {detail}"

    def _revert_db(self, name, old_hash, config, old_text):
        if config:
            self._write_config(config, old_text)
            self._step(f"{config} restored")
        rc, _out, detail = self._sql(
            f"ALTER USER {name} IDENTIFIED BY PASSWORD {sql_string(old_hash)}",
            "restoring the old password",
        )
        if rc != 0:
            self._step(f"restoring the old password failed: {detail}")
        else:
            self._step("old password restored")

    @staticmethod
    def _write_config(path, text):
        """Replace the file and every release's hard-linked copy of it, owner and mode kept."""
        stat = os.stat(path)
        copies = [path]
        releases = os.path.dirname(os.path.dirname(os.path.realpath(path)))
        if stat.st_nlink > 1 and os.path.basename(releases) == "releases":
            for release in sorted(os.listdir(releases)):
                other = os.path.join(releases, release, os.path.basename(path))
                if (
                    os.path.realpath(other) != os.path.realpath(path)
                    and os.path.exists(other)
                    and os.stat(other).st_ino == stat.st_ino
                ):
                    copies.append(other)

        # One new inode linked in place of every copy: the releases keep
        # sharing the file, so a revert finds them all again.
        def link_copies(finished):
            linked = f"{finished}.link"
            try:
                for target in copies[1:]:
                    os.link(finished, linked)
                    os.replace(linked, target)
            finally:
                if os.path.exists(linked):
                    os.unlink(linked)

        atomic_write(os.path.realpath(path), text, like=path, before_replace=link_copies)

    # -- MediaWiki accounts -------------------------------------------------------

    def rotate_wiki_account(self, params, secret, database, prefix):
        account = params["account"]
        rc, out, detail = self._sql(
            f"SELECT user_password FROM {database}.{prefix}user "
            f"WHERE user_name = {sql_string(account)}",
            f"reading {account}",
        )
        if rc != 0 or not out.strip():
            raise RotationError(
                detail if rc else f"no wiki account {account} in {database}", self.steps, False
            )
        old_hash = out.strip()
        if self._would(f"set a new password for wiki account {account}"):
            return {"changed": True, "steps": self.steps}
        code = (
            f"$u = User::newFromName({php_single_quoted(account)});\n"
            f"$p = {php_single_quoted(secret)};\n"
            "$s = $u->changeAuthenticationData(['username' => $u->getName(), "
            "'password' => $p, 'retype' => $p]);\n"
            'echo $s->isGood() ? "SLA-ROTATED\\n" : "SLA-REFUSED\\n";\n'
        )
        rc, out, err = self._call(
            ["php", os.path.join(params["code_path"], "maintenance/eval.php")], data=code
        )
        if rc != 0 or "SLA-ROTATED" not in out:
            raise RotationError(
                f"MediaWiki refused the new password for {account}: {tail(err or out)}",
                self.steps,
                False,
            )
        self._step(f"new password set for wiki account {account}")
        try:
            if not self._wiki_login(params["site_url"], account, secret):
                raise RotationError(
                    f"login as {account} with the new password failed at {params['site_url']}",
                    self.steps,
                    False,
                )
            self._step("login with the new password verified")
        except (RotationError, OSError, ValueError) as exc:
            self._sql(
                f"UPDATE {database}.{prefix}user SET user_password = {sql_string(old_hash)} "
                f"WHERE user_name = {sql_string(account)}",
                "restoring the old password",
            )
            self._step("old password restored")
            msg = exc.msg if isinstance(exc, RotationError) else str(exc)
            raise RotationError(msg, self.steps, True) from exc
        return {"changed": True, "steps": self.steps}

    def _wiki_login(self, site_url, account, secret):
        opener = self._opener or urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        api = site_url.rstrip("/") + "/api.php"
        token_answer = json.loads(
            opener.open(
                f"{api}?action=query&meta=tokens&type=login&format=json", timeout=_TIMEOUT
            ).read()
        )
        token = token_answer["query"]["tokens"]["logintoken"]
        form = urllib.parse.urlencode(
            {
                "action": "clientlogin",
                "username": account,
                "password": secret,
                "logintoken": token,
                "loginreturnurl": site_url,
                "format": "json",
            }
        ).encode()
        answer = json.loads(opener.open(api, data=form, timeout=_TIMEOUT).read())
        return answer.get("clientlogin", {}).get("status") == "PASS"
