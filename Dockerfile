# syntax=docker/dockerfile:1
# The production image of the runner: one binary and the config it reads, nothing else (no
# simulators, no shell, no package manager). Every Cloud Run service and job runs this image;
# the arguments choose the role (`serve --role sync|push|api`, `migrate`, `retention`).

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# The whole workspace: cargo reads every member's manifest, even though `sim` is only compiled
# with the `demo` feature, which the production build leaves out.
COPY Cargo.toml Cargo.lock ./
COPY runner runner
COPY sim sim
# `sqlx::migrate!` embeds schema/db/ into the binary at compile time.
COPY schema schema
# The cache mounts keep downloaded crates and compiled dependencies between builds on the same
# BuildKit builder, so a change to the runner's sources rebuilds only the runner.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p runner --no-default-features \
    && cp target/release/runner /usr/local/bin/runner

FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=builder /usr/local/bin/runner /usr/local/bin/runner
# The runner reads its config from the working directory (`--config-dir` defaults to it).
COPY schema schema
COPY pipelines pipelines
COPY mappings mappings
# The image's own /etc/passwd defines `nonroot` (uid 65532), so the name always resolves.
# hadolint ignore=DL3066
USER nonroot
ENV LOG_FORMAT=json
ENTRYPOINT ["runner"]
CMD ["serve"]
