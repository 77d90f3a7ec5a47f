# elb-certsync container image.
#
# The build stage runs the same dependency script and CMake commands as CI (scripts/deps.sh,
# scripts/build.sh), so CI exercises every build step this image runs. The runtime stage
# carries only the shared libraries the binary links (checked against ldd by
# tests/integration/test_deploy.py) and runs as a non-root user.

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh
COPY . .
RUN bash scripts/build.sh release

FROM debian:bookworm-slim AS runtime
# runtime-packages: ca-certificates libcurl4 libssl3 libyaml-0-2 libcjson1 libmicrohttpd12
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libssl3 libyaml-0-2 libcjson1 libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build-release/bin/elb-certsync /usr/local/bin/elb-certsync
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/elb-certsync"]
CMD ["run"]
