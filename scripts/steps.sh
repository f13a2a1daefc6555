# shellcheck shell=bash
# Shared by install.sh and uninstall.sh: how a step runs for real, under --root
# (recorded in $LOG, files written inside DIR) or under --dry-run (printed).
# Expects ROOT, DRY_RUN and LOG to be set by the sourcing script.

# The path under --root of a target path.
at() { printf '%s%s' "$ROOT" "$1"; }

# The command line, with arguments that need it in single quotes.
quoted() {
  local arg line=""
  for arg in "$@"; do
    case "$arg" in
      *[!A-Za-z0-9_./:=,@%+-]*) arg="'${arg//\'/\'\\\'\'}'" ;;
    esac
    line+="${line:+ }$arg"
  done
  printf '%s\n' "$line"
}

# A step that changes the system itself: run it, record it under --root,
# print it under --dry-run.
system() {
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would run: $(quoted "$@")"
  elif [ -n "$ROOT" ]; then
    quoted "$@" >>"$LOG"
  else
    "$@"
  fi
}

# A step that writes or removes files (under --root, inside DIR): run it, or
# print it under --dry-run.
change() {
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would run: $(quoted "$@")"
  else
    "$@"
  fi
}

# Whether a group or a user exists (under --root: in DIR's /etc files).
have_group() {
  if [ -n "$ROOT" ]; then
    grep -q "^$1:" "$ROOT/etc/group" 2>/dev/null
  else
    getent group "$1" >/dev/null
  fi
}

have_user() {
  if [ -n "$ROOT" ]; then
    grep -q "^$1:" "$ROOT/etc/passwd" 2>/dev/null
  else
    getent passwd "$1" >/dev/null
  fi
}
