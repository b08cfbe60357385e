#!/usr/bin/env bash
# The browser tests of the web (web-tests/): headless Chromium driven by playwright-core against
# the real binary on a random port with a fresh SQLite database. Installs what is missing:
# Debian's chromium and Node.js (apt), then the locked npm packages (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium"
    apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "installing nodejs and npm"
    apt_install nodejs npm
fi

cargo build -p gateway --bin apisendsms --locked
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export APISENDSMS_BIN="$target_dir/debug/apisendsms"

cd web-tests
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
npm test
