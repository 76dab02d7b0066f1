# syntax=docker/dockerfile:1
# The Sesame image: the one binary, /bin/sesame, on a distroless base (glibc, no shell).
# The manifests in examples/sesame/ run it as `command: ["/bin/sesame"]`; the image sets no
# entrypoint.
#
#   docker build -t ghcr.io/projectsesame/sesame:main .

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The caches keep the registry and build output between builds; the binary is copied out of
# the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sesame --bin sesame \
    && cp target/release/sesame /sesame

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /sesame /bin/sesame
# The manifests run every container as 65534 (nobody); this is the image's own default.
USER nonroot:nonroot
