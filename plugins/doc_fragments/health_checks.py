# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every module that health-checks a site around a change."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  health_checks:
    description:
      - Checks that must pass after the change (and again after a rollback).
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description:
          - V(http) fetches O(health_checks[].url); V(sql) runs O(health_checks[].query)
            with C(mariadb --batch -N) as root through the unix socket.
        type: str
        required: true
        choices: [http, sql]
      url:
        description:
          - URL to fetch, with a 10 second timeout. Required for V(http).
          - C(user:password@) in it is sent as HTTP basic auth, and the password is masked
            (C(user:***@host)) wherever the URL is shown. Percent-encode a password's C(/),
            C(?), C(#) and C(@); better, keep it in O(health_checks[].url_password).
        type: str
      url_username:
        description:
          - User name for HTTP basic auth; overrides one given in O(health_checks[].url).
        type: str
      url_password:
        description:
          - Password for HTTP basic auth; never shown in output or logs.
        type: str
      headers:
        description:
          - Extra request headers, for example an API token. Their values are never shown
            in output or logs.
        type: dict
      expect_status:
        description:
          - HTTP status the URL must return.
        type: int
        default: 200
      contains:
        description:
          - Text the response body must contain.
        type: str
      follow_redirects:
        description:
          - Follow HTTP redirects; otherwise a redirect's own status is checked.
        type: bool
        default: false
      database:
        description:
          - Database to run the query in.
        type: str
      login_user:
        description:
          - Database user the query runs as, instead of root through the unix socket.
        type: str
      login_password:
        description:
          - Password of O(health_checks[].login_user); handed to the client in an option
            file readable by root only, never on its command line or in output.
        type: str
      query:
        description:
          - SQL to run. Required for V(sql).
        type: str
      expect:
        description:
          - Text the query output must contain; without it the query only has to succeed.
        type: str
  health_retries:
    description:
      - How many times to run the health checks before they count as failed.
    type: int
    default: 5
  health_delay:
    description:
      - Seconds to wait between health check attempts.
    type: int
    default: 2
"""
