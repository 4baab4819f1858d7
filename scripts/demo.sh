#!/usr/bin/env bash
# `make demo`: start pamd on embedded SQLite in a temp dir, apply
# examples/quickstart with the pinned OpenTofu and the freshly built provider,
# show what was created (through the data source and the pamd CLI), prove the
# second plan is empty, verify the audit chain and stop pamd cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
TOFU="${TOFU:-$(scripts/tools.sh path tofu)}"
PAMD="$root/bin/pamd"
[ -x "$PAMD" ] && [ -x "$root/bin/terraform-provider-pam" ] || { echo "run 'make build' first" >&2; exit 1; }

work=$(mktemp -d -t pam-demo-XXXXXX)
pamd_pid=""
cleanup() {
  if [ -n "$pamd_pid" ] && kill -0 "$pamd_pid" 2>/dev/null; then
    kill -TERM "$pamd_pid"; wait "$pamd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
until port_free "$port"; do port=$((port + 1)); done

# A throwaway admin token for this demo store; never printed.
token="pamd_demo_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

step "starting pamd on 127.0.0.1:$port (SQLite at $work/pamd.db)"
PAMD_BOOTSTRAP_TOKEN="$token" "$PAMD" serve --listen "127.0.0.1:$port" --db "$work/pamd.db" >"$work/pamd.log" 2>&1 &
pamd_pid=$!
for _ in $(seq 1 100); do
  if ! port_free "$port"; then break; fi
  kill -0 "$pamd_pid" 2>/dev/null || { cat "$work/pamd.log"; echo "pamd exited" >&2; exit 1; }
  sleep 0.1
done
port_free "$port" && { cat "$work/pamd.log"; echo "pamd did not start listening" >&2; exit 1; }

# dev_overrides points the provider address at ./bin, so no registry is needed
# (and `init` is not run: under dev_overrides it would ask the registry).
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "registry.terraform.io/accessplane/pam" = "$root/bin"
  }
  direct {}
}
CFG
mkdir -p "$work/tf"
cp examples/quickstart/*.tf "$work/tf/"

export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1
export PAM_ENDPOINT="http://127.0.0.1:$port" PAM_TOKEN="$token"
tf() { "$TOFU" -chdir="$work/tf" "$@"; }

step "$("$TOFU" version | head -1): apply examples/quickstart"
tf apply -auto-approve -input=false -compact-warnings -no-color

step "outputs (read back through the pam_role data source)"
tf output

step "pamd roles list (the pamd CLI against the same server)"
"$PAMD" roles list

# People use the CLI with their own tokens; the operator issues them on the store.
alice=$("$PAMD" token create --db "$work/pamd.db" --subject user:alice --role requester)
bob=$("$PAMD" token create --db "$work/pamd.db" --subject user:bob --role approver)

step "alice (requester) asks for db-admin on payments for 1h"
elv=$(PAM_TOKEN="$alice" "$PAMD" elevate --role db-admin --scope /orgs/acme/projects/payments \
  --duration 1h --justification "INC-4711 replication lag on payments" --json |
  sed -n 's/^  "id": "\(elv_[^"]*\)".*/\1/p' | head -1)
[ -n "$elv" ] || { echo "no elevation id returned" >&2; exit 1; }
PAM_TOKEN="$alice" "$PAMD" elevations show "$elv"

step "bob (approver) sees the request and approves it"
PAM_TOKEN="$bob" "$PAMD" approvals list
PAM_TOKEN="$bob" "$PAMD" approve "$elv" --reason "verified INC-4711"

step "who is elevated right now: pamd elevations list --active"
"$PAMD" elevations list --active

step "the same through Terraform: data.pam_active_elevations (refresh-only apply)"
tf apply -refresh-only -auto-approve -input=false -compact-warnings >/dev/null
tf output active_elevations

step "plan again: nothing to change"
set +e
tf plan -detailed-exitcode -input=false -compact-warnings >"$work/plan.txt" 2>&1
code=$?
set -e
grep -E "No changes|Plan:" "$work/plan.txt" || cat "$work/plan.txt"
if [ "$code" -ne 0 ]; then echo "second plan was not empty (exit $code)" >&2; exit 1; fi

step "stopping pamd"
kill -TERM "$pamd_pid"; wait "$pamd_pid" || { echo "pamd did not stop cleanly" >&2; exit 1; }
pamd_pid=""

step "pamd audit verify"
"$PAMD" audit verify --db "$work/pamd.db"

printf '\ndemo complete: roles, policy and eligibility applied; alice elevated, approved by bob; plan empty; audit chain verified\n'
