#!/usr/bin/env bash
# Runs `go test -v` over the given packages, keeps the full log, and ends with
# one summary line so a reader (and CI) sees how many tests ran, failed and
# skipped; skipped acceptance tests are listed by name.
set -euo pipefail
log=$(mktemp -t pam-test-XXXXXX.log)
status=0
go test -v "$@" 2>&1 | tee "$log" || status=$?
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
acc_run=$(grep -cE '^\s*--- PASS: TestAcc' "$log" || true)
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests:"; grep -E '^\s*--- SKIP' "$log" | sed 's/^/  /'
fi
echo "acceptance tests passed: $acc_run"
echo "tests: $passed passed, $failed failed, $skipped skipped"
rm -f "$log"
exit "$status"
