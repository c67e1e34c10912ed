# The devplane service image: the binary and openssh-client (the SSH runner drives the system
# `ssh`) on slim Debian, running as an unprivileged user.
#
#   docker build -t devplane .          # compiles in rust:1-bookworm, runs on debian:bookworm-slim
#
# Machines without a registry pass local images and a binary built beforehand (CI does this):
#   mkdir -p prebuilt && cp target/release/devplane prebuilt/
#   docker build --build-arg BUILDER_IMAGE=<local image> --build-arg RUNTIME_IMAGE=<local image> .
ARG BUILDER_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY . .
RUN if [ -x prebuilt/devplane ]; then cp prebuilt/devplane /devplane; \
    else cargo build --release --locked && cp target/release/devplane /devplane; fi

FROM ${RUNTIME_IMAGE}
# apt only when something is missing, so a prepared local base builds without network.
RUN set -eu; \
    if ! command -v ssh >/dev/null 2>&1 || [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-client ca-certificates; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/devplane devplane
COPY --from=build /devplane /usr/local/bin/devplane
COPY config/default.toml /etc/devplane/default.toml
USER devplane
WORKDIR /var/lib/devplane
# Inside a container the service must listen beyond loopback; publish the port on the host's
# loopback (`-p 127.0.0.1:8080:8080`) or put a proxy in front.
ENV VIBN_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/devplane", "--config", "/etc/devplane/default.toml"]
CMD ["serve"]
