#!/usr/bin/env bash
# Builds the compose stack's images with podman, locally, WITHOUT any image registry: nothing is
# pulled (`podman build --pull=never`). For machines that reach Debian's mirrors and npm but no
# image registry. Steps, each timed:
#   1. rootfs      Debian bookworm (debootstrap --variant=minbase), kept as a tar in the cache dir
#   2. base        that tar imported as localhost/softnet-emu-base:bookworm
#   3. node        docker.io/library/node:20-slim stand-in: base + this machine's node and npm
#                  (the Dockerfile's FROM, unchanged); an image of that name that is not ours is
#                  used as it is
#   4. prometheus  localhost/softnet-emu-prometheus:local: base + Debian's prometheus and
#                  promtool, laid out as the prom/prometheus image (config in /etc/prometheus,
#                  data in /prometheus, user nobody)
#   5. project     softnet-emu:local from the unchanged Dockerfile
# Steps 1-4 are skipped when their result is there and current (labels record what went in);
# step 5 uses podman's layer cache. --base stops after step 4.
#
#   sudo bash scripts/container-images.sh            # or: npm run containers:images
#   PROMETHEUS_IMAGE=localhost/softnet-emu-prometheus:local \
#     podman-compose --podman-run-args="--ulimit host" up -d coordinator cpu0 cpu1 cpu2 cpu3 prometheus
#
# Environment: SOFTNET_EMU_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/softnet-emu), DEBIAN_MIRROR
# (default http://deb.debian.org/debian). Exit 2: a missing piece (podman, debootstrap, node,
# prometheus, root for debootstrap), named in one line.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=localhost/softnet-emu-base:bookworm
NODE_IMAGE=docker.io/library/node:20-slim
PROMETHEUS_IMAGE=localhost/softnet-emu-prometheus:local
PROJECT_IMAGE=softnet-emu:local
CACHE=${SOFTNET_EMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/softnet-emu}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base_only=false
case "${1:-}" in
  --base) base_only=true ;;
  "") ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "container-images: unknown argument $1 (expected --base or nothing)" >&2; exit 2 ;;
esac

say() { echo "container-images: $*"; }
missing() { echo "container-images: $*" >&2; exit 2; }
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || missing "$tool not installed (apt-get install podman debootstrap, or: sudo bash .ci/setup)"
done
NODE=$(command -v node) || missing "node not found on PATH (the node:20-slim stand-in is made of this machine's node)"
NODE=$(readlink -f "$NODE")
NPM_DIR=$(readlink -f "$(dirname "$NODE")/../lib/node_modules/npm")
[ -f "$NPM_DIR/bin/npm-cli.js" ] || missing "npm not found next to $NODE (looked in $NPM_DIR)"
PROM=$(command -v prometheus) && PROMTOOL=$(command -v promtool) || missing "prometheus or promtool not installed (apt-get install prometheus)"
CA=/etc/ssl/certs/ca-certificates.crt
[ -f "$CA" ] || missing "no CA bundle at $CA (apt-get install ca-certificates)"

say "local build, no image registry: nothing is pulled (podman build --pull=never); cache $CACHE"
mkdir -p "$CACHE"
total_start=$EPOCHREALTIME
step_start=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
done_step() { say "$1: $2 ($(elapsed "$step_start") s)"; step_start=$EPOCHREALTIME; }
label() { podman image inspect --format "{{index .Labels \"$2\"}}" "$1" 2>/dev/null || true; }
# Empty when there is no such image (podman's 125 must not end the script under pipefail).
image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null | cut -c1-12 || true; }
work=""
cleanup() { [ -z "$work" ] || rm -rf --one-file-system "$work"; }
trap cleanup EXIT
new_work() { cleanup; work=$(mktemp -d "$CACHE/work.XXXXXX"); }
# An image a build has just replaced under its tag is dropped, unless something still uses it (a
# container, a child image): its layers stay in the build cache.
drop_replaced() { if [ -n "$1" ] && [ "$1" != "$(image_id "$2")" ]; then podman rmi "$1" >/dev/null 2>&1 || true; fi; }
# Quiet builds: the log's tail is shown when one fails.
build() {
  local log="$CACHE/build-$1.log"; shift
  if ! podman build --pull=never --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "container-images: podman build $* failed (whole log: $log)" >&2
    exit 1
  fi
}
# rebuild STEP IMAGE DIR: build IMAGE from DIR, then drop the image it replaced under that tag.
rebuild() {
  local previous; previous=$(image_id "$2")
  build "$1" -t "$2" "$3"
  drop_replaced "$previous" "$2"
}

# 1. rootfs
rootfs_tar="$CACHE/debian-bookworm-minbase.tar"
if [ -s "$rootfs_tar" ]; then
  done_step rootfs "cached ($rootfs_tar)"
else
  [ "$(id -u)" -eq 0 ] || missing "debootstrap needs root (run as root once; the rootfs is cached after)"
  new_work
  say "rootfs: debootstrap --variant=minbase bookworm from $MIRROR (about 3 minutes, once)"
  # dpkg without fsync (DPKG_FORCE=unsafe-io): the rootfs is tarred whole at the end anyway. Most
  # of the time is downloading, though: 140-200 s here.
  if ! DPKG_FORCE=unsafe-io debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2
    echo "container-images: debootstrap failed (whole log: $CACHE/debootstrap.log)" >&2
    exit 1
  fi
  # Downloaded .debs and package lists are not part of an image.
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$rootfs_tar"
  cleanup; work=""
  done_step rootfs "debootstrapped, $(du -m "$rootfs_tar" | cut -f1) MB"
fi

# 2. base
rootfs_stamp=$(stat -c '%s-%Y' "$rootfs_tar")
if [ "$(label "$BASE_IMAGE" org.softnet-emu.rootfs)" = "$rootfs_stamp" ]; then
  done_step base "$BASE_IMAGE up to date"
else
  podman import --quiet --change "LABEL org.softnet-emu.rootfs=$rootfs_stamp" --change 'CMD ["bash"]' \
    "$rootfs_tar" "$BASE_IMAGE" >/dev/null
  done_step base "imported $BASE_IMAGE"
fi
base_id=$(image_id "$BASE_IMAGE")

# 3. node:20-slim stand-in
node_version=$("$NODE" --version)
npm_version=$("$NODE" "$NPM_DIR/bin/npm-cli.js" --version)
node_stamp="$base_id-$node_version-$(sha256sum "$NODE" | cut -c1-16)-npm$npm_version-$(sha256sum "$CA" | cut -c1-16)"
node_label=$(label "$NODE_IMAGE" org.softnet-emu.stand-in)
if [ -n "$(image_id "$NODE_IMAGE")" ] && [ -z "$node_label" ]; then
  done_step node "$NODE_IMAGE is in local storage and is not ours: used as it is"
elif [ "$node_label" = "$node_stamp" ]; then
  done_step node "$NODE_IMAGE stand-in up to date (node $node_version)"
else
  new_work
  # Hard links where the cache shares a file system with them (no copy), else copies.
  cp -l "$NODE" "$work/node" 2>/dev/null || cp "$NODE" "$work/node"
  cp -al "$NPM_DIR" "$work/npm" 2>/dev/null || cp -a "$NPM_DIR" "$work/npm"
  cp "$CA" "$work/ca-certificates.crt"
  cat >"$work/Containerfile" <<EOF
FROM $BASE_IMAGE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
# The host's CA bundle: package traffic may go through a proxy that only it trusts.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
ENV NODE_VERSION=${node_version#v} NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
LABEL org.softnet-emu.stand-in=$node_stamp
CMD ["node"]
EOF
  rebuild node "$NODE_IMAGE" "$work"
  cleanup; work=""
  done_step node "built $NODE_IMAGE stand-in (debian bookworm, node $node_version, npm $npm_version)"
fi

# 4. Prometheus stand-in
prom_version=$("$PROM" --version 2>&1 | awk 'NR == 1 { print $3 }')
prom_stamp="$base_id-$(sha256sum "$PROM" | cut -c1-16)-$(sha256sum "$PROMTOOL" | cut -c1-16)"
if [ "$(label "$PROMETHEUS_IMAGE" org.softnet-emu.stand-in)" = "$prom_stamp" ]; then
  done_step prometheus "$PROMETHEUS_IMAGE up to date (prometheus $prom_version)"
else
  new_work
  cp "$PROM" "$PROMTOOL" "$work/"
  cat >"$work/prometheus.yml" <<'EOF'
# The image's default: Prometheus scraping itself (compose mounts its own /etc/prometheus).
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
EOF
  cat >"$work/Containerfile" <<EOF
FROM $BASE_IMAGE
COPY prometheus promtool /bin/
COPY prometheus.yml /etc/prometheus/prometheus.yml
RUN mkdir -p /prometheus && chown nobody:nogroup /prometheus && prometheus --version
USER nobody
EXPOSE 9090
WORKDIR /prometheus
LABEL org.softnet-emu.stand-in=$prom_stamp org.softnet-emu.prometheus-version=$prom_version
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
  rebuild prometheus "$PROMETHEUS_IMAGE" "$work"
  cleanup; work=""
  done_step prometheus "built $PROMETHEUS_IMAGE (Debian's prometheus $prom_version)"
fi

# 5. the project's image
if $base_only; then
  say "base images ready in $(elapsed "$total_start") s; without --base this builds $PROJECT_IMAGE too"
  exit 0
fi
rebuild softnet-emu "$PROJECT_IMAGE" .
done_step project "built $PROJECT_IMAGE from ./Dockerfile"

say "done in $(elapsed "$total_start") s. The stack (README, \"Containers\"):"
say "  export PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE"
say "  podman-compose --podman-run-args=\"--ulimit host\" up -d coordinator prometheus   # then, once it is healthy:"
say "  podman-compose --podman-run-args=\"--ulimit host\" up -d cpu0 cpu1 cpu2 cpu3"
