#!/usr/bin/env bash
# Installs and starts what the test suite needs beyond Rust:
# - Debian's Chromium and ChromeDriver, for the browser tests of the web chat page;
# - a PostgreSQL server on 127.0.0.1:5432 that user `postgres` reaches without a password,
#   for the PostgreSQL backend's tests (another server: SWITCHBOARD_TEST_POSTGRES=postgres://…).
# Does nothing for what is already there and running.
set -euo pipefail
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_install() {
  if [ -z "$updated" ]; then $sudo apt-get update -qq; updated=1; fi
  $sudo apt-get install -y -qq "$@" >/dev/null
}

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt_install chromium chromium-driver
  chromium --version
  chromedriver --version
fi

if [ -n "${SWITCHBOARD_TEST_POSTGRES:-}" ]; then
  exit 0
fi
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  fresh=""
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql
    fresh=1
  fi
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  if [ -n "$fresh" ]; then
    # A server installed here only for the tests: local connections need no password.
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    $sudo sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  $sudo pg_ctlcluster "$version" main start || $sudo service postgresql start
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi
