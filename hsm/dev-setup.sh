#!/bin/sh
# hsm/dev-setup.sh: prepare a development machine (or the dev container) for hsm-kms.
#
# Run as `sh hsm/dev-setup.sh`; `npm start`, `npm test` and `npm run bench` run it first.
# It is idempotent and never prompts. It prints nothing when there is nothing to do.
#
#   a. npm dependencies: `npm ci` when node_modules is missing or older than
#      package-lock.json (`npm install` when there is no lock file).
#   b. SoftHSM2: installs the Debian `softhsm2` package when the default module
#      is missing. A real HSM module (KMS_PKCS11_MODULE) is never touched.
#   c. A dev token: <data>/softhsm2.conf, <data>/tokens/, and a token labelled
#      $KMS_TOKEN_LABEL (default hsm-kms-dev) with random PINs in
#      <data>/dev-token.pin and <data>/dev-token.so-pin (0600).
#   d. Root credentials: <data>/root-credentials.json (0600), printed once.
#
# Environment: KMS_DATA_DIR (default <repo>/data), KMS_PKCS11_MODULE,
# KMS_TOKEN_LABEL, KMS_PIN / KMS_PIN_FILE / SOFTHSM2_CONF (any of them means
# the token is configured explicitly: step c is skipped, unless
# KMS_PROVISION_DEV_TOKEN=1, which makes the dev token with the PIN in KMS_PIN_FILE),
# KMS_ROOT_ACCESS_KEY_ID or KMS_ROOT_CREDENTIALS_FILE (set: step d is skipped),
# KMS_ACCOUNT_ID, KMS_REGION (only for the example printed with the credentials),
# KMS_SKIP_NPM=1 (skip step a).
#
# POSIX sh: it has to run before node_modules exists, with no npm package.

set -eu

log() { printf 'dev-setup: %s\n' "$*"; }
warn() { printf 'dev-setup: warning: %s\n' "$*" >&2; }
die() { printf 'dev-setup: error: %s\n' "$*" >&2; exit 1; }

CALLER_PWD=$(pwd)
SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(CDPATH='' cd -- "$SCRIPT_DIR/.." && pwd)

SOFTHSM_DEFAULT_MODULE=/usr/lib/softhsm/libsofthsm2.so
MODULE=${KMS_PKCS11_MODULE:-$SOFTHSM_DEFAULT_MODULE}
case $(basename -- "$MODULE") in
  libsofthsm2.so*) USING_SOFTHSM=1 ;;
  *) USING_SOFTHSM=0 ;;
esac

CHANGED=0
changed() { CHANGED=1; }

# Temporary files that may hold a secret are removed on any exit.
TMPFILE=
cleanup() { if [ -n "$TMPFILE" ]; then rm -f -- "$TMPFILE"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# new_secret_tmp FINAL: creates an empty FINAL.tmp.PID with mode 0600 (umask 077
# and noclobber, before any secret is written to it) and sets TMPFILE to it.
new_secret_tmp() {
  TMPFILE="$1.tmp.$$"
  rm -f -- "$TMPFILE"
  (umask 077 && set -C && : >"$TMPFILE") || die "cannot create $TMPFILE"
}

# commit_secret FINAL: moves TMPFILE into place.
commit_secret() {
  chmod 600 "$TMPFILE"
  mv -f -- "$TMPFILE" "$1"
  TMPFILE=
}

# random_hex: 32 lowercase hex characters (128 bits) from /dev/urandom.
random_hex() {
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

# random_chars N SET: N characters drawn from the tr character set SET.
random_chars() {
  LC_ALL=C tr -dc "$2" </dev/urandom | head -c "$1"
}

# ---------------------------------------------------------------------------
# a. npm dependencies
# ---------------------------------------------------------------------------
npm_deps() {
  # KMS_SKIP_NPM=1: the caller has node_modules already (the container image).
  # HSM_KMS_DEV_SETUP_NPM: we are inside our own npm run (recursion guard).
  if [ "${KMS_SKIP_NPM:-}" = 1 ] || [ -n "${HSM_KMS_DEV_SETUP_NPM:-}" ]; then
    return 0
  fi
  [ -f "$ROOT/package.json" ] || return 0

  if [ -f "$ROOT/package-lock.json" ]; then
    # find -newer: POSIX spelling of test -nt.
    if [ -f "$ROOT/node_modules/.package-lock.json" ] &&
      [ -z "$(find "$ROOT/package-lock.json" -newer "$ROOT/node_modules/.package-lock.json")" ]; then
      return 0
    fi
    npm_cmd=ci
  else
    # No lock file: install only when there is no node_modules at all.
    [ -d "$ROOT/node_modules" ] && return 0
    npm_cmd=install
  fi

  command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install Node.js 20 and npm first"
  log "installing npm dependencies (npm $npm_cmd; this takes a minute or two)"
  HSM_KMS_DEV_SETUP_NPM=1
  export HSM_KMS_DEV_SETUP_NPM
  (cd "$ROOT" && npm "$npm_cmd" --no-audit --no-fund) ||
    die "npm $npm_cmd failed (native addons pkcs11js and better-sqlite3 need python3, make and g++)"
  changed
}

# ---------------------------------------------------------------------------
# b. SoftHSM2
# ---------------------------------------------------------------------------
install_softhsm() {
  command -v apt-get >/dev/null 2>&1 ||
    die "SoftHSM2 is not installed ($SOFTHSM_DEFAULT_MODULE is missing) and apt-get is not available. Install SoftHSM2 with your package manager (e.g. 'brew install softhsm') and set KMS_PKCS11_MODULE to its libsofthsm2.so."
  if [ "$(id -u)" -eq 0 ]; then
    sudo=
  elif command -v sudo >/dev/null 2>&1; then
    sudo='sudo -n' # never prompt: fail instead
  else
    die "SoftHSM2 is not installed and this user is neither root nor has sudo. As root, run: apt-get install softhsm2"
  fi
  log "installing SoftHSM2 (apt-get install softhsm2)"
  # shellcheck disable=SC2086 # $sudo is empty or two words on purpose
  if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null ||
    ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends softhsm2 >/dev/null; then
    die "could not install softhsm2 with apt-get${sudo:+ (sudo -n: passwordless sudo is needed)}. Run: sudo apt-get install softhsm2"
  fi
  [ -e "$SOFTHSM_DEFAULT_MODULE" ] || die "softhsm2 is installed but $SOFTHSM_DEFAULT_MODULE is still missing"
  changed
}

softhsm() {
  [ "$USING_SOFTHSM" = 1 ] || return 0 # a real HSM: nothing to install
  if [ -e "$MODULE" ] && command -v softhsm2-util >/dev/null 2>&1; then
    return 0
  fi
  if [ "$MODULE" = "$SOFTHSM_DEFAULT_MODULE" ]; then
    # Debian splits the module (libsofthsm2) from softhsm2-util (softhsm2).
    install_softhsm
  elif [ ! -e "$MODULE" ]; then
    die "KMS_PKCS11_MODULE=$MODULE does not exist"
  else
    die "softhsm2-util is not on PATH (needed to create the dev token); install SoftHSM2's tools"
  fi
}

# ---------------------------------------------------------------------------
# c. data directory and dev token
# ---------------------------------------------------------------------------
data_dir() {
  if [ -n "${KMS_DATA_DIR:-}" ]; then
    case $KMS_DATA_DIR in
      /*) DATA=$KMS_DATA_DIR ;;
      *) DATA=$CALLER_PWD/$KMS_DATA_DIR ;;
    esac
  else
    DATA=$ROOT/data
  fi
  if [ ! -d "$DATA" ]; then
    (umask 077 && mkdir -p -- "$DATA") || die "cannot create data directory $DATA"
    chmod 700 "$DATA"
    DATA=$(cd "$DATA" && pwd)
    log "created data directory $DATA (mode 0700)"
    changed
  else
    DATA=$(cd "$DATA" && pwd)
    if [ -z "$(find "$DATA/." -prune -perm 700)" ]; then
      if chmod 700 "$DATA" 2>/dev/null; then
        log "set mode 0700 on data directory $DATA"
        changed
      else
        warn "data directory $DATA is not mode 0700 and chmod failed"
      fi
    fi
  fi
}

# KMS_PROVISION_DEV_TOKEN=1 (the container): provision the dev token even though KMS_PIN_FILE
# is set, with the PIN in that file (a Docker secret) rather than a generated one.
provision_from_pin_file() {
  [ "${KMS_PROVISION_DEV_TOKEN:-}" = 1 ] && [ -n "${KMS_PIN_FILE:-}" ] && [ -z "${SOFTHSM2_CONF:-}" ]
}

token_configured_explicitly() {
  provision_from_pin_file && return 1
  [ -n "${KMS_PIN:-}" ] || [ -n "${KMS_PIN_FILE:-}" ] ||
    { [ -n "${SOFTHSM2_CONF:-}" ] && [ "$SOFTHSM2_CONF" != "$DATA/softhsm2.conf" ]; }
}

# has_token SLOTS_TEXT LABEL: is there a token with exactly this label?
has_token() {
  printf '%s\n' "$1" | TOKEN_LABEL=$2 awk '
    $1 == "Label:" {
      v = $0
      sub(/^[ \t]*Label:[ \t]*/, "", v)
      sub(/[ \t]+$/, "", v)
      if (v == ENVIRON["TOKEN_LABEL"]) found = 1
    }
    END { exit found ? 0 : 1 }'
}

dev_token() {
  [ "$USING_SOFTHSM" = 1 ] || return 0
  token_configured_explicitly && return 0

  conf=$DATA/softhsm2.conf
  tokens=$DATA/tokens
  label=${KMS_TOKEN_LABEL:-hsm-kms-dev}
  if [ "${#label}" -lt 1 ] || [ "${#label}" -gt 32 ]; then
    die "KMS_TOKEN_LABEL must be 1 to 32 characters"
  fi

  if [ ! -d "$tokens" ]; then
    (umask 077 && mkdir -p -- "$tokens") || die "cannot create $tokens"
    chmod 700 "$tokens"
    changed
  fi

  if [ ! -f "$conf" ]; then
    template=$ROOT/softhsm-config/softhsm2.conf.template
    [ -f "$template" ] || die "missing $template"
    TMPFILE=$conf.tmp.$$
    rm -f -- "$TMPFILE"
    # ENVIRON, not awk -v, so that backslashes in the path stay literal.
    (umask 077 && TOKENDIR=$tokens awk '{
        while ((i = index($0, "@TOKENDIR@")) > 0)
          $0 = substr($0, 1, i - 1) ENVIRON["TOKENDIR"] substr($0, i + 10)
        print
      }' "$template" >"$TMPFILE") || die "cannot write $conf"
    mv -f -- "$TMPFILE" "$conf"
    TMPFILE=
    log "wrote $conf"
    changed
  else
    configured=$(sed -n 's/^[[:space:]]*directories\.tokendir[[:space:]]*=[[:space:]]*//p' "$conf" | sed 's/[[:space:]]*$//' | head -n 1)
    if [ "$configured" != "$tokens" ]; then
      warn "$conf points at tokendir '$configured', not $tokens; delete it to regenerate"
    fi
  fi

  slots=$(SOFTHSM2_CONF=$conf softhsm2-util --show-slots 2>&1) ||
    die "softhsm2-util --show-slots failed: $slots"

  if has_token "$slots" "$label"; then
    provision_from_pin_file && return 0
    [ -f "$DATA/dev-token.pin" ] ||
      warn "token '$label' exists but $DATA/dev-token.pin is missing: the service cannot log in. Delete $tokens to start over with a new token."
    return 0
  fi

  if provision_from_pin_file; then
    [ -r "$KMS_PIN_FILE" ] || die "KMS_PIN_FILE $KMS_PIN_FILE cannot be read"
    pin=$(cat "$KMS_PIN_FILE")
    [ "${#pin}" -ge 4 ] || die "the PIN in KMS_PIN_FILE is shorter than 4 characters"
    so_pin=$(random_hex)
    new_secret_tmp "$DATA/dev-token.so-pin"
    printf '%s' "$so_pin" >"$TMPFILE"
    commit_secret "$DATA/dev-token.so-pin"
  elif [ -s "$DATA/dev-token.pin" ] && [ -s "$DATA/dev-token.so-pin" ]; then
    # Existing PIN files may belong to another token in this directory (a
    # different KMS_TOKEN_LABEL): reuse them rather than orphan that token.
    pin=$(cat "$DATA/dev-token.pin")
    so_pin=$(cat "$DATA/dev-token.so-pin")
    if [ "${#pin}" -lt 4 ] || [ "${#so_pin}" -lt 4 ]; then
      die "$DATA/dev-token.pin or dev-token.so-pin is shorter than 4 characters; delete both to regenerate"
    fi
  else
    pin=$(random_hex)
    so_pin=$(random_hex)
    if [ "${#pin}" -ne 32 ] || [ "${#so_pin}" -ne 32 ]; then
      die "could not read random bytes from /dev/urandom"
    fi

    # The PIN files are written (0600) before the token exists, so there is never
    # a token whose PIN was not recorded. printf is a shell builtin: no PIN in ps.
    new_secret_tmp "$DATA/dev-token.pin"
    printf '%s' "$pin" >"$TMPFILE"
    commit_secret "$DATA/dev-token.pin"
    new_secret_tmp "$DATA/dev-token.so-pin"
    printf '%s' "$so_pin" >"$TMPFILE"
    commit_secret "$DATA/dev-token.so-pin"
  fi

  log "initialising SoftHSM token '$label' in $tokens"
  # softhsm2-util takes PINs only as arguments, so both PINs are visible in the
  # process list (ps, /proc/<pid>/cmdline) while it runs, for well under a
  # second. Acceptable for a throwaway dev token on a dev machine; a real HSM
  # is never provisioned by this script.
  if ! out=$(SOFTHSM2_CONF=$conf softhsm2-util --init-token --free --label "$label" \
    --so-pin "$so_pin" --pin "$pin" 2>&1); then
    die "softhsm2-util --init-token failed: $out"
  fi
  unset pin so_pin
  changed
}

# ---------------------------------------------------------------------------
# d. root credentials
# ---------------------------------------------------------------------------
root_credentials() {
  [ -z "${KMS_ROOT_ACCESS_KEY_ID:-}" ] || return 0
  # Given as a file of their own (a Docker secret): nothing to generate.
  [ -z "${KMS_ROOT_CREDENTIALS_FILE:-}" ] || return 0
  creds=$DATA/root-credentials.json
  [ -e "$creds" ] && return 0

  account=${KMS_ACCOUNT_ID:-111122223333}
  akid=AKIA$(random_chars 16 'A-Z0-9')
  secret=$(random_chars 40 'A-Za-z0-9+/')
  if [ "${#akid}" -ne 20 ] || [ "${#secret}" -ne 40 ]; then
    die "could not read random bytes from /dev/urandom"
  fi

  new_secret_tmp "$creds"
  printf '{"accessKeyId": "%s", "secretAccessKey": "%s"}\n' "$akid" "$secret" >"$TMPFILE"
  commit_secret "$creds"
  changed

  # Printed once, now, by product requirement; later runs find the file and say nothing.
  cat <<EOF

==================== hsm-kms root credentials (shown once) ====================
These are the root credentials of account $account
(principal arn:aws:iam::$account:root).

  AccessKeyId:     $akid
  SecretAccessKey: $secret

They are stored in $creds (mode 0600)
and will not be printed again. Example, with the service running:

  AWS_ACCESS_KEY_ID=$akid \\
  AWS_SECRET_ACCESS_KEY='$secret' \\
  AWS_REGION=${KMS_REGION:-us-east-1} \\
  aws --endpoint-url http://127.0.0.1:8080 kms list-keys
===============================================================================

EOF
  unset secret
}

npm_deps
softhsm
data_dir
dev_token
root_credentials

if [ "$CHANGED" = 1 ]; then
  log "ready (data directory $DATA)"
fi
