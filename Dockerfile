# syntax=docker/dockerfile:1
#
# Static (musl) build of the operator on a distroless, non-root base.
#   docker build -t dontpanic:0.1.0 .

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS builder

ARG TARGET=x86_64-unknown-linux-musl
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add "${TARGET}"

# C code in dependencies (ring) is compiled with musl-gcc. Linking is left to
# rustc's defaults for the musl target (self-contained, static); using
# musl-gcc as the linker would produce a dynamically linked executable.
ENV CC_x86_64_unknown_linux_musl=musl-gcc \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never

WORKDIR /build

# Dependencies first, against placeholder sources, so this layer is reused
# until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > src/bin/kubectl-dontpanic.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --target "${TARGET}" --bin dontpanic \
 && rm -rf src \
    target/"${TARGET}"/release/.fingerprint/dontpanic-* \
    target/"${TARGET}"/release/deps/dontpanic-* \
    target/"${TARGET}"/release/deps/libdontpanic-*

COPY src ./src
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --target "${TARGET}" --bin dontpanic \
 && cp target/"${TARGET}"/release/dontpanic /dontpanic \
 && /dontpanic --version

FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="dontpanic" \
      org.opencontainers.image.description="A Kubernetes operator that handles production incidents" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /dontpanic /dontpanic

USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/dontpanic"]
CMD ["run"]
