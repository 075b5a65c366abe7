# nattest-base: Debian with what a lab node runs (docker/packages.txt), for machines that can
# reach a registry. Where none can (no Docker Hub), `make docker-base` builds the same tag
# with mmdebstrap | docker import instead.
ARG DEBIAN=debian:bookworm-slim
FROM ${DEBIAN}
COPY packages.txt /tmp/packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(grep -v '^#' /tmp/packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt
CMD ["tini", "--", "sleep", "infinity"]
