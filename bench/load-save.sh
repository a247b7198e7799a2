#!/usr/bin/env bash
# load/save benchmark: berth vs Docker vs Podman in one run.
#
#   bench/load-save.sh [ROUNDS]      (default 3; run as root)
#
# Builds a ~200 MB two-layer image archive (Debian bookworm minbase from
# scripts/make-test-images.sh + a layer of 20,000 small files), then per
# round and engine times `load -i` and `save -o` and, for berth, records
# peak RSS. All three stores live on one freshly made ext4 loop filesystem
# (no `discard`), so the engines meet the same disk: on this VM's root fs a
# deletion slows the next minutes of metadata work 3-5x, which swamped the
# differences between engines. Docker is a private dockerd (own data root
# and socket, no bridge or iptables); Podman a private store with
# tests/fixtures/podman-containers.conf. Prints a markdown table of medians
# and the raw figures. Engines are interleaved round by round.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
BERTH=${BERTH:-$here/target/release/berth}
# Stores live under /var/lib like Docker's /var/lib/docker: on this VM's ext4,
# extracting under /tmp measured 2-4x slower than under /var/lib for GNU tar too.
work=$(mktemp -d /var/lib/berth-bench-XXXXXX)
mnt=$work/mnt
cleanup() {
  [ -f "$work/dockerd.pid" ] && kill "$(cat "$work/dockerd.pid")" 2>/dev/null && sleep 3
  podman_cmd system reset --force >/dev/null 2>&1 || true
  grep " $mnt" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  umount -l "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

podman_cmd() { CONTAINERS_CONF=$here/tests/fixtures/podman-containers.conf podman --root "$mnt/podman/root" --runroot "$work/podman-run" --storage-driver overlay "$@"; }

truncate -s 8G "$work/fs.img"
mkfs.ext4 -q -F "$work/fs.img"
mkdir -p "$mnt" && mount -o loop "$work/fs.img" "$mnt"
export DOCKER_HOST=unix://$work/docker.sock
dockerd --data-root "$mnt/docker" --exec-root "$work/docker-exec" --pidfile "$work/dockerd.pid" \
  --host "$DOCKER_HOST" --iptables=false --ip6tables=false --bridge=none \
  --containerd-namespace berth-bench >"$work/dockerd.log" 2>&1 &
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.3; done

echo "building the test image archive..." >&2
"$here/scripts/make-test-images.sh" rootfs-debian "$work/debian.tar"
python3 - "$work" <<'PY'
import hashlib, io, json, os, sys, tarfile
work = sys.argv[1]
small = os.path.join(work, "small.tar")
with tarfile.open(small, "w", format=tarfile.GNU_FORMAT) as t:
    for d in range(200):
        ti = tarfile.TarInfo(f"app/data/d{d:03}"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
        for f in range(100):
            data = (f"file {d}/{f} " * 256).encode()[: 2048 + (f * 37) % 2048]
            ti = tarfile.TarInfo(f"app/data/d{d:03}/f{f:03}.txt"); ti.size = len(data); ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
    return h.hexdigest()
layers = [os.path.join(work, "debian.tar"), small]
diffs = [sha(p) for p in layers]
cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-11-23T00:00:00Z",
    "config": {"Cmd": ["bash"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
    "history": [{"created": "2026-11-23T00:00:00Z", "created_by": "debootstrap"}, {"created": "2026-11-23T00:00:00Z", "created_by": "small files"}],
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in diffs]}}).encode()
cid = hashlib.sha256(cfg).hexdigest()
with tarfile.open(os.path.join(work, "image.tar"), "w") as out:
    for p, d in zip(layers, diffs):
        out.add(p, arcname=f"{d}/layer.tar")
    for name, data in [(f"{cid}.json", cfg), ("manifest.json", json.dumps([{"Config": f"{cid}.json", "RepoTags": ["benchimg:latest"], "Layers": [f"{d}/layer.tar" for d in diffs]}]).encode())]:
        ti = tarfile.TarInfo(name); ti.size = len(data); out.addfile(ti, io.BytesIO(data))
print(cid)
PY
size_mb=$(( $(stat -c %s "$work/image.tar") / 1000000 ))
echo "archive: ${size_mb} MB" >&2

now_ms() { date +%s%3N; }
# The disk here discards freed blocks on deletion; let the previous engine's
# writes and removals settle so each timing starts from the same state.
settle() { sync; sleep "${SETTLE:-3}"; }
declare -A res
record() { res["$1"]+="$2 "; }

for r in $(seq "$rounds"); do
  # berth
  root="$mnt/berth-root"; rm -rf "$root"
  settle; t0=$(now_ms); /usr/bin/time -f %M -o "$work/rss" "$BERTH" --root "$root" load -i "$work/image.tar" >/dev/null; t1=$(now_ms)
  record berth_load $((t1 - t0)); record berth_load_rss_kb "$(cat "$work/rss")"
  rm -f "$mnt/out.tar"; settle
  t0=$(now_ms); /usr/bin/time -f %M -o "$work/rss" "$BERTH" --root "$root" save -o "$mnt/out.tar" benchimg >/dev/null; t1=$(now_ms)
  record berth_save $((t1 - t0)); record berth_save_rss_kb "$(cat "$work/rss")"
  rm -rf "$root" "$mnt/out.tar"
  # docker
  if docker version >/dev/null 2>&1; then
    docker rmi -f benchimg >/dev/null 2>&1 || true
    settle; t0=$(now_ms); docker load -i "$work/image.tar" >/dev/null; t1=$(now_ms); record docker_load $((t1 - t0))
    settle; t0=$(now_ms); docker save -o "$mnt/out.tar" benchimg >/dev/null; t1=$(now_ms); record docker_save $((t1 - t0))
    docker rmi -f benchimg >/dev/null; rm -f "$mnt/out.tar"
  fi
  # podman
  if command -v podman >/dev/null; then
    podman_cmd rmi -f benchimg >/dev/null 2>&1 || true
    settle; t0=$(now_ms); podman_cmd load -q -i "$work/image.tar" >/dev/null; t1=$(now_ms); record podman_load $((t1 - t0))
    settle; t0=$(now_ms); podman_cmd save -q -o "$mnt/out.tar" benchimg >/dev/null; t1=$(now_ms); record podman_save $((t1 - t0))
    podman_cmd rmi -f benchimg >/dev/null; rm -f "$mnt/out.tar"
  fi
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "archive ${size_mb} MB, ${rounds} rounds, medians; stores on a fresh ext4 loop fs"
echo
echo "| measure | berth | docker | podman |"
echo "|---|---|---|---|"
for m in load save; do
  echo "| $m (ms) | $(echo ${res[berth_$m]:-} | median) | $(echo ${res[docker_$m]:-} | median) | $(echo ${res[podman_$m]:-} | median) |"
done
for e in berth docker podman; do echo "raw $e load: ${res[${e}_load]:-} save: ${res[${e}_save]:-}"; done >&2
echo "| berth peak RSS load / save (KiB) | $(echo ${res[berth_load_rss_kb]} | median) / $(echo ${res[berth_save_rss_kb]} | median) | | |"
