#!/usr/bin/env bash
# Installs Debian's Chromium for the report test (test/report/report.test.ts drives it through
# playwright-core with executablePath /usr/bin/chromium; no browser download from Playwright).
# Idempotent: does nothing when /usr/bin/chromium exists. Needs root (CI runs as root).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
