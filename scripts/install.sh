#!/usr/bin/env bash
# Install nursery-locker on a Raspberry Pi (Raspberry Pi OS Bookworm), or
# bring an existing installation up to date. See docs/hardware.md.
#
#   sudo scripts/install.sh                 install, enable and start both services
#   sudo scripts/install.sh --upgrade       reinstall the code from this checkout, restart
#   scripts/install.sh --dry-run            print the plan, change nothing
#   scripts/install.sh --root DIR           write every file under DIR (tests, inspection)
#
# Running it again changes nothing: users and groups are created only when
# missing, the config and the secret key are kept, the database is only migrated.
set -euo pipefail
umask 022

usage() {
  cat <<'EOF'
usage: install.sh [--no-start] [--upgrade] [--dry-run] [--root DIR] [--venv-from DIR]

  --no-start       enable the services but do not start them (edit the config first)
  --upgrade        pip-install this checkout again into the existing virtualenv and
                   restart the services that are running
  --dry-run        print every step and change nothing
  --root DIR       write every file under DIR instead of /; commands that change the
                   system itself (groupadd, useradd, usermod, chown, chgrp, systemctl)
                   are not run but recorded in DIR/install.log. Users and groups are
                   looked up in DIR/etc/passwd and DIR/etc/group.
  --venv-from DIR  use the existing virtualenv DIR (the project already installed in it)
                   instead of creating /opt/nursery-locker: link it there and skip
                   `pip install`. Meant for tests; with --root, pip commands aimed at
                   DIR are recorded, not run.
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=""
DRY_RUN=0
START=1
UPGRADE=0
VENV_FROM=""

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --venv-from) [ $# -ge 2 ] || die "--venv-from needs a directory"; VENV_FROM=$2; shift 2 ;;
    --venv-from=*) VENV_FROM=${1#--venv-from=}; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --no-start) START=0; shift ;;
    --upgrade) UPGRADE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

if [ -n "$ROOT" ]; then
  ROOT=$(realpath -m "$ROOT")
  [ "$DRY_RUN" -eq 1 ] || mkdir -p "$ROOT"
fi
if [ -n "$VENV_FROM" ]; then
  [ -x "$VENV_FROM/bin/locker" ] || die "--venv-from $VENV_FROM: no bin/locker in it"
  VENV_FROM=$(cd "$VENV_FROM" && pwd)
fi
if [ -z "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  die "run it as root (sudo $0), or try --dry-run first"
fi

# Where things go on the target system (the unit files name the same paths).
PREFIX=/opt/nursery-locker
ETC=/etc/nursery-locker
DATA=/var/lib/nursery-locker
UNIT_DIR=/etc/systemd/system
BIN_LINK=/usr/local/bin/locker
SHARED_GROUP=nursery-locker
DAEMON_USER=locker-daemon
WEB_USER=locker-web
UNITS=(nursery-locker-daemon.service nursery-locker-web.service)
LOG=""
[ -n "$ROOT" ] && LOG="$ROOT/install.log"

# shellcheck source=scripts/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"

# pip in the installed virtualenv. Under --root with --venv-from it would
# change a virtualenv outside DIR: recorded like a system step.
venv_pip() {
  if [ -n "$VENV_FROM" ] && [ -n "$ROOT" ]; then
    system "$PREFIX/bin/python" -m pip "$@"
  else
    change "$PY" -m pip "$@"
  fi
}

say() { echo "==> $*"; }

# The board, from the firmware's device tree (under --root, DIR's copy, so a
# test can pretend to be a Pi 5).
MODEL=""
if [ -r "$(at /proc/device-tree/model)" ]; then
  MODEL=$(tr -d '\0' <"$(at /proc/device-tree/model)")
fi
IS_PI=0
IS_PI5=0
case "$MODEL" in
  "Raspberry Pi 5"*) IS_PI=1; IS_PI5=1 ;;
  "Raspberry Pi"*) IS_PI=1 ;;
esac
# gpiozero's lgpio factory on a Pi 5, whose RP1 chip RPi.GPIO cannot drive.
PIN_FACTORY=""
[ "$IS_PI5" -eq 1 ] && PIN_FACTORY=lgpio

if [ "$DRY_RUN" -eq 0 ] && [ -n "$LOG" ]; then
  : >"$LOG"
fi
say "installing nursery-locker from $SRC${ROOT:+ under $ROOT}${MODEL:+ on a $MODEL}"

# ------------------------------------------------------------ users, groups

say "users and groups"
if ! have_group "$SHARED_GROUP"; then
  system groupadd --system "$SHARED_GROUP"
fi
# Raspberry Pi OS has both, with udev rules giving them the GPIO and SPI
# devices. Elsewhere they are made so the daemon's unit (SupplementaryGroups=)
# can start at all.
for hardware_group in gpio spi; do
  if ! have_group "$hardware_group"; then
    system groupadd --system "$hardware_group"
  fi
done
if have_user "$DAEMON_USER"; then
  system usermod --gid "$SHARED_GROUP" --append --groups gpio,spi "$DAEMON_USER"
else
  system useradd --system --gid "$SHARED_GROUP" --groups gpio,spi \
    --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
    --comment "nursery-locker daemon" "$DAEMON_USER"
fi
if have_user "$WEB_USER"; then
  system usermod --gid "$SHARED_GROUP" "$WEB_USER"
else
  system useradd --system --gid "$SHARED_GROUP" \
    --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
    --comment "nursery-locker panel" "$WEB_USER"
fi

# -------------------------------------------------------------- virtualenv

VENV=$(at "$PREFIX")
PY="$VENV/bin/python"
PROJECT="$SRC"
# The reader's driver (mfrc522 with RPi.GPIO and spidev) only on a Pi.
[ "$IS_PI" -eq 1 ] && PROJECT="${SRC}[pi]"
installed_project=0

say "virtualenv $PREFIX"
if [ -n "$VENV_FROM" ]; then
  if [ -L "$VENV" ] && [ "$(readlink "$VENV")" = "$VENV_FROM" ]; then
    :
  elif [ -e "$VENV" ] && [ ! -L "$VENV" ]; then
    die "$VENV exists and is not a link: remove it, or leave out --venv-from"
  else
    change mkdir -p "$(dirname "$VENV")"
    change ln -sfn "$VENV_FROM" "$VENV"
  fi
elif [ ! -x "$PY" ]; then
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "Python 3.11 or newer is needed (Raspberry Pi OS Bookworm has it)"
  python3 -c 'import ensurepip' 2>/dev/null || die "python3 -m venv needs: sudo apt install python3-venv"
  change python3 -m venv "$VENV"
  change "$PY" -m pip install --quiet "$PROJECT"
  installed_project=1
elif [ "$UPGRADE" -eq 1 ]; then
  change "$PY" -m pip install --quiet "$PROJECT"
  installed_project=1
elif [ ! -x "$VENV/bin/locker" ]; then
  # An earlier install made the virtualenv and then stopped in `pip install`
  # (a network that dropped out): install the project again.
  echo "$PREFIX has no bin/locker (an earlier install stopped part-way): installing again"
  change "$PY" -m pip install --quiet "$PROJECT"
  installed_project=1
fi
if [ "$IS_PI5" -eq 1 ]; then
  # A fresh `pip install` of the project brings RPi.GPIO back over rpi-lgpio
  # (both install the module RPi.GPIO), so swap them after every install:
  # remove both, then install rpi-lgpio alone.
  if [ "$installed_project" -eq 1 ] || [ -n "$VENV_FROM" ] ||
    ! "$PY" -m pip show --quiet rpi-lgpio >/dev/null 2>&1; then
    venv_pip uninstall --quiet --yes RPi.GPIO rpi-lgpio
    venv_pip install --quiet rpi-lgpio
  fi
fi
LINK=$(at "$BIN_LINK")
if [ "$(readlink "$LINK" 2>/dev/null)" != "$PREFIX/bin/locker" ]; then
  change mkdir -p "$(dirname "$LINK")"
  change ln -sfn "$PREFIX/bin/locker" "$LINK"
fi

# ------------------------------------------------------------------ config

CONF_DIR=$(at "$ETC")
CONFIG="$CONF_DIR/config.toml"
say "config $ETC/config.toml"
change mkdir -p "$CONF_DIR"
change chmod 0750 "$CONF_DIR"
system chgrp "$SHARED_GROUP" "$ETC"
if [ -e "$CONFIG" ]; then
  echo "keeping the existing $ETC/config.toml"
elif [ "$DRY_RUN" -eq 1 ]; then
  echo "would write the default config to $CONFIG${PIN_FACTORY:+ with pin_factory = \"$PIN_FACTORY\"}"
else
  # The text `locker init` writes for /etc/nursery-locker/config.toml, with
  # the Pi 5's pin factory filled in.
  "$PY" - "$CONFIG.new" "$PIN_FACTORY" <<'EOF'
import sys
from pathlib import Path

from locker.config import default_config_text

out, factory = sys.argv[1:]
text = default_config_text()
if factory:
    blank = 'pin_factory = ""'
    if blank not in text:
        sys.exit("install.sh: the default config has no blank pin_factory line")
    text = text.replace(blank, f'pin_factory = "{factory}"', 1)
Path(out).write_text(text, encoding="utf-8")
EOF
  chmod 0640 "$CONFIG.new"
  mv "$CONFIG.new" "$CONFIG"
  echo "wrote $ETC/config.toml: check the slots and pins against your wiring"
fi
system chgrp "$SHARED_GROUP" "$ETC/config.toml"

# ------------------------------------------- data directory, secret, database

DATA_DIR=$(at "$DATA")
say "data $DATA, secret key, database"
change mkdir -p "$DATA_DIR"
# setgid: whatever root creates there (`sudo locker ...`) keeps the shared group.
change chmod 2770 "$DATA_DIR"
system chgrp "$SHARED_GROUP" "$DATA"

if [ "$DRY_RUN" -eq 1 ]; then
  echo "would run: LOCKER_CONFIG=$ETC/config.toml $PREFIX/bin/locker init"
else
  INIT_CONFIG="$CONFIG"
  if [ -n "$ROOT" ]; then
    # `locker init` writes the secret key and the database where the config
    # says; under --root, hand it a copy whose absolute paths point into DIR.
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    INIT_CONFIG="$WORK/config.toml"
    "$PY" - "$CONFIG" "$ROOT" "$INIT_CONFIG" <<'EOF'
import sys
import tomllib
from pathlib import Path

import tomli_w

from locker.config import Config

source, root, out = sys.argv[1:]
raw = tomllib.loads(Path(source).read_text(encoding="utf-8"))


def under(path: str) -> str:
    return root + path if path.startswith("/") else path


raw["data_dir"] = under(raw.get("data_dir", Config.data_dir))
web = raw.setdefault("web", {})
if web.get("secret_key_file"):
    web["secret_key_file"] = under(web["secret_key_file"])
url = raw.get("database_url", "")
if url.startswith("sqlite:///"):
    raw["database_url"] = "sqlite:///" + under(url.removeprefix("sqlite:///"))
elif url:
    sys.exit(f"install.sh: --root cannot stage the database {url}")
Path(out).write_bytes(tomli_w.dumps(raw).encode("utf-8"))
EOF
  fi
  # umask 0007: a new database and its -wal/-shm are group-writable.
  (umask 0007 && LOCKER_CONFIG="$INIT_CONFIG" "$VENV/bin/locker" init)
fi
# The daemon and the panel both write the database (its -wal/-shm take the
# database's mode); nobody else may read it: it holds names, badges and hashes.
if [ -d "$DATA_DIR" ]; then
  change find "$DATA_DIR" -type f -exec chmod g+rw,o-rwx {} +
fi

# Where the config puts the secret key, and its data directory.
SETTINGS=$("$PY" - "$CONFIG" 2>/dev/null <<'EOF' || true
import sys

from locker.config import load_config

config = load_config(sys.argv[1])
print(config.web.secret_key_file)
print(config.data_dir)
EOF
)
SECRET=$(sed -n 1p <<<"$SETTINGS")
# Only a dry run gets here without a config to read: say what the default does.
[ -n "$SECRET" ] || SECRET="$ETC/secret_key"
CONFIGURED_DATA=$(sed -n 2p <<<"$SETTINGS")
if [ -n "$SECRET" ]; then
  if [ -e "$(at "$SECRET")" ]; then
    change chmod 0640 "$(at "$SECRET")"
  fi
  system chown "root:$SHARED_GROUP" "$SECRET"
fi
if [ -n "$CONFIGURED_DATA" ] && [ "$CONFIGURED_DATA" != "$DATA" ]; then
  echo "warning: data_dir is $CONFIGURED_DATA in the config, but the services may only write $DATA"
fi
system chown -R "$DAEMON_USER:$SHARED_GROUP" "$DATA"

# ------------------------------------------------------------------ systemd

say "systemd units"
UNITS_DEST=$(at "$UNIT_DIR")
change mkdir -p "$UNITS_DEST"
for unit in "${UNITS[@]}"; do
  if ! cmp -s "$SRC/systemd/$unit" "$UNITS_DEST/$unit"; then
    change install -m 0644 "$SRC/systemd/$unit" "$UNITS_DEST/$unit"
  fi
done
if [ -z "$ROOT" ] && [ ! -d /run/systemd/system ]; then
  # A chroot or an image build: no systemd to reload or start anything.
  # `systemctl enable` works without one (it only makes the links), so the
  # image starts both services on its first boot.
  echo "systemd is not running here (no /run/systemd/system): skipping systemctl daemon-reload and start"
  if command -v systemctl >/dev/null; then
    system systemctl enable "${UNITS[@]}"
    echo "enabled, the units start on the next boot"
  else
    echo "no systemctl either: enable ${UNITS[*]} once systemd runs"
  fi
elif [ "$START" -eq 1 ]; then
  system systemctl daemon-reload
  system systemctl enable --now "${UNITS[@]}"
  if [ "$UPGRADE" -eq 1 ]; then
    system systemctl try-restart "${UNITS[@]}"
  fi
else
  system systemctl daemon-reload
  system systemctl enable "${UNITS[@]}"
fi

if [ "$IS_PI" -eq 1 ] && [ ! -e "$(at /dev/spidev0.0)" ]; then
  echo "note: SPI is off. Enable it: sudo raspi-config nonint do_spi 0, then reboot"
fi
say "done. Next: check $ETC/config.toml against the wiring, then run: sudo locker doctor"
