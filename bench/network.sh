#!/usr/bin/env bash
# Network benchmarks for the networks issue: berth beside Docker 20.10 and
# Podman 4.3 in one run. Everything runs inside a private network namespace
# made here (unshare --net): the engines' bridges, NAT rules and published
# ports exist only there, and all traffic stays inside it.
#
#   bench/network.sh       (needs root; markdown on stdout, progress on stderr)
#
# 1. Port readiness: the shared harness ../shared/bench/port-ready.sh
#    (`run -d --rm -p 127.0.0.1:PORT:8080 busybox httpd`, then curl until the
#    first HTTP 200), engines interleaved by ../shared/bench/interleave.sh.
# 2. TCP throughput, HTTP download of a SIZE_MB file (sparse, so the disk is
#    not measured) from busybox httpd:
#    - "loopback": curl on the host namespace side -> busybox httpd on
#      127.0.0.1, no container (the floor);
#    - "published": curl -> the engine's container through its published
#      port on 127.0.0.1;
#    - "c2c": busybox wget in one container -> busybox httpd in another on
#      the same bridge (by IP); its floor is busybox wget -> busybox httpd on
#      127.0.0.1 without containers ("loopback-wget").
#    MB/s = 10^6 bytes/s, median of ROUNDS.
# 3. DNS: a container-name lookup through berth's embedded DNS (busybox
#    nslookup, 200 in a loop inside the container, mean per lookup; the
#    loop's own cost is the same loop running `busybox true`).
#
# SECTIONS="port throughput dns" picks what runs (default: all).
#
# Knobs: ROUNDS=5 SIZE_MB=1000 R_PORT=10 ENGINES="berth docker podman"
# WORKDIR=/var/lib/berth-bench-net BERTH (default: target/release/berth).
# Needs: docker.io podman runc busybox-static curl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=${SHARED_BENCH:-$repo/../shared/bench}
if [ -z "${BERTH_NET_BENCH_INNER:-}" ]; then
  exec env BERTH_NET_BENCH_INNER=1 unshare --net -- "$0" "$@"
fi
ip link set lo up
ROUNDS=${ROUNDS:-5}; SIZE_MB=${SIZE_MB:-1000}; R_PORT=${R_PORT:-10}
ENGINES=${ENGINES:-berth docker podman}
W=${WORKDIR:-/var/lib/berth-bench-net}
WORKDIR=$W
BERTH=${BERTH:-$repo/target/release/berth}
mkdir -p "$W"
log() { echo "[$(date +%T)] $*" >&2; }

# --- engines, all private ---
DOCKER="/usr/bin/docker -H unix://$W/docker.sock"
. "$here/private-engines.sh"
podman_private "$W/podman-run" 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
sed -i '/^netns = "none"/d' "$W/containers.conf"
PODMAN="podman --tmpdir $W/podman-tmp"
BERTHE="$BERTH --root $W/berth --runroot $W/berth-run"
# One wrapper per engine, so each is a single word for the shared harness.
mkdir -p "$W/bin"
printf '#!/bin/sh\nexec %s "$@"\n' "$BERTHE" > "$W/bin/berth"
printf '#!/bin/sh\nexec %s "$@"\n' "$DOCKER" > "$W/bin/docker"
printf '#!/bin/sh\nexec %s "$@"\n' "$PODMAN" > "$W/bin/podman"
chmod +x "$W/bin/"*
eng_cmd() { echo "$W/bin/$1"; }
cleanup() {
  for e in $ENGINES; do
    c=$(eng_cmd "$e")
    $c ps -aq 2>/dev/null | xargs -r $c rm -f >/dev/null 2>&1 || true
  done
  $BERTHE debug net-sweep --all 2>/dev/null || true
  [ -f "$W/dockerd.pid" ] && kill "$(cat "$W/dockerd.pid")" 2>/dev/null || true
  pkill -f "busybox httpd -f -p 127.0.0.1:1808" 2>/dev/null || true
  sleep 1
  $PODMAN system reset -f >/dev/null 2>&1 || true
  for m in $(grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$W"
  for d in /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker; do rmdir "$d" 2>/dev/null || true; done
}
trap cleanup EXIT
dockerd --data-root "$W/docker" --exec-root "$W/docker-exec" --pidfile "$W/dockerd.pid" \
  -H "unix://$W/docker.sock" >"$W/dockerd.log" 2>&1 &
for _ in $(seq 100); do [ -S "$W/docker.sock" ] && break; sleep 0.1; done

log "images"
"$repo/scripts/make-test-images.sh" rootfs-busybox "$W/busybox.tar" >/dev/null
for e in $ENGINES; do
  $(eng_cmd "$e") import -c 'CMD ["sh"]' "$W/busybox.tar" busybox:local >/dev/null
done

SECTIONS=${SECTIONS:-port throughput dns}
on() { [[ " $SECTIONS " == *" $1 "* ]]; }

# --- 1. port readiness (shared harness) ---
if on port; then
log "port-ready"
export WORKDIR=$W/harness RESULTS=$W/harness/results.csv
mkdir -p "$W/harness"
# A port per engine: Podman's conmon keeps its port reservation a moment
# after `rm -f` returns, which the harness's free-port check cannot see.
n=0
"$shared/interleave.sh" -n "$R_PORT" -w 1 port-ready.sh $(for e in $ENGINES; do n=$((n+1)); echo "$e:ENGINE=$(eng_cmd "$e"),PORT=1808$n"; done) >&2
python3 "$shared/summarize.py" "$RESULTS" | grep -E "^\| port|^\| bench|^\|---" || true
fi

# --- 2. throughput ---
if on throughput; then
big=/w/big
prep="mkdir -p /w && dd if=/dev/zero of=$big bs=1M seek=$SIZE_MB count=0 2>/dev/null"
mbps() { python3 -c "import sys; print(round(${SIZE_MB}*1048576/float(sys.argv[1])/1e6))" "$1"; }
curl_s() { curl -s -o /dev/null -w '%{time_total}' "$1"; }
host_dir=$W/hostw; mkdir -p "$host_dir"
dd if=/dev/zero of="$host_dir/big" bs=1M seek="$SIZE_MB" count=0 2>/dev/null
busybox httpd -f -p 127.0.0.1:18089 -h "$host_dir" &
sleep 0.3
declare -A res
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
for ((i=1; i<=ROUNDS; i++)); do
  log "throughput round $i"
  res[loopback]+="$(mbps "$(curl_s http://127.0.0.1:18089/big)") "
  t=$(busybox time -f %e busybox wget -q -O /dev/null http://127.0.0.1:18089/big 2>&1 | tail -1)
  res[loopback-wget]+="$(mbps "$t") "
  for e in $ENGINES; do
    c=$(eng_cmd "$e")
    case $e in berth) pp=18091;; docker) pp=18092;; *) pp=18093;; esac   # a port per engine (see above)
    $c run -d --name srv -p 127.0.0.1:$pp:80 busybox:local sh -c "$prep && exec httpd -f -p 80 -h /w" >/dev/null
    for _ in $(seq 200); do curl -fs -o /dev/null http://127.0.0.1:$pp/big --range 0-0 && break; sleep 0.05; done
    res[$e-published]+="$(mbps "$(curl_s http://127.0.0.1:$pp/big)") "
    ip=$($c inspect -f '{{.NetworkSettings.IPAddress}}' srv)
    [ -n "$ip" ] || ip=$($c inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' srv)
    t=$($c run --rm busybox:local time -f %e wget -q -O /dev/null "http://$ip/big" 2>&1 | tail -1)
    res[$e-c2c]+="$(mbps "$t") "
    $c rm -f srv >/dev/null
  done
done
echo
echo "| TCP MB/s (median of $ROUNDS, ${SIZE_MB} MiB over HTTP) | value | vs its loopback floor |"
echo "|---|---|---|"
lb=$(echo ${res[loopback]} | tr ' ' '\n' | median)
lbw=$(echo ${res[loopback-wget]} | tr ' ' '\n' | median)
echo "| host loopback, curl | $lb | - |"
echo "| host loopback, busybox wget | $lbw | - |"
for e in $ENGINES; do
  p=$(echo ${res[$e-published]} | tr ' ' '\n' | median)
  c2=$(echo ${res[$e-c2c]} | tr ' ' '\n' | median)
  echo "| $e: host -> published 127.0.0.1 port, curl | $p | $(python3 -c "print(f'{$p/$lb*100:.0f}%')") |"
  echo "| $e: container -> container, busybox wget | $c2 | $(python3 -c "print(f'{$c2/$lbw*100:.0f}%')") |"
done

fi

# --- 3. DNS (berth) ---
if on dns && [[ " $ENGINES " == *" berth "* ]]; then
  log "dns"
  $BERTHE network create dnsnet >/dev/null
  $BERTHE run -d --name target --network dnsnet busybox:local sleep 300 >/dev/null
  loop='i=0; while [ $i -lt 200 ]; do nslookup NAME >/dev/null 2>&1; i=$((i+1)); done'
  per_us() { python3 -c "import sys; print(round(float(sys.argv[1])*1e6/200))" "$1"; }
  base='i=0; while [ $i -lt 200 ]; do busybox true; i=$((i+1)); done'
  name_us=$(per_us "$($BERTHE run --rm --network dnsnet busybox:local time -f %e sh -c "${loop//NAME/target}" 2>&1 | tail -1)")
  host_us=$(per_us "$($BERTHE run --rm --network dnsnet busybox:local time -f %e sh -c "$base" 2>&1 | tail -1)")
  echo
  echo "| berth embedded DNS | µs per lookup |"
  echo "|---|---|"
  echo "| busybox nslookup of a container name (process start included) | $name_us |"
  echo "| the same loop running busybox true (process start: the loop's own cost) | $host_us |"
  $BERTHE rm -f target >/dev/null
  $BERTHE network rm dnsnet >/dev/null
fi
