#!/usr/bin/env bash
# Measures the request rate one Terraform token puts on pamd, to check the
# default per-token rate limit (pamd serve --rate-limit/--rate-burst) against
# it: starts pamd with the limit off, applies N roles + N/3 activation policies
# with OpenTofu at -parallelism=32, plans (refreshing every resource), destroys,
# then replays the request start times from pamd's access log through a token
# bucket with the defaults and reports peaks and how many would be refused.
# Usage: make build && scripts/rate-profile.sh [N]   (default N=300)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
N="${1:-300}"
TOFU="${TOFU:-$(scripts/tools.sh path tofu)}"
PAMD="$root/bin/pamd"
[ -x "$PAMD" ] && [ -x "$root/bin/terraform-provider-pam" ] || { echo "run 'make build' first" >&2; exit 1; }
work=$(mktemp -d -t pam-rate-XXXXXX)
pamd_pid=""
cleanup() {
  if [ -n "$pamd_pid" ] && kill -0 "$pamd_pid" 2>/dev/null; then kill -TERM "$pamd_pid"; wait "$pamd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
until port_free "$port"; do port=$((port + 1)); done
token="pamd_rate_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PAMD_BOOTSTRAP_TOKEN="$token" "$PAMD" serve --listen "127.0.0.1:$port" --db "$work/pamd.db" \
  --rate-limit 0 --log-format json >"$work/pamd.log" 2>&1 &
pamd_pid=$!
for _ in $(seq 1 100); do port_free "$port" || break; sleep 0.1; done
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides { "registry.terraform.io/accessplane/pam" = "$root/bin" }
  direct {}
}
CFG
mkdir -p "$work/tf"
cat >"$work/tf/main.tf" <<TF
terraform {
  required_providers {
    pam = { source = "registry.terraform.io/accessplane/pam" }
  }
}
resource "pam_role" "r" {
  count             = $N
  name              = "rate-\${count.index}"
  assignable_scopes = ["/orgs/rate"]
}
resource "pam_activation_policy" "p" {
  count = $((N / 3))
  name  = "rate-\${count.index}"
  max_activation_seconds = 3600
}
TF
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 PAM_ENDPOINT="http://127.0.0.1:$port" PAM_TOKEN="$token"
tf() { "$TOFU" -chdir="$work/tf" "$@" -parallelism=32 -input=false -no-color >"$work/tf.out" 2>&1 || { cat "$work/tf.out"; exit 1; }; }
echo "applying $N roles and $((N / 3)) activation policies at -parallelism=32" >&2
s=$(date +%s.%N); tf apply -auto-approve; echo "apply: $(echo "$(date +%s.%N) - $s" | bc) s" >&2
s=$(date +%s.%N); tf plan -detailed-exitcode; echo "plan (refresh): $(echo "$(date +%s.%N) - $s" | bc) s" >&2
s=$(date +%s.%N); tf destroy -auto-approve; echo "destroy: $(echo "$(date +%s.%N) - $s" | bc) s" >&2
python3 - "$work/pamd.log" <<'PY'
import json, sys, datetime
starts = []
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("msg") != "request" or ev.get("path") == "/v1/health":
        continue
    t = datetime.datetime.fromisoformat(ev["time"].replace("Z", "+00:00")).timestamp()
    starts.append(t - ev.get("duration", 0) / 1e9)
starts.sort()
def peak(window):
    best, j = 0, 0
    for i, t in enumerate(starts):
        while starts[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best
def refused(rate, burst):
    tokens, last, n = float(burst), starts[0], 0
    for t in starts:
        tokens = min(burst, tokens + (t - last) * rate)
        last = t
        if tokens >= 1:
            tokens -= 1
        else:
            n += 1
    return n
span = starts[-1] - starts[0]
print(f"requests: {len(starts)} over {span:.1f} s (mean {len(starts)/span:.0f}/s); "
      f"peak in any 1 s: {peak(1.0)}, in any 100 ms: {peak(0.1)}")
# The last pair is daemon.DefaultRateLimit, DefaultRateBurst.
for rate, burst in ((50, 100), (100, 200), (200, 400), (500, 1000)):
    print(f"  refused by a {rate}/s, burst {burst} bucket: {refused(rate, burst)}")
PY
