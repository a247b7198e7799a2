#!/usr/bin/env bash
# Registry push/pull benchmark for the registries issue: berth beside
# Docker 20.10 and Podman in one run, all three on private state, against
# one local registry (Debian's docker-registry on 127.0.0.1:$REG_PORT).
#
#   bench/registry.sh [RUNS]     (needs root; summary on stdout, progress on stderr)
#
# Runs the shared harness ../shared/bench/registry-bench.sh once per engine:
# build a ~310 MB, 2-layer image (a Debian rootfs + REG_BLOB_MB MiB of
# incompressible data), then per iteration wipe the registry, push, rmi,
# pull. The rootfs is the test cache's debian-bookworm-minbase.tar.
#
# berth keeps the layers of an image it built in its build cache (as
# BuildKit does), so after `rmi` its pull finds both layers unpacked and
# downloads nothing. "berth-cold" is berth with `builder prune -af` run
# after each `rmi` (inside the rmi's time), so its pull downloads, verifies
# and unpacks everything, as docker's and podman's do here.
#
# Knobs: RUNS (default 3), ENGINES="berth berth-cold docker podman", REG_PORT=5055,
# WORKDIR=/var/lib/berth-bench-reg, BERTH (default: the release build).
# Everything made (engines' stores, dockerd, registry) is under WORKDIR
# and /run/berth-bench-reg*, and is removed at exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
H=${BENCH_HARNESS:-$repo/../shared/bench}
RUNS=${1:-${RUNS:-3}}
ENGINES=${ENGINES:-berth berth-cold docker podman}
export REG_PORT=${REG_PORT:-5055}
export WORKDIR=${WORKDIR:-/var/lib/berth-bench-reg}
export RESULTS=$WORKDIR/results.csv
W=$WORKDIR
R=/run/berth-bench-reg
mkdir -p "$W" "$W/rootfs"
rm -f "$RESULTS"
log() { echo "[$(date +%T)] $*" >&2; }

if [ -z "${BERTH:-}" ]; then
  cargo build --release --locked -p berth --manifest-path "$repo/Cargo.toml" >&2
  BERTH=${CARGO_TARGET_DIR:-$repo/target}/release/berth
fi
src=${ROOTFS_TAR:-/var/cache/berth-test/debian-bookworm-minbase.tar}
[ -s "$W/rootfs/debian-bookworm.tar" ] || cp "$src" "$W/rootfs/debian-bookworm.tar"

# --- engines, all private ---
DSOCK=$R-docker.sock
dockerd --data-root "$W/docker" --exec-root "$R-docker" --pidfile "$R-docker.pid" \
  -H "unix://$DSOCK" --bridge=none --iptables=false --ip-masq=false >"$W/dockerd.log" 2>&1 &
for _ in $(seq 100); do [ -S "$DSOCK" ] && break; sleep 0.1; done
. "$repo/bench/private-engines.sh"
podman_private "$R-podman"
mkdir -p "$W/bin"
printf '#!/bin/sh\nexec %s --root %s --runroot %s "$@"\n' "$BERTH" "$W/berth" "$R-berth" > "$W/bin/berth"
{
  echo '#!/bin/sh'
  echo "b=\"$BERTH --root $W/berth-cold --runroot $R-berth-cold\""
  echo 'if [ "$1" = rmi ]; then $b "$@" && exec $b builder prune -af >/dev/null; fi'
  echo 'exec $b "$@"'
} > "$W/bin/berth-cold"
printf '#!/bin/sh\nexec /usr/bin/docker -H unix://%s "$@"\n' "$DSOCK" > "$W/bin/docker"
printf '#!/bin/sh\nexec podman --tmpdir %s "$@"\n' "$W/podman-tmp" > "$W/bin/podman"
chmod +x "$W/bin/"*

cleanup() {
  "$H/registry.sh" stop >/dev/null 2>&1 || true
  [ -f "$R-docker.pid" ] && kill "$(cat "$R-docker.pid")" 2>/dev/null || true
  for _ in $(seq 100); do [ -S "$DSOCK" ] || break; sleep 0.1; done
  podman --tmpdir "$W/podman-tmp" system reset -f >/dev/null 2>&1 || true
  for m in $(grep -o " \($W\|$R\)[^ ]*" /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$W" "$R-docker" "$R-docker.pid" "$DSOCK" "$R-podman" "$R-berth" "$R-berth-cold"
  for d in /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker; do
    [ -d "$d" ] && find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
    rmdir "$d" 2>/dev/null || true
  done
}
trap cleanup EXIT

# Engines in turn, each with the registry to itself (one registry.sh run
# per engine: setup starts it, teardown stops it).
for e in $ENGINES; do
  log "$e"
  ENGINE="$W/bin/$e" LABEL=$e "$H/registry-bench.sh" setup
  # The build's copy of the image stays; the timed loop pushes, removes, pulls.
  RUNS=$RUNS ENGINE="$W/bin/$e" LABEL=$e "$H/registry-bench.sh" measure
  ENGINE="$W/bin/$e" LABEL=$e "$H/registry-bench.sh" teardown
done

# Medians per engine and metric.
awk -F, 'NR > 1 { k = $1 "," $3 "," $6; v[k] = v[k] " " $5 }
  END { for (k in v) print k "," v[k] }' "$RESULTS" | sort | while IFS=, read -r eng metric unit vals; do
  med=$(echo "$vals" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
  printf '%-8s %-10s median %10s %s   (%s)\n' "$eng" "$metric" "$med" "$unit" "$(echo $vals)"
done
