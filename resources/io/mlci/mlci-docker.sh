#!/bin/sh
# Run `mlci "$@"` inside a container image (the step's dockerImage), in place of a
# local CLI. Written to the agent by the library and used as MLCI_EXE.
# POSIX sh (dash). Inputs come from the environment only:
#   MLCI_DOCKER_IMAGE  the image (required), ideally pinned by digest
#   MLCI_DOCKER_ENV    space-separated names of variables to pass through (the bound
#                      credentials): names only, so values never reach a command line
#   MLCI_TMP_DIR       the build's tmp dir (params and result files live there)
#   MLCI_DOCKER        the docker client (default: docker)
# The workspace (the current directory) and MLCI_TMP_DIR are mounted at the same
# paths, so every path the library passes works unchanged inside the container.
set -eu

image=${MLCI_DOCKER_IMAGE:-}
if [ -z "$image" ]; then
  echo "[mlci docker] error: MLCI_DOCKER_IMAGE is not set" >&2
  exit 2
fi
docker=${MLCI_DOCKER:-docker}
workdir=$(pwd)

# Build the docker options after the mlci arguments, then rotate the mlci
# arguments to the end: keeps every argument quoted without arrays (dash has none).
count=$#
set -- "$@" run --rm --user "$(id -u):$(id -g)" -e HOME=/tmp \
  -v "$workdir:$workdir" -w "$workdir"
tmp=${MLCI_TMP_DIR:-}
if [ -n "$tmp" ]; then
  case $tmp in
    "$workdir"|"$workdir"/*) ;;
    *) set -- "$@" -v "$tmp:$tmp" ;;
  esac
fi
for name in ${MLCI_DOCKER_ENV:-}; do
  case $name in
    *[!A-Za-z0-9_]*) echo "[mlci docker] error: bad variable name in MLCI_DOCKER_ENV: $name" >&2; exit 2 ;;
  esac
  set -- "$@" -e "$name"
done
set -- "$@" "$image" mlci
while [ "$count" -gt 0 ]; do
  arg=$1
  shift
  set -- "$@" "$arg"
  count=$((count - 1))
done
exec "$docker" "$@"
