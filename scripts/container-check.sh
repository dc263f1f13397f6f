#!/usr/bin/env bash
# The container, built and run for real: the Dockerfile built with podman, the image started
# from examples/container/compose.yaml, then checked as CI would use it.
#
#   1. podman, runc, docker-compose and mmdebstrap (installed with apt-get when missing);
#   2. a stand-in for the base image python:3.11-slim, which no registry here serves: a Debian
#      root file system with Debian's python3 and pip (mmdebstrap, from the mirror this
#      machine's apt uses), imported under that name;
#   3. podman build --format docker (without it podman drops the HEALTHCHECK);
#   4. docker-compose up (through podman's Docker API socket: podman-compose 1.0.3 cannot run a
#      service with network_mode: host); wait until mockle listens; `podman healthcheck run`;
#      the user is not root; the project's external-mode tests against it (--mockle-url);
#   5. SIGTERM: the container must exit with 0.
#
# Everything lives in a private podman store under a temporary folder, removed at the end: no
# image, layer or base is reused from an earlier run. Each step prints its time. The check is
# skipped (exit 0, with the reason) only where podman cannot run here.
#
# Usage: scripts/container-check.sh   (PYTHON: the interpreter with the test extras installed)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-python3}
PROJECT=mocklecheck
CONTAINER=${PROJECT}_mockle_1

say() { echo "container-check: $*"; }
skip() {
  say "SKIPPED: $*"
  exit 0
}
ms() { echo $(($(date +%s%N) / 1000000)); }
seconds() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
START=$(ms)
LAST=$START
step() { # step WHAT: WHAT just finished; print how long it took
  local now
  now=$(ms)
  say "$(printf '%8s' "$(seconds $((now - LAST)))")  $1"
  LAST=$now
}

# -- 1. tools ---------------------------------------------------------------------------------
need=()
for tool in podman runc docker-compose mmdebstrap eatmydata; do
  command -v "$tool" > /dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
    skip "podman cannot run here: ${need[*]} missing, and apt-get (as root) is not available"
  fi
  say "installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q > /dev/null
  if ! apt-get install -y -q --no-install-recommends "${need[@]}" > /tmp/container-check-apt.log 2>&1; then
    tail -5 /tmp/container-check-apt.log
    skip "podman cannot run here: apt-get could not install ${need[*]}"
  fi
fi
step "tools"

WORK=$(mktemp -d /tmp/mockle-container.XXXXXX)
SERVICE=
cleanup() {
  set +e
  docker-compose -p "$PROJECT" -f examples/container/compose.yaml down > /dev/null 2>&1
  [ -n "$SERVICE" ] && kill "$SERVICE" 2> /dev/null && wait "$SERVICE" 2> /dev/null
  podman rm --all --force > /dev/null 2>&1
  podman rmi --all --force > /dev/null 2>&1
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# a private store and configuration: nothing of the machine's podman state is used or changed
cat > "$WORK/storage.conf" << EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
# The sandbox cannot raise nofile/nproc to podman's defaults (1048576), nor even set nproc to
# its own hard limit: containers and build steps get lower ones. No systemd: cgroupfs, file
# events.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 8192 ] && nofile=8192
nproc=4096
cat > "$WORK/containers.conf" << EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[network]
network_config_dir = "$WORK/networks"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
export CONTAINERS_CONF="$WORK/containers.conf"
export BUILDAH_FORMAT=docker # a build through the Docker API keeps the HEALTHCHECK too

if ! out=$(podman info 2>&1); then
  echo "$out" | tail -5
  skip "podman cannot run here (podman info failed)"
fi

# -- 2. the base image stand-in ---------------------------------------------------------------
. /etc/os-release
codename=${VERSION_CODENAME:-bookworm}
mirror=$(apt-get indextargets --format '$(REPO_URI)' "Codename: $codename" "Component: main" \
  "Created-By: Packages" 2> /dev/null | head -1)
[ -n "$mirror" ] || skip "no Debian mirror for $codename in this machine's apt sources"
# What the Dockerfile relies on in python:3.11-slim: python and pip on PATH, pip allowed to
# install system-wide, useradd. The machine's own extra certificate authorities (a TLS proxy
# in front of the package index, say) go in too, so that pip in the build reaches the index
# the way pip on this machine does. The packages' Python files are not byte-compiled while
# they install (the official python images delete theirs too): a third of the time.
mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
  --include=python3,python3-pip,python3-venv,ca-certificates \
  --dpkgopt=force-unsafe-io --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
  --essential-hook='for f in py3compile pycompile; do
      chroot "$1" dpkg-divert --quiet --local --rename --add /usr/bin/$f
      printf "#!/bin/sh\nexit 0\n" > "$1"/usr/bin/$f && chmod 755 "$1"/usr/bin/$f; done' \
  --customize-hook='for f in py3compile pycompile; do rm -f "$1"/usr/bin/$f
      chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/bin/$f; done' \
  --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
  --customize-hook='ln -s /usr/bin/python3 "$1"/usr/local/bin/python' \
  --customize-hook='ln -s /usr/bin/pip3 "$1"/usr/local/bin/pip' \
  --customize-hook='for c in /usr/local/share/ca-certificates/*.crt; do [ -f "$c" ] || continue;
      cp "$c" "$1"/usr/local/share/ca-certificates/; done; chroot "$1" update-ca-certificates' \
  "$codename" "$WORK/base.tar" "deb $mirror $codename main" > "$WORK/mmdebstrap.log" 2>&1 \
  || {
    tail -20 "$WORK/mmdebstrap.log"
    exit 1
  }
podman import --quiet --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
  "$WORK/base.tar" docker.io/library/python:3.11-slim > /dev/null
rm -f "$WORK/base.tar"
step "base image (python:3.11-slim stand-in)"

# -- 3. the image -----------------------------------------------------------------------------
podman build --quiet --format docker --pull=never --ulimit "nofile=$nofile:$nofile" \
  --ulimit "nproc=$nproc:$nproc" -t localhost/mockle:check . > /dev/null
health=$(podman image inspect --format '{{json .Config.Healthcheck}}' localhost/mockle:check)
case "$health" in
  *'"Test":["CMD"'*) ;;
  *)
    say "the image has no HEALTHCHECK: $health"
    exit 1
    ;;
esac
step "podman build --format docker"

# -- 4. run it the way examples/container/compose.yaml says -----------------------------------
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export MOCKLE_IMAGE=localhost/mockle:check MOCKLE_PORT=$port
podman system service --time=0 "unix://$WORK/podman.sock" > "$WORK/service.log" 2>&1 &
SERVICE=$!
export DOCKER_HOST="unix://$WORK/podman.sock"
for _ in $(seq 100); do # the socket appears within a second or so
  [ -S "$WORK/podman.sock" ] && break
  sleep 0.1
done
docker-compose -p "$PROJECT" -f examples/container/compose.yaml up -d --no-build \
  > "$WORK/compose.log" 2>&1 || {
  cat "$WORK/compose.log" "$WORK/service.log"
  exit 1
}
# mockle prints its address once it accepts connections: wait for that line (no polling)
if ! timeout 30 grep -q -m1 "mockle listening on http://127.0.0.1:$port" \
  <(podman logs -f "$CONTAINER" 2>&1); then
  podman logs "$CONTAINER" 2>&1 | tail -20
  say "mockle did not start listening within 30 s"
  exit 1
fi
step "start to listening (port $port)"
podman healthcheck run "$CONTAINER"
status=$(podman inspect --format '{{.State.Health.Status}}' "$CONTAINER")
[ "$status" = healthy ] || {
  say "health status is $status"
  exit 1
}
step "podman healthcheck run: $status"

uid=$(podman exec "$CONTAINER" id -u)
user=$(podman inspect --format '{{.Config.User}}' "$CONTAINER")
if [ "$uid" = 0 ] || [ "$user" = root ] || [ -z "$user" ]; then
  say "the container runs as root (uid $uid, User '$user')"
  exit 1
fi
step "non-root user (uid $uid)"

# the tests that drive a mockle through the fixtures: each gets a fresh account there (the
# Agent Workspace in Chromium too: the page as the container serves it)
"$PYTHON" -m pytest -q -p no:cacheprovider --mockle-url "http://127.0.0.1:$port" \
  tests/integration/test_client.py examples tests/browser/test_external.py
step "external-mode tests against the container"

# -- 5. SIGTERM -------------------------------------------------------------------------------
podman kill --signal TERM "$CONTAINER" > /dev/null
code=$(podman wait "$CONTAINER")
[ "$code" = 0 ] || {
  podman logs "$CONTAINER" 2>&1 | tail -20
  say "exit code after SIGTERM: $code"
  exit 1
}
step "SIGTERM -> exit $code"
say "$(printf '%8s' "$(seconds $(($(ms) - START)))")  total: the container check passed"
