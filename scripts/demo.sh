#!/usr/bin/env bash
# The demo: builds Sesame, installs Envoy, starts two echo backends, `sesame serve` on
# examples/quickstart/, and a real Envoy bootstrapped by `sesame bootstrap`; then shows routing
# with curl. Leave it running and edit examples/quickstart/*.yaml to watch traffic move;
# Ctrl-C stops everything. DEMO_ONESHOT=1 runs the curl lines once and exits.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup-envoy.sh" >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sesame/target}"
cargo build --quiet --bin sesame
sesame="$CARGO_TARGET_DIR/debug/sesame"
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

python3 scripts/echo_server.py echo-a 18081 & pids+=($!)
python3 scripts/echo_server.py echo-b 18082 & pids+=($!)
"$sesame" serve --insecure --manifests examples/quickstart \
  --envoy-service-http-address 127.0.0.1 --envoy-service-https-address 127.0.0.1 --stats-address 127.0.0.1 \
  --http-address 127.0.0.1 2>"$work/sesame.log" & pids+=($!)
"$sesame" bootstrap "$work/envoy.json" --xds-address 127.0.0.1 --xds-port 8001 --admin-port 9001
.venv/bin/envoy -c "$work/envoy.json" --service-cluster sesame --service-node demo \
  --disable-hot-restart --log-level warn >"$work/envoy.log" 2>&1 & pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:8002/ready 2>/dev/null && break
  sleep 0.1
done
sleep 0.5
show() { echo "\$ $*"; "$@" || true; echo; }
show curl -sS -H 'Host: a.example.com' http://127.0.0.1:8080/
show curl -sS -H 'Host: b.example.com' http://127.0.0.1:8080/anything
show curl -sS -H 'Host: shop.example.com' http://127.0.0.1:8080/cart/items
show curl -sS -H 'Host: shop.example.com' http://127.0.0.1:8080/
show curl -sS -o /dev/null -w '%{http_code}\n' -H 'Host: unknown.example.com' http://127.0.0.1:8080/
show curl -sS http://127.0.0.1:6060/status
if [ "${DEMO_ONESHOT:-0}" = 1 ]; then exit 0; fi
echo "Sesame log: $work/sesame.log   Envoy log: $work/envoy.log   (Ctrl-C to stop)"
wait
