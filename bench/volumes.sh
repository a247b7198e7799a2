#!/usr/bin/env bash
# Volume benchmarks for the volumes issue: berth beside Docker 20.10 and
# Podman 4.3 in one run, engines interleaved round by round.
#
#   bench/volumes.sh        (needs root; prints markdown tables on stdout,
#                            progress on stderr)
#
# 1. Throughput on a named volume: in a busybox container with
#    `-v benchvol:/data`, `dd if=/dev/zero of=/data/f bs=1M count=SIZE_MB
#    conv=fsync`, then (caches dropped) `dd if=/data/f of=/dev/null bs=1M`;
#    the same commands with the same busybox binary on the host, in a
#    directory on the same filesystem as the engines' stores ("host"). dd is
#    timed inside the container (busybox `ts`, microseconds), so container
#    start-up is not counted. MB/s are 10^6 bytes per second; the overhead is
#    (host - engine) / host of each round's adjacent pair, median over rounds
#    (positive = slower than the host).
# 2. `system df` and `system df -v` with VOLS volumes and CTRS created (never
#    started) containers, the first CTRS/2 of them each using one of the
#    volumes (so those show as active); timed with hyperfine (-N) when
#    installed, a loop otherwise. The set-up loops are timed too (mean ms per
#    `volume create` and per `create`).
#
# Knobs (environment): SIZE_MB=512 ROUNDS=7 (throughput rounds), VOLS=1000
# CTRS=500, DF_ROUNDS=5 DF_RUNS=3 (system df runs per engine and round),
# SETTLE=2 (seconds to let writeback and discards settle before each dd),
# ENGINES="berth docker podman" (any subset), WORKDIR=/var/lib/berth-bench-vol
# (all stores and the host directory; must be new or made by this script),
# BERTH (binary; default: release build, built here).
#
# Isolation from the machine: Docker runs as a private dockerd (own data root,
# exec root and socket, --bridge=none --iptables=false), Podman with its own
# containers.conf, storage root, run root and --tmpdir (bench/private-engines.sh),
# berth with its own root and run root; every container uses --network none.
# Everything is removed on exit (trap): containers, volumes, images, the
# dockerd, the directories, and the empty cgroup dirs the engines made.
# Drops the page cache (echo 3 > /proc/sys/vm/drop_caches) before every dd.
# Needs: docker.io podman runc busybox-static (hyperfine optional). With the
# defaults a run takes about 9 minutes on the 2-core VM (set-up loops: ~4).
# On this VM single dd figures vary by +-30% from round to round (a shared
# virtual disk); compare medians, and expect the bind-mounted volume to cost
# nothing measurable.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MB=${SIZE_MB:-512}
ROUNDS=${ROUNDS:-7}
VOLS=${VOLS:-1000}
CTRS=${CTRS:-500}
DF_ROUNDS=${DF_ROUNDS:-5}
DF_RUNS=${DF_RUNS:-3}
SETTLE=${SETTLE:-2}
read -r -a ENGS <<< "${ENGINES:-berth docker podman}"
export WORKDIR=${WORKDIR:-/var/lib/berth-bench-vol}
RUN=/run/berth-bench-vol
MARK=$WORKDIR/.berth-bench-volumes
IMAGE=busybox:latest

log() { echo "[$(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }
has() { local x; for x in "${ENGS[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
now_ns() { date +%s%N; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

[ "$(id -u)" = 0 ] || die "needs root"
[ -x /bin/busybox ] || die "needs busybox-static (/bin/busybox)"
if [ -e "$WORKDIR" ] && [ ! -e "$MARK" ] && [ -n "$(ls -A "$WORKDIR")" ]; then
  die "$WORKDIR exists and was not made by this script"
fi

if [ -z "${BERTH:-}" ]; then
  cargo build --release --locked -p berth --manifest-path "$repo/Cargo.toml" >&2
  BERTH=${CARGO_TARGET_DIR:-$repo/target}/release/berth
fi
export BERTH_ROOT=$WORKDIR/berth-root BERTH_RUNROOT=$RUN/berth
DSOCK=$RUN/docker.sock
DOCKER=(/usr/bin/docker -H "unix://$DSOCK")
PODMAN=(podman --tmpdir "$RUN/podman-tmp")
. "$repo/bench/private-engines.sh"

eng() {
  local e=$1; shift
  case $e in
    berth) "$BERTH" "$@" ;;
    docker) "${DOCKER[@]}" "$@" ;;
    podman) "${PODMAN[@]}" "$@" ;;
  esac
}
# The engine's command line as one string (for hyperfine -N; no spaces in paths).
eng_cmd() { case $1 in berth) echo "$BERTH" ;; docker) echo "${DOCKER[*]}" ;; podman) echo "${PODMAN[*]}" ;; esac; }

# Cgroup dirs the engines may create at the top of each hierarchy: those not
# there now and empty at the end are removed.
CG_NAMES=(berth docker libpod_parent)
cg_before=" "
for d in /sys/fs/cgroup/*/; do
  for n in "${CG_NAMES[@]}"; do [ -d "$d$n" ] && cg_before+="$d$n "; done
done

cleanup() {
  local rc=$? e pid
  trap - EXIT INT TERM
  log "cleaning up"
  for e in "${ENGS[@]}"; do
    case $e in
      docker) [ -S "$DSOCK" ] || continue ;;
      berth) [ -e "$BERTH_ROOT" ] || continue ;;
      podman) [ -e "$WORKDIR/podman" ] || continue ;;
    esac
    if [ "$e" = podman ]; then
      "${PODMAN[@]}" system reset --force >/dev/null 2>&1 || log "podman system reset failed"
      continue
    fi
    mapfile -t ids < <(eng "$e" ps -aq 2>/dev/null)
    [ ${#ids[@]} -eq 0 ] || printf '%s\n' "${ids[@]}" | while mapfile -t -n 100 chunk && [ ${#chunk[@]} -gt 0 ]; do
      eng "$e" rm -f "${chunk[@]}" >/dev/null 2>&1 || log "$e: rm -f failed"
    done
    mapfile -t vols < <(eng "$e" volume ls -q 2>/dev/null)
    [ ${#vols[@]} -eq 0 ] || printf '%s\n' "${vols[@]}" | while mapfile -t -n 100 chunk && [ ${#chunk[@]} -gt 0 ]; do
      eng "$e" volume rm -f "${chunk[@]}" >/dev/null 2>&1 || log "$e: volume rm failed"
    done
    eng "$e" rmi -f "$IMAGE" >/dev/null 2>&1 || true
  done
  if [ -f "$RUN/docker.pid" ]; then
    pid=$(cat "$RUN/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever is still mounted under our directories (nothing, normally).
  grep -E " ($WORKDIR|$RUN)[/ ]" /proc/self/mountinfo | awk '{print $5}' | sort -r |
    xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$WORKDIR" "$RUN"
  for d in /sys/fs/cgroup/*/; do
    for n in "${CG_NAMES[@]}"; do
      case $cg_before in *" $d$n "*) continue ;; esac
      [ -d "$d$n" ] && rmdir "$d$n" 2>/dev/null || true
    done
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORKDIR" "$RUN"
touch "$MARK"

# --- engines and the image -------------------------------------------------
log "berth: $("$BERTH" --version); making $IMAGE"
BERTH="$BERTH" "$repo/scripts/make-test-images.sh" busybox "$IMAGE" >/dev/null
"$BERTH" save -o "$WORKDIR/busybox.tar" "$IMAGE"
if has docker; then
  dockerd --data-root "$WORKDIR/docker" --exec-root "$RUN/docker-exec" --pidfile "$RUN/docker.pid" \
    -H "unix://$DSOCK" --bridge=none --iptables=false --ip-masq=false >"$WORKDIR/dockerd.log" 2>&1 &
  for _ in $(seq 200); do "${DOCKER[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
  "${DOCKER[@]}" version >/dev/null 2>&1 || die "private dockerd did not start (see $WORKDIR/dockerd.log)"
  "${DOCKER[@]}" load -q -i "$WORKDIR/busybox.tar" >/dev/null
  log "docker: $("${DOCKER[@]}" version --format '{{.Server.Version}}')"
fi
if has podman; then
  # The same ulimits as bench/containers.sh (podman 4.3's default nofile is above this VM's hard limit).
  podman_private "$RUN/podman-run" 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
  "${PODMAN[@]}" load -q -i "$WORKDIR/busybox.tar" >/dev/null
  log "podman: $("${PODMAN[@]}" version --format '{{.Client.Version}}')"
fi

declare -A res

# --- 1. throughput ---------------------------------------------------------
# One dd, timed by busybox ts in the same shell; prints MB/s (10^6 B/s).
DD_WRITE='{ echo S; dd if=/dev/zero of=DIR/f bs=1M count='"$SIZE_MB"' conv=fsync 2>/dev/null || echo FAIL; echo E; } | ts %.s'
DD_READ='{ echo S; dd if=DIR/f of=/dev/null bs=1M 2>/dev/null || echo FAIL; echo E; } | ts %.s; rm -f DIR/f'
mbps() {
  awk -v mb="$SIZE_MB" '$2=="S"{s=$1} $2=="E"{e=$1} $2=="FAIL"{f=1}
    END {if (f || s=="" || e=="" || e<=s) exit 1; printf "%.1f\n", mb*1.048576/(e-s)}'
}
# settle + drop caches, then one dd as variant $1 ("host" or an engine).
dd_as() {
  local v=$1 script=$2 out
  sync; sleep "$SETTLE"; echo 3 > /proc/sys/vm/drop_caches
  if [ "$v" = host ]; then
    out=$(/bin/busybox sh -c "${script//DIR/$WORKDIR/host}")
  else
    out=$(eng "$v" run --rm --network none -v benchvol:/data "$IMAGE" sh -c "${script//DIR//data}")
  fi
  echo "$out" | mbps || die "$v: dd failed: $out"
}

VARIANTS=(host "${ENGS[@]}")
mkdir -p "$WORKDIR/host"
for e in "${ENGS[@]}"; do eng "$e" volume create benchvol >/dev/null; done
log "throughput: $ROUNDS rounds of ${SIZE_MB} MB write + read for ${VARIANTS[*]}"
for r in $(seq "$ROUNDS"); do
  order=("${VARIANTS[@]}")
  if [ $((r % 2)) -eq 0 ]; then
    order=(); for ((k=${#VARIANTS[@]}-1; k>=0; k--)); do order+=("${VARIANTS[k]}"); done
  fi
  line=""
  for v in "${order[@]}"; do
    w=$(dd_as "$v" "$DD_WRITE"); rd=$(dd_as "$v" "$DD_READ")
    res[${v}_write]+="$w "; res[${v}_read]+="$rd "
    line+=" $v $w/$rd"
  done
  # Per-round overhead against the host figure of the same round.
  for e in "${ENGS[@]}"; do
    for m in write read; do
      h=$(echo "${res[host_$m]}" | awk '{print $NF}'); x=$(echo "${res[${e}_$m]}" | awk '{print $NF}')
      res[${e}_${m}_ovh]+="$(awk -v h="$h" -v x="$x" 'BEGIN{printf "%.1f", (h-x)/h*100}') "
    done
  done
  log "round $r (MB/s write/read):$line"
done
for e in "${ENGS[@]}"; do eng "$e" volume rm benchvol >/dev/null; done

# --- 2. system df with many volumes and containers -------------------------
for e in "${ENGS[@]}"; do
  log "$e: creating $VOLS volumes"
  t0=$(now_ns)
  for ((i=1; i<=VOLS; i++)); do
    eng "$e" volume create "bv-$i" >/dev/null
    if [ $((i % 200)) -eq 0 ]; then log "$e: $i volumes"; fi
  done
  t1=$(now_ns)
  if [ "$VOLS" -gt 0 ]; then res[${e}_volcreate]=$(awk -v d=$((t1 - t0)) -v n="$VOLS" 'BEGIN{printf "%.1f", d/n/1e6}'); fi
  log "$e: creating $CTRS containers ($((CTRS / 2)) with a volume)"
  t0=$(now_ns)
  for ((i=1; i<=CTRS; i++)); do
    vol=()
    if [ "$i" -le $((CTRS / 2)) ] && [ "$VOLS" -gt 0 ]; then vol=(-v "bv-$(( (i - 1) % VOLS + 1 )):/data"); fi
    eng "$e" create --network none --name "bc-$i" "${vol[@]}" "$IMAGE" true >/dev/null
    if [ $((i % 100)) -eq 0 ]; then log "$e: $i containers"; fi
  done
  t1=$(now_ns)
  if [ "$CTRS" -gt 0 ]; then res[${e}_create]=$(awk -v d=$((t1 - t0)) -v n="$CTRS" 'BEGIN{printf "%.1f", d/n/1e6}'); fi
  log "$e: system df says:"; eng "$e" system df | tee "$WORKDIR/df-$e.txt" >&2
done

TIMES=$WORKDIR/df-times.txt
: > "$TIMES"
log "system df: $DF_ROUNDS rounds x $DF_RUNS runs per engine ($(command -v hyperfine >/dev/null && echo hyperfine || echo loop))"
for r in $(seq "$DF_ROUNDS"); do
  order=("${ENGS[@]}")
  if [ $((r % 2)) -eq 0 ]; then
    order=(); for ((k=${#ENGS[@]}-1; k>=0; k--)); do order+=("${ENGS[k]}"); done
  fi
  for e in "${order[@]}"; do
    if command -v hyperfine >/dev/null; then
      c=$(eng_cmd "$e")
      hyperfine -N -w 1 -r "$DF_RUNS" --export-json "$WORKDIR/hf.json" \
        "$c system df" "$c system df -v" >>"$WORKDIR/hyperfine.log" 2>&1 || die "$e: hyperfine failed (see $WORKDIR/hyperfine.log)"
      python3 - "$WORKDIR/hf.json" "$e" >>"$TIMES" <<'PY'
import json, sys
for res, m in zip(json.load(open(sys.argv[1]))["results"], ["df", "dfv"]):
    for t in res["times"]:
        print(sys.argv[2], m, f"{t * 1000:.1f}")
PY
    else
      eng "$e" system df >/dev/null; eng "$e" system df -v >/dev/null
      for ((k=0; k<DF_RUNS; k++)); do
        for m in df dfv; do
          a=(system df); [ $m = dfv ] && a+=(-v)
          t0=$(now_ns); eng "$e" "${a[@]}" >/dev/null; t1=$(now_ns)
          echo "$e $m $(( (t1 - t0) / 100000 ))" | awk '{printf "%s %s %.1f\n", $1, $2, $3/10}' >>"$TIMES"
        done
      done
    fi
  done
  log "df round $r done"
done
for e in "${ENGS[@]}"; do
  for m in df dfv; do res[${e}_$m]=$(awk -v e="$e" -v m="$m" '$1==e && $2==m {print $3}' "$TIMES" | tr '\n' ' '); done
done

# --- report ----------------------------------------------------------------
row() { # label, then one cell per variant
  local l=$1; shift; printf '| %s |' "$l"; printf ' %s |' "$@"; echo
}
med() { echo "${res[$1]:-}" | median | awk -v f="${2:-%.1f}" '$1=="-"{print; next} {printf f "\n", $1}'; }
pct() { local m; m=$(med "$1"); [ "$m" = - ] && echo - || printf '%+.1f%%' "$m"; }
echo
echo "Volume throughput: ${SIZE_MB} MB, dd bs=1M (write with conv=fsync), caches dropped before each dd;"
echo "$ROUNDS rounds, medians, MB/s = 10^6 B/s; overhead = (host - engine) / host per round, median."
echo
row measure "${VARIANTS[@]}"
row "---" $(printf -- '--- %.0s' "${VARIANTS[@]}")
cells=(); for v in "${VARIANTS[@]}"; do cells+=("$(med "${v}_write" %.0f)"); done; row "write MB/s" "${cells[@]}"
cells=(); for v in "${VARIANTS[@]}"; do cells+=("$(med "${v}_read" %.0f)"); done; row "read MB/s" "${cells[@]}"
cells=(-); for e in "${ENGS[@]}"; do cells+=("$(pct "${e}_write_ovh")"); done; row "write overhead vs host" "${cells[@]}"
cells=(-); for e in "${ENGS[@]}"; do cells+=("$(pct "${e}_read_ovh")"); done; row "read overhead vs host" "${cells[@]}"
echo
echo "system df with $VOLS volumes and $CTRS created containers ($((CTRS / 2)) using a volume);"
echo "$DF_ROUNDS rounds x $DF_RUNS runs per engine, medians in ms; set-up: mean ms per command."
echo
row measure "${ENGS[@]}"
row "---" $(printf -- '--- %.0s' "${ENGS[@]}")
cells=(); for e in "${ENGS[@]}"; do cells+=("$(med "${e}_df")"); done; row "system df (ms)" "${cells[@]}"
cells=(); for e in "${ENGS[@]}"; do cells+=("$(med "${e}_dfv")"); done; row "system df -v (ms)" "${cells[@]}"
cells=(); for e in "${ENGS[@]}"; do cells+=("${res[${e}_volcreate]:--}"); done; row "volume create (ms each)" "${cells[@]}"
cells=(); for e in "${ENGS[@]}"; do cells+=("${res[${e}_create]:--}"); done; row "create (ms each)" "${cells[@]}"
echo
for e in "${ENGS[@]}"; do
  echo "$e system df, Local Volumes row (TOTAL ACTIVE SIZE RECLAIMABLE):" \
    "$(grep '^Local Volumes' "$WORKDIR/df-$e.txt" | sed 's/^Local Volumes *//; s/  */ /g' || echo "(none)")"
done
for v in "${VARIANTS[@]}"; do echo "raw $v write: ${res[${v}_write]} read: ${res[${v}_read]}"; done >&2
