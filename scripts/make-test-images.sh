#!/usr/bin/env bash
# Make berth's offline test images through `berth import`.
#
#   scripts/make-test-images.sh busybox [REF]   busybox:latest from Debian's busybox-static
#   scripts/make-test-images.sh debian  [REF]   debian:bookworm from debootstrap --variant=minbase
#   scripts/make-test-images.sh rootfs-busybox FILE   only write the busybox rootfs tarball
#   scripts/make-test-images.sh rootfs-debian  FILE   only write (or reuse) the debian rootfs tarball
#
# BERTH names the berth command (default: berth on PATH), e.g.
#   BERTH="target/release/berth --root /tmp/r" scripts/make-test-images.sh busybox
# The debootstrap rootfs is cached in $BERTH_TEST_CACHE (default /var/cache/berth-test),
# so only the first run needs Debian's package mirror.
set -euo pipefail
BERTH=${BERTH:-berth}
cache=${BERTH_TEST_CACHE:-/var/cache/berth-test}

busybox_rootfs() {
  local out=$1 bb dir
  bb=$(command -v busybox || true)
  [ -x /bin/busybox ] && bb=/bin/busybox
  if [ -z "$bb" ] || ! file_is_static "$bb"; then
    echo "busybox-static is needed: apt-get install -y busybox-static" >&2; exit 1
  fi
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  mkdir -p "$dir"/{bin,etc,root,tmp,var/tmp,proc,sys,dev,home,usr/bin,usr/sbin,sbin}
  chmod 1777 "$dir/tmp" "$dir/var/tmp"
  cp "$bb" "$dir/bin/busybox"
  for app in $("$bb" --list); do
    [ "$app" = busybox ] || ln -s busybox "$dir/bin/$app"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
  tar --numeric-owner --sort=name --mtime=@0 -C "$dir" -cf "$out" .
}

file_is_static() { ! ldd "$1" >/dev/null 2>&1; }

debian_rootfs() {
  local out=$1 cached="$cache/debian-bookworm-minbase.tar"
  if [ ! -s "$cached" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap is needed: apt-get install -y debootstrap" >&2; exit 1; }
    mkdir -p "$cache"
    local dir; dir=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$dir" >&2
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar --numeric-owner --xattrs -C "$dir" -cf "$cached.tmp" . && mv "$cached.tmp" "$cached"
    rm -rf "$dir"
  fi
  [ "$out" = "$cached" ] || cp "$cached" "$out"
}

case "${1:-}" in
  busybox)
    t=$(mktemp); busybox_rootfs "$t"
    $BERTH import -c 'CMD ["sh"]' "$t" "${2:-busybox:latest}"; rm -f "$t" ;;
  debian)
    t=$(mktemp); debian_rootfs "$t"
    $BERTH import -c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$t" "${2:-debian:bookworm}"; rm -f "$t" ;;
  rootfs-busybox) busybox_rootfs "$2" ;;
  rootfs-debian) debian_rootfs "$2" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
