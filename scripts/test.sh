#!/usr/bin/env bash
# `make test`: every stage in order, each timed, and one table at the end (also
# when a stage fails) so the suite's time budget stays visible. The stages are
# the Makefile's own targets; this script only orders and times them.
set -uo pipefail
cd "$(dirname "$0")/.."

BUDGET_MIN=60
mapfile -t SCENARIOS < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
STAGES=(images lint unit collection "${SCENARIOS[@]/#/molecule:}" bench-smoke ee)

names=() seconds=() results=()
started=$SECONDS

table() {
  local total=$((SECONDS - started)) i
  printf '\n%-28s %9s  %s\n' "stage" "wall time" "result"
  for i in "${!names[@]}"; do
    printf '%-28s %6dm%02ds  %s\n' "${names[$i]}" $((seconds[i] / 60)) $((seconds[i] % 60)) "${results[$i]}"
  done
  printf '%-28s %6dm%02ds  budget %d min: %s\n' "total" $((total / 60)) $((total % 60)) "$BUDGET_MIN" \
    "$([ "$total" -le $((BUDGET_MIN * 60)) ] && echo within || echo OVER)"
}
trap table EXIT

for stage in "${STAGES[@]}"; do
  begin=$SECONDS
  case "$stage" in
    molecule:*) make --no-print-directory molecule SCENARIOS="${stage#molecule:}" ;;
    *) make --no-print-directory "$stage" ;;
  esac
  status=$?
  names+=("$stage") seconds+=($((SECONDS - begin)))
  if [ "$status" -ne 0 ]; then
    results+=("FAILED (exit $status)")
    exit "$status"
  fi
  results+=(ok)
done
