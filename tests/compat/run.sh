#!/usr/bin/env bash
# The official Azure Attestation Python SDK (azure-security-attestation 1.0.0, unchanged) against
# the release `attesto serve`: builds the binary, prepares simulated SGX/OE evidence, policy
# signers and an isolated provider in a fresh data directory, starts the server on a free
# loopback port over HTTPS, runs the pytest suite in tests/compat/python and always stops the
# server. Exits non-zero on any failure.
#
# The virtualenv lives in target/compat-venv and is rebuilt only when the pinned requirements
# (or the Python interpreter) change. COMPAT_KEEP=1 keeps the work directory (server
# log, data directory, evidence) for a look after the run. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."

SUITE=tests/compat/python
VENV=target/compat-venv
PYTHON=${PYTHON:-python3}
ISOLATED=compat-isolated

say() { printf 'compat: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

# Settings from the caller's environment must not leak into the server or the CLI (the server
# reads every ATTESTO_* variable and refuses unknown ones).
for name in $(compgen -e); do
    if [[ $name == ATTESTO_* ]]; then
        unset "$name"
    fi
done

# --- the virtualenv with the pinned SDK -------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (CPython 3.9+ with venv and pip is needed)"
wanted=$({
    cat "$SUITE/requirements.txt"
    "$PYTHON" -c 'import sys; print(sys.version)'
} | sha256sum | cut -d' ' -f1)
stamp="$VENV/.requirements.sha256"
if [[ ! -x $VENV/bin/python || ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
    say "creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$SUITE/requirements.txt"
    echo "$wanted" >"$stamp"
fi
PY="$VENV/bin/python"

# --- the release binary ----------------------------------------------------------------------
cargo build --release --locked -p attesto-cli
BIN="$PWD/target/release/attesto"

# --- evidence, signers, data directory -------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/attesto-compat.XXXXXX")
SERVER_PID=
cleanup() {
    local status=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        # SIGTERM drains connections; give it 10 s, then stop it for good.
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -f $WORK/server.log ]]; then
        say "server log (last 40 lines):"
        tail -n 40 "$WORK/server.log" >&2 || true
    fi
    if [[ ${COMPAT_KEEP:-0} == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SIM="$WORK/sim"
EVIDENCE="$WORK/evidence"
mkdir -p "$EVIDENCE"
genquote() {
    "$BIN" genquote --simulate --pki-dir "$SIM/pki" --collateral-out "$SIM/collateral" "$@" \
        >/dev/null 2>"$WORK/genquote.log" || {
        cat "$WORK/genquote.log" >&2
        die "attesto genquote $* failed"
    }
}
# Three distinct enclaves, so a claim taken from the wrong quote cannot pass.
genquote --out "$EVIDENCE/sgx-binary.json" --ehd-hex 0123456789abcdef \
    --mrenclave "$(printf 'a1%.0s' {1..32})" --mrsigner "$(printf 'b2%.0s' {1..32})" \
    --isv-prod-id 7 --isv-svn 3
# JSON runtime data: the quote binds SHA-256 of exactly these bytes.
runtime_json='{"compat":"attesto","jwk":{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}}'
genquote --out "$EVIDENCE/sgx-json.json" \
    --ehd-hex "$("$PY" -c 'import sys; print(sys.argv[1].encode().hex())' "$runtime_json")" \
    --mrenclave "$(printf 'c3%.0s' {1..32})" --mrsigner "$(printf 'd4%.0s' {1..32})" \
    --isv-prod-id 2 --isv-svn 9
genquote --format oe --debug --out "$EVIDENCE/oe.json" --ehd-hex 00112233445566778899 \
    --mrenclave "$(printf 'e5%.0s' {1..32})" --mrsigner "$(printf 'f6%.0s' {1..32})" \
    --isv-prod-id 4 --isv-svn 5

"$PY" "$SUITE/make_signers.py" "$WORK/signers"

DATA="$WORK/data"
"$BIN" provider create "$ISOLATED" --trust-model isolated \
    --signer "$WORK/signers/trusted.crt.pem" --data-dir "$DATA" >/dev/null

# --- the server ------------------------------------------------------------------------------
ATTESTO_COLLATERAL__SOURCE=offline \
    ATTESTO_COLLATERAL__OFFLINE_DIR="$SIM/collateral" \
    ATTESTO_LOG=${COMPAT_LOG:-warn} \
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" \
    --trust-test-root "$SIM/pki/test-root-ca.crt.pem" 2>"$WORK/server.log" &
SERVER_PID=$!

ENDPOINT=
ADMIN_TOKEN=
CA_FILE=
for _ in $(seq 1 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "attesto serve exited during start"
    log=$(cat "$WORK/server.log")
    ADMIN_TOKEN=$(sed -n 's/^attesto: admin token (shown only now, keep it): \(attesto-admin-[A-Za-z0-9_-]*\)$/\1/p' <<<"$log")
    ENDPOINT=$(sed -n 's/^attesto: serving .* (issuer \(https:[^)]*\))$/\1/p' <<<"$log")
    CA_FILE=$(sed -n 's/^attesto: TLS CA certificate: \(.*\) (e\.g\. .*$/\1/p' <<<"$log")
    [[ -n $ADMIN_TOKEN && -n $ENDPOINT && -n $CA_FILE ]] && break
    sleep 0.1
done
[[ -n $ADMIN_TOKEN && -n $ENDPOINT && -n $CA_FILE ]] ||
    die "attesto serve did not report its admin token, issuer and CA within 60 s"
[[ $CA_FILE == "$(cd "$DATA" && pwd -P)/tls/ca.pem" ]] || die "unexpected CA path $CA_FILE"

# /health over HTTPS with only the generated CA trusted, by the name the SDK will use.
"$PY" - "$ENDPOINT/health" "$CA_FILE" <<'EOF' || die "attesto serve is not healthy"
import json, ssl, sys, time, urllib.request
url, ca = sys.argv[1], sys.argv[2]
context = ssl.create_default_context(cafile=ca)
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            status = json.load(response).get("status")
            if status == "healthy":
                break
    except OSError as error:
        status = error
    if time.monotonic() > deadline:
        sys.exit(f"compat: {url}: {status}")
    time.sleep(0.2)
EOF
say "attesto serving $ENDPOINT (isolated provider: $ENDPOINT/providers/$ISOLATED)"

# --- the suite -------------------------------------------------------------------------------
REQUESTS_CA_BUNDLE="$CA_FILE" \
    COMPAT_ENDPOINT="$ENDPOINT" \
    COMPAT_ADMIN_TOKEN="$ADMIN_TOKEN" \
    COMPAT_ISOLATED="$ISOLATED" \
    COMPAT_EVIDENCE="$EVIDENCE" \
    COMPAT_SIGNERS="$WORK/signers" \
    COMPAT_BIN="$BIN" \
    PYTHONDONTWRITEBYTECODE=1 \
    "$PY" -m pytest -p no:cacheprovider --rootdir "$SUITE" -q "$SUITE" "$@"
