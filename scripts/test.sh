#!/usr/bin/env bash
# Runs every check the project has, from a fresh machine: installs what the tests need, then
# formatting, lints, and the whole test suite. CI runs exactly this (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version

step "software TPM for the TPM tests (swtpm, tpm2-tools)"
# crates/attesto-cli/tests/tpm_cli.rs attests a real software TPM and fails without these.
if ! command -v swtpm >/dev/null || ! command -v swtpm_setup >/dev/null \
    || ! command -v tpm2_quote >/dev/null; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    if command -v apt-get >/dev/null; then
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swtpm swtpm-tools tpm2-tools
    else
        echo "swtpm, swtpm-tools and tpm2-tools are missing and apt-get is not available:" \
            "install them, or the TPM tests fail" >&2
        exit 1
    fi
fi
swtpm --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test --workspace"
cargo test --workspace --locked

step "Azure Attestation Python SDK compatibility suite (tests/compat)"
bash tests/compat/run.sh
