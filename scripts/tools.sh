#!/usr/bin/env bash
# Provides the pinned CLIs the tests and the demo need, built from the Go module
# proxy (no release downloads are reachable here), cached outside the clone by
# version so fresh clones and CI reuse them. Prints nothing but progress on stderr;
# `tools.sh path tofu` prints the binary's path.
set -euo pipefail

TOFU_VERSION="${TOFU_VERSION:-1.12.6}"
TERRAFORM_VERSION="${TERRAFORM_VERSION:-1.5.7}"
GOLANGCI_VERSION="${GOLANGCI_VERSION:-2.15.0}"
CACHE="${PAM_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-pam}"

log() { echo "tools: $*" >&2; }

tofu_path() { echo "$CACHE/tofu/$TOFU_VERSION/tofu"; }
terraform_path() { echo "$CACHE/terraform/$TERRAFORM_VERSION/terraform"; }
golangci_path() { echo "$CACHE/golangci-lint/$GOLANGCI_VERSION/golangci-lint"; }

ensure_tofu() {
  local out; out=$(tofu_path)
  if [ -x "$out" ]; then return; fi
  # A suitable tofu on PATH is reused rather than rebuilt.
  if command -v tofu >/dev/null 2>&1 && tofu version 2>/dev/null | head -1 | grep -q "^OpenTofu v${TOFU_VERSION%.*}\."; then
    mkdir -p "$(dirname "$out")"; ln -sf "$(command -v tofu)" "$out"; return
  fi
  log "building OpenTofu $TOFU_VERSION from the Go module proxy (several minutes on a cold cache)"
  local dir tmp
  # Download outside this module, so the project's go.mod and go.sum are
  # never touched by the tool's own dependencies.
  tmp=$(mktemp -d)
  dir=$(cd "$tmp" && GOFLAGS= go mod download -json github.com/opentofu/opentofu@v"$TOFU_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rmdir "$tmp"
  [ -n "$dir" ] || { log "could not download github.com/opentofu/opentofu@v$TOFU_VERSION"; exit 1; }
  mkdir -p "$(dirname "$out")"
  (cd "$dir" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$out.tmp" ./cmd/tofu)
  mv "$out.tmp" "$out"
  log "OpenTofu ready: $out"
}

ensure_terraform() {
  local out; out=$(terraform_path)
  if [ -x "$out" ]; then return; fi
  log "building Terraform $TERRAFORM_VERSION with go install"
  mkdir -p "$(dirname "$out")"
  GOBIN="$(dirname "$out")" go install github.com/hashicorp/terraform@v"$TERRAFORM_VERSION"
}

ensure_golangci() {
  local out; out=$(golangci_path)
  if [ -x "$out" ]; then return; fi
  log "building golangci-lint $GOLANGCI_VERSION with go install"
  mkdir -p "$(dirname "$out")"
  GOBIN="$(dirname "$out")" go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v"$GOLANGCI_VERSION"
}

cmd="${1:-tofu}"
case "$cmd" in
  tofu) ensure_tofu ;;
  terraform) ensure_terraform ;;
  golangci-lint) ensure_golangci ;;
  path)
    case "${2:?tool name}" in
      tofu) tofu_path ;; terraform) terraform_path ;; golangci-lint) golangci_path ;;
      *) echo "unknown tool $2" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: tools.sh tofu|terraform|golangci-lint|path TOOL" >&2; exit 2 ;;
esac
