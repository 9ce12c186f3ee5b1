#!/usr/bin/env bash
# CI's container setup, run by .ci/run before the README's test command: installs Debian's Docker
# engine, busybox-static (the image's shell) and docker-compose (the compose smoke test), starts
# dockerd in the background, waits for it (bounded), and builds runnel:local (scripts/build-image.sh).
#
# Where no Docker engine can be started at all (no apt, no root, a sandbox without the kernel features
# dockerd needs), this prints why and returns 0: the container tests then skip with one message saying
# so. Anything that fails once the engine runs (the image build) fails CI.
# Needs: root (CI runs as root), `pnpm install` and `pnpm build` already done (the image takes dist).
set -uo pipefail
cd "$(dirname "$0")/.."

DOCKERD_WAIT_S=60
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"

skip() {
  echo "ci-docker: NO DOCKER ENGINE: $*; the container tests will be skipped" >&2
  exit 0
}

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || skip "not root, cannot apt-get install docker.io"
    command -v apt-get >/dev/null 2>&1 || skip "no apt-get to install docker.io"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -q </dev/null >/tmp/ci-docker-apt.log 2>&1 || { tail -20 /tmp/ci-docker-apt.log >&2; skip "apt-get update failed"; }
    timeout 600 apt-get install -y -q --no-install-recommends docker.io busybox-static docker-compose </dev/null >>/tmp/ci-docker-apt.log 2>&1 \
      || { tail -20 /tmp/ci-docker-apt.log >&2; skip "apt-get install docker.io busybox-static docker-compose failed"; }
  fi
  if ! docker info >/dev/null 2>&1; then
    # Outlives this script on purpose: the tests run after it. CI's machine is torn down afterwards.
    nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 1 "$DOCKERD_WAIT_S"); do
      docker info >/dev/null 2>&1 && break
      sleep 1
    done
    docker info >/dev/null 2>&1 || { tail -20 "$DOCKERD_LOG" >&2; skip "dockerd did not answer within ${DOCKERD_WAIT_S} s"; }
  fi
fi
echo "ci-docker: Docker engine $(docker version -f '{{.Server.Version}}' 2>/dev/null) is up"

command -v busybox >/dev/null 2>&1 || skip "busybox-static is missing (the image needs a shell)"
# The image build must work once the engine does: a failure here is a real failure.
bash scripts/build-image.sh || { echo "ci-docker: scripts/build-image.sh failed" >&2; exit 1; }
