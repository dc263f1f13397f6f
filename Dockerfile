# mockle in a container: a LiveEngage emulator for CI (see docs/testing.md).
# Stage 1 builds the wheel; stage 2 installs only the wheel and runs it as a non-root user.
# TLS: `docker run -e MOCKLE_TLS=1 ...` (the local CA is then in /home/mockle/.local/share/mockle/tls;
# mount a volume there to keep it across runs); the health check follows MOCKLE_TLS*.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mockle ./mockle
COPY schemas ./schemas
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/mockle-*.whl \
    && rm -rf /tmp/dist \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin mockle
USER 10001
WORKDIR /home/mockle
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-m", "mockle.healthcheck", "--port", "8080"]
CMD ["mockle", "serve", "--host", "0.0.0.0", "--port", "8080"]
