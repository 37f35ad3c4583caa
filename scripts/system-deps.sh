#!/usr/bin/env bash
# Make sure the system services the tests use are installed and running.
# Runs as root on CI machines: `apt-get update` once, then `apt-get install -y ...` for what is missing.
set -euo pipefail

say() { printf 'system-deps: %s\n' "$*"; }
fail() { printf 'system-deps: ERROR: %s\n' "$*" >&2; exit 1; }

apt_updated=0
need_pkg() {  # need_pkg COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || fail "$1 is missing and installing ${*:2} needs root"
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"; apt-get update -qq || fail "apt-get update failed"; apt_updated=1
  fi
  say "installing ${*:2}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null || fail "could not install ${*:2}"
}

# Dovecot: the IMAP tests start their own instance on loopback (tests/support/dovecot.py).
PATH="$PATH:/usr/sbin"  # where Debian puts the dovecot binary
need_pkg dovecot dovecot-imapd

# Chromium: the web console's browser tests drive Debian's build through Playwright.
need_pkg chromium chromium

# PostgreSQL: the suite runs every database test on it as well as on SQLite.
PGHOST=${ARINBOX_TEST_PG_HOST:-127.0.0.1}
PGPORT=${ARINBOX_TEST_PG_PORT:-5432}
need_pkg pg_isready postgresql postgresql-client
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  say "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  pg_isready -q -h "$PGHOST" -p "$PGPORT" || fail "PostgreSQL is not reachable at $PGHOST:$PGPORT"
fi
say "PostgreSQL ready at $PGHOST:$PGPORT"
