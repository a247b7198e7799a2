#!/usr/bin/env bash
# Build benchmark for issue 5: the shared harness's build-bench.sh (its
# multi-stage Dockerfile, ~200 MB / 20,000-file context) for berth beside
# Docker 20.10 with BuildKit, Docker's classic builder and Podman, engines
# interleaved round by round: cold (--no-cache), rebuild right after, fully
# cached, after `touch` of one file, after a one-file edit, image size.
#
#   bench/build.sh [ROUNDS]        (default 3; needs root)
#
# Isolation from the machine: Docker runs as a private dockerd inside its
# own network namespace (BuildKit's RUN needs a bridge; the bridge and its
# rules live and die in that namespace, nothing on the host changes),
# Podman with its own containers.conf and storage root, berth with its own
# --root. Base images are imported offline (make-rootfs.sh, import-images.sh).
# Needs: docker.io podman runc busybox-static debootstrap (or a cached
# debian rootfs in /var/cache/berth-test).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
H=${BENCH_HARNESS:-$repo/../shared/bench}
ROUNDS=${1:-3}
export WORKDIR=${WORKDIR:-/var/lib/berth-bench-build}
export RESULTS=$WORKDIR/results.csv
mkdir -p "$WORKDIR/rootfs"
rm -f "$RESULTS"

cargo build --release --locked -p berth --manifest-path "$repo/Cargo.toml" >&2
BERTH=$repo/target/release/berth
export BERTH_ROOT=$WORKDIR/berth-root
# The run root goes when the bench ends (the store stays with the results).
export BERTH_RUNROOT=/run/berth-bench-bberth

# The debian rootfs: reuse the test images' cache when there is one.
if [ ! -s "$WORKDIR/rootfs/debian-bookworm.tar" ] && [ -s /var/cache/berth-test/debian-bookworm-minbase.tar ]; then
  cp /var/cache/berth-test/debian-bookworm-minbase.tar "$WORKDIR/rootfs/debian-bookworm.tar"
fi
"$H/make-rootfs.sh" all >&2

DSOCK=/run/berth-bench-bdocker.sock
if ! [ -S $DSOCK ]; then
  unshare --net sh -c "ip link set lo up; exec dockerd --data-root '$WORKDIR/docker' \
    --exec-root /run/berth-bench-bdocker --pidfile /run/berth-bench-bdocker.pid \
    -H unix://$DSOCK --iptables=false --ip-masq=false" >"$WORKDIR/dockerd.log" 2>&1 &
  for _ in $(seq 100); do [ -S $DSOCK ] && break; sleep 0.1; done
fi
DOCKER="/usr/bin/docker -H unix://$DSOCK"

. "$repo/bench/private-engines.sh"
podman_private /run/berth-bench-bpodman

cleanup() {
  [ -f /run/berth-bench-bdocker.pid ] && kill "$(cat /run/berth-bench-bdocker.pid)" 2>/dev/null || true
  "$BERTH" ps -aq 2>/dev/null | xargs -r "$BERTH" rm -f >/dev/null 2>&1 || true
  "$BERTH" debug net-sweep --all 2>/dev/null || true
  sleep 1
  for d in /run/berth-bench-bdocker /run/berth-bench-bpodman /run/berth-bench-bberth; do
    grep -q " $d" /proc/self/mountinfo || rm -rf "$d" "$d.pid" "$d.sock"
  done
}
trap cleanup EXIT

for e in "$DOCKER" podman "$BERTH"; do ENGINE="$e" LABEL=x "$H/import-images.sh" >&2; done

"$H/interleave.sh" -n "$ROUNDS" -w 0 build-bench.sh \
  "docker-bk:ENGINE=$DOCKER,DOCKER_BUILDKIT=1" \
  "docker-classic:ENGINE=$DOCKER,DOCKER_BUILDKIT=0" \
  "podman:ENGINE=podman" \
  "berth:ENGINE=$BERTH"
python3 "$H/summarize.py" --bench build --base docker-bk "$RESULTS"

# The fully cached rebuild is short enough for hyperfine.
( cd "$WORKDIR/build-ctx" && hyperfine -N -w 3 -r 30 \
    "$BERTH build -q -t bench-hf:berth ." \
    "env DOCKER_BUILDKIT=1 $DOCKER build -q -t bench-hf:docker ." ) >&2 || true
