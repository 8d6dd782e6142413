#!/bin/sh
# Writes the two secrets docker/compose.yaml hands the service as Docker secrets, once:
#   docker/secrets/root-credentials.json  the root credentials ({"accessKeyId", "secretAccessKey"})
#   docker/secrets/token-pin              the dev token's user PIN
# Both 0600, from /dev/urandom; an existing file is kept. Run it before `docker compose up`.
# Secrets never go into environment variables, which `docker compose config` and `docker
# inspect` show.
set -eu
dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)/secrets
(umask 077 && mkdir -p -- "$dir")
if [ ! -e "$dir/token-pin" ]; then
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/token-pin")
  echo "make-secrets: wrote $dir/token-pin"
fi
if [ ! -e "$dir/root-credentials.json" ]; then
  akid=AKIA$(LC_ALL=C tr -dc 'A-Z0-9' </dev/urandom | head -c 16)
  secret=$(LC_ALL=C tr -dc 'A-Za-z0-9+/' </dev/urandom | head -c 40)
  (umask 077 && printf '{"accessKeyId": "%s", "secretAccessKey": "%s"}\n' "$akid" "$secret" >"$dir/root-credentials.json")
  echo "make-secrets: wrote $dir/root-credentials.json (the root credentials for your clients)"
fi
