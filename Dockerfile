# syntax=docker/dockerfile:1
# mockle in a container: a LiveEngage emulator for CI (see docs/testing.md).
# Stage 1 builds the wheel; stage 2 installs it (mounted, so no layer keeps it) with the
# known-good dependency versions CI tested (.ci/constraints.txt) and runs it as a non-root user.
# TLS: `docker run -e MOCKLE_TLS=1 ...` (the local CA is then in /home/mockle/.local/share/mockle/tls;
# mount a volume there to keep it across runs); the health check follows MOCKLE_TLS*.
# scripts/container-check.sh builds and runs this image for real in CI (with podman).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mockle ./mockle
COPY schemas ./schemas
RUN --mount=type=bind,source=.ci/constraints.txt,target=/tmp/constraints.txt \
    PIP_CONSTRAINT=/tmp/constraints.txt pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
# mockle serve reads every option from MOCKLE_<OPTION>: these are defaults, `-e` overrides them
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MOCKLE_HOST=0.0.0.0 \
    MOCKLE_PORT=8080
RUN --mount=type=bind,from=build,source=/dist,target=/tmp/dist \
    --mount=type=bind,source=.ci/constraints.txt,target=/tmp/constraints.txt \
    pip install --no-cache-dir --root-user-action=ignore --constraint /tmp/constraints.txt /tmp/dist/mockle-*.whl \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin mockle
USER 10001
WORKDIR /home/mockle
EXPOSE 8080
# the health check asks where mockle serves: MOCKLE_PORT, MOCKLE_HOST and MOCKLE_TLS*, whatever
# they are set to
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-m", "mockle.healthcheck"]
CMD ["mockle", "serve"]
