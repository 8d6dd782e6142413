#!/bin/sh
# Container entrypoint. With no KMS_PKCS11_MODULE (or SoftHSM2's module), provision a
# development SoftHSM token under $KMS_DATA_DIR on first start, by the same script
# developers use (hsm/dev-setup.sh: idempotent, quiet once set up; npm is skipped
# because the image already has node_modules). It also writes and prints the root
# credentials once, unless KMS_ROOT_ACCESS_KEY_ID is set.
# With a real HSM module nothing is provisioned: the token must already exist.
set -eu

cd /app
: "${KMS_DATA_DIR:=/data}"
export KMS_DATA_DIR

case $(basename -- "${KMS_PKCS11_MODULE:-libsofthsm2.so}") in
  libsofthsm2.so*)
    KMS_SKIP_NPM=1 sh /app/hsm/dev-setup.sh
    ;;
esac

exec node /app/dist/main.js "$@"
