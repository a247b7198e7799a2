# Sourced by the bench scripts: a private Podman configuration and store
# under $WORKDIR (nothing of the machine's own Podman setup is touched).
#   podman_private RUNROOT [extra [containers] lines...]
podman_private() {
  local runroot=$1; shift
  {
    echo "[containers]"
    for l in "$@"; do echo "$l"; done
    echo 'netns = "none"'
    echo "[engine]"
    echo 'runtime = "runc"'
    echo 'cgroup_manager = "cgroupfs"'
    echo 'events_logger = "file"'
  } > "$WORKDIR/containers.conf"
  cat > "$WORKDIR/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORKDIR/podman/root"
runroot = "$runroot"
CONF
  export CONTAINERS_CONF=$WORKDIR/containers.conf CONTAINERS_STORAGE_CONF=$WORKDIR/storage.conf
}
