#!/usr/bin/env bash
# Wall time of `korthbox doctor --json` against `docker info` on the same engine.
#
#   bench/doctor_vs_docker_info.sh [RUNS] [ENGINE_SOCKET]
#
# Two comparisons, both printed as medians and the median ratio doctor/docker-info:
#   same-engine  doctor sees only ENGINE_SOCKET (DOCKER_HOST, and an empty host root so no
#                other well-known socket is probed): the like-for-like comparison;
#   whole-host   doctor as a user runs it: every engine on this machine (here Docker Engine
#                and the Podman service), the engine it uses asked everything, the others
#                pinged; and every tool.
# Targets (issue 13): same-engine ratio at most 0.5, whole-host at most 1.0.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-21}
socket=${2:-/var/run/docker.sock}
cargo build --release --quiet
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
# Timed as installed (`cargo install` copies the binary): a binary the linker has just written
# sits in the page cache in small pieces and starts up to 1 ms slower until it is read afresh.
mkdir "$empty/bin"
cp target/release/korthbox "$empty/bin/korthbox"
bin=$empty/bin/korthbox

python3 - "$runs" "$socket" "$bin" "$empty" <<'PY'
import os, statistics, subprocess, sys, time
runs, socket, binary, empty = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
host = f"unix://{socket}"
def clock(cmd, env):
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start
base = dict(os.environ)
cases = {
    "docker info": (["docker", "-H", host, "info"], base),
    "doctor same-engine": ([binary, "doctor", "--json"], {**base, "DOCKER_HOST": host, "KORTHBOX_HOST_ROOT": empty}),
    "doctor whole-host": ([binary, "doctor", "--json"], base),
}
times = {name: [] for name in cases}
for name, (cmd, env) in cases.items():  # warm-up
    clock(cmd, env)
for _ in range(runs):  # interleaved so drift hits every case alike
    for name, (cmd, env) in cases.items():
        times[name].append(clock(cmd, env))
med = {name: statistics.median(t) for name, t in times.items()}
for name, m in med.items():
    print(f"{name:<20} median {m*1000:7.1f} ms  (min {min(times[name])*1000:.1f}, max {max(times[name])*1000:.1f}, n={runs})")
ratio = statistics.median(d / i for d, i in zip(times["doctor same-engine"], times["docker info"]))
whole = statistics.median(d / i for d, i in zip(times["doctor whole-host"], times["docker info"]))
print(f"median ratio doctor/docker-info: same-engine {ratio:.2f} (target <= 0.50), whole-host {whole:.2f} (target <= 1.00)")
PY
