#!/usr/bin/env bash
# Proves the Dockerfile's steps without a container engine: builds /bin/sesame the way the
# builder stage does (`cargo build --release --locked -p sesame --bin sesame`, glibc, Debian
# bookworm's toolchain level), then checks that it would run on the runtime base,
# gcr.io/distroless/cc-debian12: it needs no shared library beyond glibc and libgcc_s, and no
# glibc symbol newer than bookworm's 2.36. Finally runs it as the manifests do.
#
#   ./scripts/image-binary.sh            # -> $CARGO_TARGET_DIR/release/sesame, checked
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sesame/target}"
cargo build --release --locked -p sesame --bin sesame
bin="$CARGO_TARGET_DIR/release/sesame"

# What distroless/cc-debian12 ships: glibc (libc, libm, libpthread, libdl, librt, the loader)
# and libgcc_s. Anything else would be missing at run time.
allowed='^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2)$'
needed="$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
echo "shared libraries needed: $(echo $needed)"
bad="$(echo "$needed" | grep -Ev "$allowed" || true)"
if [ -n "$bad" ]; then
  echo "not in distroless/cc-debian12: $bad" >&2
  exit 1
fi

# bookworm's glibc is 2.36: no symbol may ask for a newer one.
newest="$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
echo "newest glibc symbol version: $newest"
if [ "$(printf '%s\n' "$newest" GLIBC_2.36 | sort -V | tail -1)" != GLIBC_2.36 ]; then
  echo "needs $newest, newer than bookworm's GLIBC_2.36" >&2
  exit 1
fi

# As the manifests run it: the version, certgen as the Job does, and the Envoy bootstrap the
# init container writes (with the certificates where the Secret is mounted).
"$bin" version
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bin" certgen --pem "$out/certs"
"$bin" bootstrap "$out/envoy.json" --xds-address=sesame --xds-port=8001 --xds-resource-version=v3 \
  --resources-dir="$out/resources" --envoy-cafile="$out/certs/cacert.pem" \
  --envoy-cert-file="$out/certs/envoycert.pem" --envoy-key-file="$out/certs/envoykey.pem"
test -s "$out/envoy.json"
ls -la "$bin"
echo "ok: $bin runs on gcr.io/distroless/cc-debian12 as the Dockerfile copies it"
