#!/bin/sh
# azd preprovision: the secrets an environment makes once and keeps (see each script).
set -eu
here=$(dirname "$0")
sh "$here/ensure-secret-key.sh"
sh "$here/ensure-admin-api-key.sh"
