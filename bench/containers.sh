#!/usr/bin/env bash
# Container benchmarks for issue 4, berth beside Docker and Podman in one run,
# through the shared harness (../shared/bench: run-latency, lifecycle,
# density; engines interleaved round by round), plus the bare OCI runtime
# floor (`crun run`, `runc run`) on the same busybox bundle and a 500-container
# density check for berth.
#
#   bench/containers.sh [ROUNDS]        (default 15; needs root)
#
# Isolation from the machine: Docker runs as a private dockerd (own data
# root, socket, --bridge=none --iptables=false), Podman with its own
# containers.conf (no network, like berth today; runc, as in the anchor run)
# and storage root; berth
# uses its own --root. So Docker and Podman skip network setup here, which
# only makes them faster than in the anchor run (conservative for berth).
# Needs: docker.io podman crun runc hyperfine busybox-static (apt-get install).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
H=${BENCH_HARNESS:-$repo/../shared/bench}
ROUNDS=${1:-15}
export WORKDIR=${WORKDIR:-/var/lib/berth-bench-ctr}
export RESULTS=$WORKDIR/results.csv
mkdir -p "$WORKDIR"
rm -f "$RESULTS"

cargo build --release --locked -p berth --manifest-path "$repo/Cargo.toml" >&2
BERTH=$repo/target/release/berth
export BERTH_ROOT=$WORKDIR/berth-root
# The run root goes when the bench ends (the store stays with the results).
export BERTH_RUNROOT=/run/berth-bench-berth

# Private dockerd.
DSOCK=/run/berth-bench-docker.sock
if ! [ -S $DSOCK ]; then
  dockerd --data-root "$WORKDIR/docker" --exec-root /run/berth-bench-docker --pidfile /run/berth-bench-docker.pid \
    -H unix://$DSOCK --bridge=none --iptables=false --ip-masq=false >"$WORKDIR/dockerd.log" 2>&1 &
  for _ in $(seq 100); do [ -S $DSOCK ] && break; sleep 0.1; done
fi
DOCKER="/usr/bin/docker -H unix://$DSOCK"

# Private podman configuration and storage.
. "$repo/bench/private-engines.sh"
podman_private /run/berth-bench-podman 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'

cleanup() {
  [ -f /run/berth-bench-docker.pid ] && kill "$(cat /run/berth-bench-docker.pid)" 2>/dev/null || true
  "$BERTH" ps -aq 2>/dev/null | xargs -r "$BERTH" rm -f >/dev/null 2>&1 || true
  "$BERTH" debug net-sweep --all 2>/dev/null || true
  sleep 1
  for d in /run/berth-bench-docker /run/berth-bench-podman /run/berth-bench-berth; do
    grep -q " $d" /proc/self/mountinfo || rm -rf "$d" "$d.pid" "$d.sock"
  done
}
trap cleanup EXIT

"$H/make-rootfs.sh" busybox >&2 || true
for e in "$DOCKER" podman "$BERTH"; do ENGINE="$e" LABEL=x "$H/import-images.sh" >&2 || true; done

IL=$H/interleave.sh
V_DOCKER="docker:ENGINE=$DOCKER"
V_PODMAN="podman:ENGINE=podman"
V_BERTH="berth:ENGINE=$BERTH"
"$IL" -n "$ROUNDS" -w 2 run-latency.sh "$V_DOCKER" "$V_PODMAN" "$V_BERTH"
"$IL" -n "$(( (ROUNDS + 1) / 2 ))" -w 1 lifecycle.sh "$V_DOCKER" "podman-t0:ENGINE=podman,RMF_ARGS=--time=0" "$V_BERTH"
"$IL" -n 2 -w 0 density.sh "$V_DOCKER" "podman:ENGINE=podman,RMF_ARGS=--time=0" "$V_BERTH,MONITOR_RE=^berth-monitor$"

# The bare runtime floor on the same rootfs: crun cannot run in the host
# mount namespace of a cgroup v1 + v2 "unified" host, so (as the anchor run
# did) it is measured in a private mount namespace without the unified mount.
FLOOR=$WORKDIR/floor
rm -rf "$FLOOR"; mkdir -p "$FLOOR/rootfs"
tar -C "$FLOOR/rootfs" -xf "$WORKDIR/rootfs/busybox.tar"
for rt in crun runc; do
  command -v $rt >/dev/null || continue
  mkdir -p "$FLOOR/bundle-$rt"
  (cd "$FLOOR/bundle-$rt" && $rt spec)
  python3 - "$FLOOR/bundle-$rt/config.json" "$FLOOR/rootfs" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False; c["process"]["args"] = ["/bin/true"]
c["root"]["path"] = sys.argv[2]
json.dump(c, open(p, "w"))
PY
done
unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; \
  hyperfine -N -w 5 -r 50 --export-json $WORKDIR/floor.json \
    'crun run -b $FLOOR/bundle-crun floorc' 'runc run -b $FLOOR/bundle-runc floorr' \
    '$BERTH run --rm busybox:local true'" >&2 || true
python3 - "$WORKDIR/floor.json" <<'PY' || true
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"floor  {r['command'][:60]:<60} median {r['median']*1000:7.2f} ms  mean {r['mean']*1000:7.2f} ± {r['stddev']*1000:.2f}")
PY

# 500 idle containers: start, measure, remove.
N=${DENSITY_500:-500}
used() { awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t-a}' /proc/meminfo; }
u0=$(used); t0=$(date +%s%N)
for i in $(seq "$N"); do "$BERTH" run -d --name "d500-$i" busybox:local sleep 100000 >/dev/null; done
t1=$(date +%s%N); sleep 5; u1=$(used)
mons=$(pgrep -xc berth-monitor || true)
ps_ms=$( { s=$(date +%s%N); "$BERTH" ps -q | wc -l >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); } )
s=$(date +%s%N); "$BERTH" rm -f $("$BERTH" ps -aq) >/dev/null; e=$(date +%s%N)
echo "density500 started $N in $(( (t1 - t0) / 1000000 )) ms ($(( (t1 - t0) / 1000000 / N )) ms each), monitors $mons, memory +$(( (u1 - u0) / N )) kB per container, ps with $N: $ps_ms ms, rm -f all: $(( (e - s) / 1000000 )) ms"

python3 "$H/summarize.py" "$RESULTS"
