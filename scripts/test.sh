#!/usr/bin/env bash
# Run the whole test suite: Debian packages the tests drive (chromium), venv, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(chromium fonts-dejavu-core sox redis-server postgresql espeak-ng sip-tester baresip-core coturn nginx)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/setup-venv.sh requirements-test.txt
# Two workers (TEST_WORKERS), a module's tests on one of them: most tests wait on servers, browsers and peers, so
# two at a time finish in little more than half the time on two cores; `-n 0` after it runs them in this process.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
