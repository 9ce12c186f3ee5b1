#!/usr/bin/env bash
# Builds the Runnel container image with no registry: `runnel-base:local` is imported from a minimal
# root filesystem made of this machine's own `node` binary and the libraries `ldd` lists for it, plus
# busybox (a shell for the entrypoint and for `docker exec`), /tmp and a non-root `runnel` user. Then
# `runnel:local` is built FROM it with deploy/docker/Dockerfile.local, which adds the built repo and
# its production dependencies. deploy/docker/Dockerfile builds the equivalent image from the official
# Node image, for users with a registry.
#
# Usage: scripts/build-image.sh            (after `pnpm install --frozen-lockfile && pnpm build`)
# Env:   RUNNEL_IMAGE (default runnel:local), RUNNEL_BASE_IMAGE (default runnel-base:local),
#        RUNNEL_SKIP_BUILD=1 to use the packages' dist as it is instead of running `pnpm build`.
# Idempotent: the base is re-imported only when its inputs (node, libraries, busybox) changed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

IMAGE="${RUNNEL_IMAGE:-runnel:local}"
BASE_IMAGE="${RUNNEL_BASE_IMAGE:-runnel-base:local}"
# The runnel user's uid/gid inside the image; the production Dockerfile uses the same numbers so a
# volume written by one image is readable by the other.
RUNNEL_UID=10001
RUNNEL_GID=10001

command -v docker >/dev/null || { echo "build-image: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "build-image: no Docker engine answers (is dockerd running?)" >&2; exit 1; }

NODE_BIN="$(readlink -f "$(command -v node)")"
BUSYBOX_BIN="$(command -v busybox || true)"
[ -n "$BUSYBOX_BIN" ] || { echo "build-image: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
BUSYBOX_BIN="$(readlink -f "$BUSYBOX_BIN")"
if ldd "$BUSYBOX_BIN" >/dev/null 2>&1; then
  echo "build-image: $BUSYBOX_BIN is dynamically linked; install busybox-static" >&2
  exit 1
fi

WORK="$(mktemp -d /tmp/runnel-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# ---- 1. the base image -------------------------------------------------------------------------
# Libraries node needs, as absolute paths (the loader too), each copied at its own path and, when the
# listed path is a symlink, with that symlink kept so the name the binary asks for resolves.
mapfile -t LIBS < <(ldd "$NODE_BIN" | awk '$2 == "=>" && $3 ~ /^\//{print $3} $1 ~ /^\//{print $1}' | sort -u)
BASE_KEY="$( { sha256sum "$NODE_BIN" "$BUSYBOX_BIN"; for l in "${LIBS[@]}"; do sha256sum "$(readlink -f "$l")"; echo "$l"; done; echo "uid=$RUNNEL_UID v2"; } | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f '{{index .Config.Labels "runnel.base.key"}}' "$BASE_IMAGE" 2>/dev/null || true)" = "$BASE_KEY" ]; then
  echo "build-image: $BASE_IMAGE is up to date ($BASE_KEY)"
else
  ROOTFS="$WORK/rootfs"
  mkdir -p "$ROOTFS"/{bin,usr/bin,usr/local/bin,etc,tmp,var/lib/runnel,home/runnel}
  chmod 1777 "$ROOTFS/tmp"
  copy_keep_path() { # copies a file (following links) to the same path in the rootfs, keeping the link name
    local src="$1" real
    real="$(readlink -f "$src")"
    mkdir -p "$ROOTFS$(dirname "$real")" "$ROOTFS$(dirname "$src")"
    cp -p "$real" "$ROOTFS$real"
    if [ "$real" != "$src" ] && [ ! -e "$ROOTFS$src" ]; then ln -s "$real" "$ROOTFS$src"; fi
  }
  copy_keep_path "$NODE_BIN"
  for lib in "${LIBS[@]}"; do copy_keep_path "$lib"; done
  # Debian's /lib, /lib64 are links to usr/lib*: keep that layout so the loader's path resolves.
  for d in lib lib64; do
    if [ -L "/$d" ] && [ -d "$ROOTFS/usr/$d" ] && [ ! -e "$ROOTFS/$d" ]; then ln -s "usr/$d" "$ROOTFS/$d"; fi
  done
  [ -e "$ROOTFS/usr/bin/node" ] || ln -s "$NODE_BIN" "$ROOTFS/usr/bin/node"
  cp "$BUSYBOX_BIN" "$ROOTFS/bin/busybox"
  # Every applet as a link: sh for entrypoints and healthchecks, env for the runnel launcher's
  # `#!/usr/bin/env node`, and the usual tools for `docker exec`.
  for applet in $("$BUSYBOX_BIN" --list); do
    case "$applet" in busybox) continue ;; esac
    [ -e "$ROOTFS/bin/$applet" ] || ln -s busybox "$ROOTFS/bin/$applet"
  done
  ln -sf /bin/env "$ROOTFS/usr/bin/env"
  cat >"$ROOTFS/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/bin/sh
runnel:x:$RUNNEL_UID:$RUNNEL_GID:runnel:/home/runnel:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
  cat >"$ROOTFS/etc/group" <<GROUP
root:x:0:
runnel:x:$RUNNEL_GID:
nogroup:x:65534:
GROUP
  # glibc's resolver: container names (Docker's embedded DNS) and /etc/hosts.
  echo 'hosts: files dns' >"$ROOTFS/etc/nsswitch.conf"
  chown -R "$RUNNEL_UID:$RUNNEL_GID" "$ROOTFS/var/lib/runnel" "$ROOTFS/home/runnel"
  tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change "LABEL runnel.base.key=$BASE_KEY" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    - "$BASE_IMAGE" >/dev/null
  echo "build-image: imported $BASE_IMAGE from $NODE_BIN ($(node --version)) + ${#LIBS[@]} libraries + busybox ($BASE_KEY)"
fi

# ---- 2. the application image ------------------------------------------------------------------
if [ "${RUNNEL_SKIP_BUILD:-0}" != "1" ]; then
  pnpm build >/dev/null
fi
for p in packages/*/; do
  [ -d "$p/dist" ] || { echo "build-image: $p has no dist; run pnpm build first" >&2; exit 1; }
done

# The build context: the repo's layout (so packages/protocol/dist finds ../../../proto), each
# package's manifest and dist, and production dependencies installed from the frozen lockfile out of
# the local pnpm store (--offline: nothing is downloaded; everything is in the store after the
# project's own install). test-e2e is left out: pnpm skips an absent workspace project.
CTX="$WORK/context"
APP="$CTX/app"
mkdir -p "$APP"
cp package.json pnpm-lock.yaml pnpm-workspace.yaml "$APP/"
[ -f .npmrc ] && cp .npmrc "$APP/"
cp -r proto "$APP/proto"
for p in packages/*/; do
  name="$(basename "$p")"
  mkdir -p "$APP/packages/$name"
  cp "$p/package.json" "$APP/packages/$name/"
  cp -r "$p/dist" "$APP/packages/$name/dist"
  [ -d "$p/bin" ] && cp -r "$p/bin" "$APP/packages/$name/bin"
  # Tests are compiled too; they have no place in the image.
  find "$APP/packages/$name/dist" \( -name '*.test.js' -o -name '*.test.js.map' -o -name '*.test.d.ts' -o -name '*.test.d.ts.map' \) -delete
done
# The store the repo's own install used (pnpm picks a store per filesystem; $WORK may be on another).
STORE_DIR="$(COREPACK_ENABLE_DOWNLOAD_PROMPT=0 pnpm store path)"
case "$(basename "$STORE_DIR")" in v[0-9]*) STORE_DIR="$(dirname "$STORE_DIR")" ;; esac # pnpm adds the layout version itself
(
  cd "$APP"
  CI=true COREPACK_ENABLE_DOWNLOAD_PROMPT=0 pnpm install --prod --frozen-lockfile --offline \
    --store-dir "$STORE_DIR" --config.confirmModulesPurge=false >"$WORK/pnpm-prod.log" 2>&1
) || { cat "$WORK/pnpm-prod.log" >&2; echo "build-image: production install failed" >&2; exit 1; }
cp deploy/docker/Dockerfile.local "$CTX/Dockerfile"

docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" "$CTX" >"$WORK/docker-build.log" 2>&1 \
  || { cat "$WORK/docker-build.log" >&2; echo "build-image: docker build failed" >&2; exit 1; }
echo "build-image: built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
# A smoke check: the entrypoint resolves, node loads every module the CLI imports.
docker run --rm "$IMAGE" --help >/dev/null || { echo "build-image: $IMAGE does not run" >&2; exit 1; }
