#!/usr/bin/env bash
# Builds rrpcd's container image without a Docker daemon: buildah, from a base that mmdebstrap
# makes from Debian's packages (no registry), both installed here from apt when missing.
# Prints the image name (localhost/rrpcd:test by default). tests/integration/image.test.mjs
# runs it and checks the image with podman (non-root, HEALTHCHECK healthy, an official SDK call
# through the published ports, the store surviving a new container).
#   scripts/image.sh [IMAGE]
# RRPCD_IMAGE_BINARY=PATH: put that rrpcd (built here) in the runtime stage instead of compiling it
# in the build stage (the test command does, with its first pass's binary).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-localhost/rrpcd:test}
base=localhost/rrpcd-base:bookworm
cache=${RRPCD_IMAGE_CACHE:-build/image}

need=()
for p in buildah mmdebstrap podman runc uidmap containernetworking-plugins; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    echo "image: installing ${need[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    # As in install-deps.sh: no daemon left running by the install (podman.socket).
    policy=/usr/sbin/policy-rc.d own=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
        "${sudo_cmd[@]}" chmod 755 "$policy"
        own=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || { ((own)) && "${sudo_cmd[@]}" rm -f "$policy"; exit 1; }
    ((own)) && "${sudo_cmd[@]}" rm -f "$policy"
fi

# podman and buildah read this (CONTAINERS_CONF): runc with cgroupfs and no default ulimits,
# which also works where crun cannot manage cgroups (a hybrid hierarchy, a container's limits).
mkdir -p "$cache"
export CONTAINERS_CONF="$PWD/$cache/containers.conf"
cat > "$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF

# The base: Debian 12 from Debian's packages, made once and cached.
if ! podman image exists "$base"; then
    mkdir -p "$cache"
    if [[ ! -s $cache/base.tar ]]; then
        echo "image: mmdebstrap bookworm" >&2
        rm -rf "$cache/base.tar.part"  # a run cut short
        mmdebstrap --quiet --format=tar --variant=apt --include=ca-certificates bookworm "$cache/base.tar.part" >&2
        mv "$cache/base.tar.part" "$cache/base.tar"
    fi
    podman import "$cache/base.tar" "$base" >/dev/null
fi

# Docker format: OCI images have no HEALTHCHECK.
# --isolation chroot: RUN steps need no OCI runtime (none may manage cgroups here).
# The version, kept once: CMakeLists.txt's project().
version=$(sed -n 's/^project(rrpcd VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
if [[ -n ${RRPCD_IMAGE_BINARY:-} ]]; then
    # An rrpcd already built on this Debian 12 (the test command's first pass), stripped, in the
    # Dockerfile's runtime stage unchanged: the image as built from source, without compiling
    # rrpcd a second time (CI's minutes). Without it, the Dockerfile's build stage compiles it.
    context=$(mktemp -d)
    trap 'rm -rf "$context"' EXIT
    mkdir -p "$context/docker" "$context/models"
    strip -o "$context/rrpcd" "$RRPCD_IMAGE_BINARY"
    cp docker/rrpcd.toml "$context/docker/"
    cp models/a1demo.json "$context/models/"
    { sed -n '1,/^FROM .* AS build$/p' docker/Dockerfile | grep '^ARG '
      sed -n '/^FROM \${RUNTIME_BASE}/,$p' docker/Dockerfile |
          sed 's|^COPY --from=build /src/build/rrpcd |COPY rrpcd |'; } > "$context/Dockerfile"
    grep -q '^COPY rrpcd /usr/local/bin/rrpcd$' "$context/Dockerfile" ||
        { echo "image: docker/Dockerfile's runtime stage no longer copies /src/build/rrpcd" >&2; exit 1; }
    buildah bud --quiet --isolation chroot --format docker --layers -f "$context/Dockerfile" \
        --build-arg RUNTIME_BASE="$base" --build-arg VERSION="$version" -t "$image" "$context" >&2
else
    buildah bud --quiet --isolation chroot --format docker --layers -f docker/Dockerfile \
        --build-arg BUILD_BASE="$base" --build-arg RUNTIME_BASE="$base" --build-arg VERSION="$version" \
        --build-arg JOBS="$(nproc)" -t "$image" . >&2
fi
# The build stage (~1 GB with the compilers) and earlier builds are not kept.
podman image prune -f >/dev/null 2>&1 || true  # best effort: an image a container uses stays
echo "$image"
