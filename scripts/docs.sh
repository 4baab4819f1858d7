#!/usr/bin/env bash
# Regenerates docs/ offline. tfplugindocs would download Terraform to read the
# provider schema, which cannot work here, so the schema is read with the
# pinned OpenTofu through a dev_overrides CLI config and handed to tfplugindocs
# (recipe measured in shared/design/TOOLCHAIN.md).
set -euo pipefail
cd "$(dirname "$0")/.."
TOFU="${TOFU:-$(scripts/tools.sh path tofu)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/bin/terraform-provider-pam" .
cat > "$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "registry.terraform.io/accessplane/pam" = "$work/bin"
  }
  direct {}
}
CFG
mkdir -p "$work/cfg"
cat > "$work/cfg/main.tf" <<'TF'
terraform {
  required_providers {
    pam = { source = "registry.terraform.io/accessplane/pam" }
  }
}
TF
TF_CLI_CONFIG_FILE="$work/cli.tfrc" "$TOFU" -chdir="$work/cfg" providers schema -json > "$work/schema.json"
# tfplugindocs finds a schema only under "pam" or the hashicorp namespace.
sed -i 's#"registry.terraform.io/accessplane/pam"#"pam"#' "$work/schema.json"
go tool tfplugindocs generate \
  --provider-name pam \
  --providers-schema "$work/schema.json" \
  --rendered-provider-name "pam" \
  --examples-dir examples \
  --website-source-dir templates \
  --rendered-website-dir docs
