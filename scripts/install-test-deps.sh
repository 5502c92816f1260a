#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: Debian's Chromium and ChromeDriver for the
# browser test of the web chat page. Does nothing when they are already there.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium chromium-driver >/dev/null
chromium --version
chromedriver --version
