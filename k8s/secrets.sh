#!/bin/sh
# Writes k8s/secrets.env, which kustomization.yaml turns into the Secret both the coordinator and
# the CPUs read (its name changes with its content, so new secrets mean new pods: a new run):
#   SOFTNET_SECRET         the run's shared secret: every ZeroMQ frame carries an HMAC under it
#                          (32 random bytes, hex); a CPU without it is refused
#   SOFTNET_CONTROL_TOKEN  the bearer token POST /control/* needs (24 random bytes, hex)
#
#   sh k8s/secrets.sh          # creates secrets.env if it is missing, keeps it otherwise
#   sh k8s/secrets.sh --new    # new secrets, for the next run (README, "Kubernetes")
set -eu
dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
file="$dir/secrets.env"
case "${1:-}" in
  --new) rm -f "$file" ;;
  "") ;;
  *) echo "secrets.sh: unknown argument $1 (expected --new or nothing)" >&2; exit 2 ;;
esac
if [ -e "$file" ]; then
  echo "secrets.sh: $file exists; kept (--new replaces it)"
  exit 0
fi
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
umask 077
tmp="$file.tmp.$$"
{
  echo "SOFTNET_SECRET=$(hex 32)"
  echo "SOFTNET_CONTROL_TOKEN=$(hex 24)"
} > "$tmp"
mv "$tmp" "$file"
echo "secrets.sh: wrote $file"
