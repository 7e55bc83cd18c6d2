#!/usr/bin/env bash
# Runs every check and test of Lineup: formatting, clippy, unit and property tests, the storage
# conformance suite on SQLite and on PostgreSQL, and the API tests on both backends.
# PostgreSQL: uses $LINEUP_TEST_DATABASE_URL when set; otherwise starts the local server (installing
# it from Debian's packages when missing) and recreates the database `lineup_test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/lineup-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

log() { printf '==> %s\n' "$*"; }

pg_ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; }

ensure_postgres() {
  if pg_ready; then return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_ready && return; sleep 1; done
  echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
  exit 1
}

if [ -z "${LINEUP_TEST_DATABASE_URL:-}" ]; then
  ensure_postgres
  admin="postgres://postgres@127.0.0.1:5432"
  if ! psql "$admin/postgres" -qtAc 'select 1' >/dev/null 2>&1; then
    # A fresh Debian cluster asks for a password over TCP: give the superuser one.
    runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'lineup'" >/dev/null
    admin="postgres://postgres:lineup@127.0.0.1:5432"
  fi
  psql "$admin/postgres" -qc 'DROP DATABASE IF EXISTS lineup_test WITH (FORCE)' >/dev/null
  psql "$admin/postgres" -qc 'CREATE DATABASE lineup_test' >/dev/null
  export LINEUP_TEST_DATABASE_URL="$admin/lineup_test"
fi
log "PostgreSQL for tests: ${LINEUP_TEST_DATABASE_URL/:lineup@/:***@}"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test (SQLite and PostgreSQL)"
cargo test --workspace --locked
