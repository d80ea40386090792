#!/usr/bin/env bash
# `korthbox plan`: wall time and peak memory (release build), median of RUNS runs.
#   bench/plan.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-31}
cargo build --release -q
bin=target/release/korthbox
measure() {
  local label=$1; shift
  python3 - "$runs" "$bin" "$label" "$@" <<'PY'
import statistics, subprocess, sys, resource, time
runs, binary, label, args = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
walls, rss = [], []
for _ in range(runs):
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    walls.append(time.perf_counter() - t)
    rss.append(int(p.stderr.strip().splitlines()[-1]))
print(f"{label:<58} median {statistics.median(walls)*1000:7.1f} ms   peak RSS {max(rss)/1024:5.1f} MiB")
PY
}
measure "plan --only cluster, driver and provider given" plan --only cluster --driver kind --provider docker
measure "plan (cluster + manifests), driver and provider given" plan --driver kind --provider docker
measure "plan --only manifests, minio + s3" plan --only manifests --driver kind --provider docker --storage minio --orthanc-storage s3
measure "plan --only images" plan --only images --driver kind --provider docker
measure "plan, host probed (engines, tools)" plan
