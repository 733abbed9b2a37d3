# syntax=docker/dockerfile:1
# Builds with the Makefile's own target, so the image and `make build`
# cannot drift apart.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/idgate idgate \
    && mkdir -p /var/lib/idgate && chown idgate /var/lib/idgate
COPY --from=build /src/bin/simulator /src/bin/gateway /usr/local/bin/
COPY configs/ /etc/idgate/
USER idgate
WORKDIR /var/lib/idgate
EXPOSE 8080 8081 9080
# The compose file chooses which program a container runs.
ENTRYPOINT ["/usr/local/bin/gateway"]
