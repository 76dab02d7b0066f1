#!/usr/bin/env bash
# Sesame's memory holding N Ingresses (+ N Services, N EndpointSlices with three endpoints
# each, the serve bench's fixtures) with one delta Envoy connected: the BENCHMARKS.md "stop 25"
# heap table. Prints VmHWM/VmRSS once Sesame has built, and again once Envoy routes the last
# host; with HEAPTRACK=1 it runs Sesame under heaptrack and prints the heap peak too.
#
# Usage: scripts/memory-10k.sh [SESAME_BINARY] [N]
#   defaults: target/release/sesame, 10000. Envoy: $SESAME_ENVOY or .venv/bin/envoy
#   (scripts/setup-envoy.sh). Run it with MALLOC_ARENA_MAX=1 for the shipped Deployment's
#   allocator setting.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/target/release/sesame}"
n="${2:-10000}"
envoy="${SESAME_ENVOY:-$root/.venv/bin/envoy}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/manifests"

# The fixtures, as JSON Lists of 5000 Ingresses each (as the serve bench writes them).
python3 - "$n" "$work/manifests" <<'PY'
import json, sys
n, out, per = int(sys.argv[1]), sys.argv[2], 5000
def objects(i):
    meta = {"name": f"app-{i}", "namespace": "bench"}
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
         "spec": {"rules": [{"host": f"app-{i}.bench.example.com", "http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": f"app-{i}", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"app-{i}-1", "namespace": "bench",
                      "labels": {"kubernetes.io/service-name": f"app-{i}"}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": [f"127.0.{(i // 250) % 250}.{k + i % 250}"],
                        "conditions": {"ready": True}} for k in (1, 2, 3)],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
    ]
for first in range(0, n, per):
    items = [o for i in range(first, min(n, first + per)) for o in objects(i)]
    with open(f"{out}/list-{first // per}.json", "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
PY

ports=(--xds-address 127.0.0.1 --xds-port 28501 --http-port 28502 --debug-http-port 28503
    --stats-address 127.0.0.1 --stats-port 28504 --envoy-service-http-port 28580
    --envoy-service-https-port 28543)
run=("$bin")
if [ "${HEAPTRACK:-0}" = 1 ]; then
    run=(heaptrack -o "$work/heap" "$bin")
fi
"${run[@]}" serve --insecure --manifests "$work/manifests" "${ports[@]}" >"$work/sesame.log" 2>&1 &
for _ in $(seq 1 600); do
    grep -q "serving xDS" "$work/sesame.log" && break
    sleep 0.1
done
pid="$(pgrep -f -n "^$bin serve")"
memory() { grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr -s ' \t\n' ' '; echo; }
sleep 1
echo "built: $(memory)"

"$bin" bootstrap "$work/envoy.json" --xds-address 127.0.0.1 --xds-port 28501 \
    --admin-address 127.0.0.1 --admin-port 28505 --xds-mode delta
"$envoy" -c "$work/envoy.json" --service-cluster sesame --service-node memory \
    --disable-hot-restart --log-level warn --concurrency 1 >"$work/envoy.log" 2>&1 &
last="app-$((n - 1)).bench.example.com"
for _ in $(seq 1 600); do
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $last" 127.0.0.1:28580/ || true)"
    # One stat only: with every stat, grep -q could close the pipe before curl had written all
    # of them, and under pipefail the check then failed every time.
    curl -s '127.0.0.1:28505/stats?filter=^cluster_manager.warming_clusters$' |
        grep -q 'cluster_manager.warming_clusters: 0' &&
        [ "$code" != 404 ] && [ "$code" != 000 ] && break
    sleep 0.2
done
sleep 2
echo "Envoy routing every host: $(memory)"
kill -INT "$pid"
wait "$pid" 2>/dev/null || true
if [ "${HEAPTRACK:-0}" = 1 ]; then
    sleep 2
    heaptrack_print -f "$work"/heap.*zst 2>/dev/null | grep -E 'peak heap memory|peak RSS'
fi
