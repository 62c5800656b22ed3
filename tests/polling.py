# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared waits for tests, benchmarks and the reliability harness.

A service that was just started or (re)configured is asked until a deadline,
never once: PHP's opcache, systemd's boot and a socket's first accept all lag
behind the change that caused them, by an amount that depends on the machine.
A wait that runs out names what it waited for and the last thing it saw.

The shell scripts' twin is scripts/lib/poll.sh. Import this module with the
directory ``tests`` on ``sys.path`` (pytest's conftest puts it there; scripts
and molecule verifiers add it themselves).
"""

import subprocess
import time

DEFAULT_TIMEOUT = 30.0


class PollTimeout(AssertionError):
    """A wait that ran out; an AssertionError, so pytest shows it as a failed check."""


def poll_until(what, ask, done=bool, timeout=DEFAULT_TIMEOUT, interval=0.5):
    """Call ``ask()`` until ``done(answer)`` holds and return that answer.

    An exception from ``ask`` counts as a "not yet" and is what the timeout
    reports if nothing better was seen: a service that is still starting often
    answers with an error rather than a wrong value.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = ask()
        except Exception as exc:  # noqa: BLE001 - any failure to answer is "not yet"
            last = f"{type(exc).__name__}: {exc}"[:800]
        else:
            if done(answer):
                return answer
            last = repr(answer)[:800]
        if time.monotonic() >= deadline:
            raise PollTimeout(f"{what}: not reached within {timeout:g} s; last seen: {last}")
        time.sleep(interval)


def in_container(name, *argv):
    """What ``argv`` prints inside the container (its errors when it prints nothing)."""
    done = subprocess.run(
        ["podman", "exec", name, *argv], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip() or done.stderr.strip()


def systemd_settled(name, timeout=90.0):
    """Wait until systemd in container ``name`` has finished booting (running or degraded)."""
    poll_until(
        f"systemd in {name} running",
        lambda: in_container(name, "systemctl", "is-system-running"),
        done=lambda state: state in ("running", "degraded"),
        timeout=timeout,
    )


def http_answers(name, url, code="200", timeout=DEFAULT_TIMEOUT):
    """Wait until ``url``, asked from inside container ``name``, answers HTTP ``code``."""
    poll_until(
        f"{url} in {name} answering {code}",
        lambda: in_container(name, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url),
        done=lambda answer: answer == code,
        timeout=timeout,
    )
