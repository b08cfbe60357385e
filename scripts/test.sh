#!/usr/bin/env bash
# Runs every check and test of the workspace. On a fresh machine it first installs what the tests
# need and is missing. PostgreSQL tests run against APISENDSMS_TEST_POSTGRES_URL (default
# postgres://root@127.0.0.1:5432/test) and are skipped, with the reason printed, when no server
# answers, unless APISENDSMS_REQUIRE_POSTGRES=1 (set by CI) makes them mandatory.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== test dependencies"
# python-smpplib: the third-party SMPP client of the interoperability test.
if ! python3 -c "import smpplib" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "smpplib==2.2.4"
fi

echo "== formatting"
cargo fmt --all -- --check

echo "== lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked

echo "== browser tests"
./scripts/web-tests.sh
