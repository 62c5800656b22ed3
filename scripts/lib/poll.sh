# Shared waits for shell scripts, on the controller and on test hosts: a service
# that was just (re)configured is asked until a deadline, never once, and a wait
# that runs out says what it last saw. Source this file; it defines functions only.

# poll_until SECONDS WHAT COMMAND [ARG...]
# Runs COMMAND every half second until it succeeds. After SECONDS it fails,
# naming WHAT and the last thing COMMAND printed.
poll_until() {
  local timeout=$1 what=$2 last=""
  shift 2
  local deadline=$((SECONDS + timeout))
  while :; do
    if last=$("$@" 2>&1); then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf '%s: not reached within %s s; last seen: %s\n' "$what" "$timeout" "${last:-nothing}" >&2
      return 1
    fi
    sleep 0.5
  done
}

# http_answers CODE URL: succeeds when URL answers CODE; prints what it answered.
http_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$2")
  printf 'HTTP %s from %s\n' "$code" "$2"
  [ "$code" = "$1" ]
}

# systemd_settled [COMMAND-PREFIX...]: succeeds once systemd has finished booting
# (running or degraded); with a prefix such as `podman exec NAME` it asks a container.
systemd_settled() {
  local state
  state=$("$@" systemctl is-system-running 2>/dev/null) || true
  printf 'systemd is %s\n' "${state:-not answering}"
  case "$state" in running | degraded) return 0 ;; *) return 1 ;; esac
}
