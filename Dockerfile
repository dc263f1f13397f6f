# mockle in a container: a LiveEngage emulator for CI (see docs/testing.md).
# Stage 1 builds the wheel; stage 2 installs only the wheel and runs it as a non-root user.
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
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/_mockle/health', timeout=2).status == 200 else 1)"]
CMD ["mockle", "serve", "--host", "0.0.0.0", "--port", "8080"]
