#!/usr/bin/env bash
# A minimal OCI bundle running busybox `true`, from `runc spec`.
set -euo pipefail
b=${1:?bundle dir}
mkdir -p "$b/rootfs/bin"
cp /bin/busybox "$b/rootfs/bin/"
ln -sf busybox "$b/rootfs/bin/true"
cd "$b" && rm -f config.json && runc spec
python3 - <<'PY'
import json
s = json.load(open("config.json"))
s["process"]["terminal"] = False
s["process"]["args"] = ["/bin/true"]
s["root"]["readonly"] = False
json.dump(s, open("config.json", "w"))
PY
