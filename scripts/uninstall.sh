#!/usr/bin/env bash
# Remove what scripts/install.sh installed: stop and disable the services,
# remove the unit files, the virtualenv in /opt and the `locker` link.
#
# The config (/etc/nursery-locker, with the panel's secret key), the data
# (/var/lib/nursery-locker: the database and its tamper-evident log) and the
# users stay, so a reinstall carries on where this left off. --purge removes
# them too: the log an inspector may ask for goes with it, so back it up first
# (docs/hardware.md, "Backups").
set -euo pipefail

usage() {
  cat <<'EOF'
usage: uninstall.sh [--purge] [--dry-run] [--root DIR]

  --purge      also remove the config, the secret key, the database and the
               users and group install.sh made (gpio and spi are left alone)
  --dry-run    print every step and change nothing
  --root DIR   remove files under DIR instead of /; commands that change the
               system itself (systemctl, userdel, groupdel) are not run but
               recorded in DIR/uninstall.log
EOF
}

die() {
  echo "uninstall.sh: $*" >&2
  exit 1
}

ROOT=""
DRY_RUN=0
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[ -n "$ROOT" ] && ROOT=$(realpath -m "$ROOT")
if [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  die "run it as root (sudo $0), or try --dry-run first"
fi

PREFIX=/opt/nursery-locker
ETC=/etc/nursery-locker
DATA=/var/lib/nursery-locker
UNIT_DIR=/etc/systemd/system
BIN_LINK=/usr/local/bin/locker
SHARED_GROUP=nursery-locker
USERS=(locker-daemon locker-web)
UNITS=(nursery-locker-daemon.service nursery-locker-web.service)
LOG=""
[ -n "$ROOT" ] && LOG="$ROOT/uninstall.log"

# shellcheck source=scripts/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"

if [ "$DRY_RUN" -eq 0 ] && [ -n "$LOG" ]; then
  mkdir -p "$ROOT"
  : >"$LOG"
fi

echo "==> services"
installed_units=()
for unit in "${UNITS[@]}"; do
  [ -e "$(at "$UNIT_DIR/$unit")" ] && installed_units+=("$unit")
done
if [ "${#installed_units[@]}" -gt 0 ]; then
  # Stopping the daemon leaves every lock in its safe state.
  system systemctl disable --now "${installed_units[@]}"
  for unit in "${installed_units[@]}"; do
    change rm -f "$(at "$UNIT_DIR/$unit")"
  done
  system systemctl daemon-reload
fi

echo "==> program"
if [ "$(readlink "$(at "$BIN_LINK")" 2>/dev/null)" = "$PREFIX/bin/locker" ]; then
  change rm -f "$(at "$BIN_LINK")"
fi
if [ -L "$(at "$PREFIX")" ]; then
  change rm -f "$(at "$PREFIX")"
elif [ -e "$(at "$PREFIX")" ]; then
  change rm -rf "$(at "$PREFIX")"
fi

if [ "$PURGE" -eq 1 ]; then
  echo "==> config, data, users (--purge)"
  for dir in "$ETC" "$DATA"; do
    if [ -e "$(at "$dir")" ]; then
      change rm -rf "$(at "$dir")"
    fi
  done
  for user in "${USERS[@]}"; do
    if have_user "$user"; then
      system userdel "$user"
    fi
  done
  if have_group "$SHARED_GROUP"; then
    system groupdel "$SHARED_GROUP"
  fi
else
  echo "kept $ETC (config, secret key) and $DATA (database, log); --purge removes them"
fi
echo "==> done"
