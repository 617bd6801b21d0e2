#!/bin/sh
# Install the mlci CLI into a virtualenv on a Jenkins agent and print its path.
#
# Written to the agent by the library (libraryResource + writeFile) and run with
# `sh bootstrap.sh`; usable by hand too. POSIX sh (dash): no bash syntax.
# Inputs come only from the environment, never from arguments:
#   MLCI_VERSION        version to install (required), e.g. 0.1.0
#   MLCI_VENV           virtualenv directory (default: $XDG_CACHE_HOME or ~/.cache, mlci/venv-VERSION)
#   MLCI_PIP_INDEX_URL  package index to install from (default: pip's own configuration)
#   MLCI_PIP_SOURCE     a wheel or a local project path to install instead of mlci[all]==VERSION
#                       (add [all] to a wheel's path for the steps' dependencies: mlci-V.whl[all])
#   MLCI_PYTHON         the Python interpreter to build the venv with (>= 3.11, with venv)
#   MLCI_BOOTSTRAP_ERROR a file to write the error message to on failure (the library shows it)
# Output: log lines on stderr; the CLI path as the last line on stdout.
set -eu

say() { printf '[mlci bootstrap] %s\n' "$*" >&2; }
die() {
  say "error: $*"
  if [ -n "${MLCI_BOOTSTRAP_ERROR:-}" ]; then printf '%s\n' "$*" > "$MLCI_BOOTSTRAP_ERROR" || true; fi
  exit 1
}

FIX="install python3 (>= 3.11) and python3-venv on the agent, or set MLCI_PYTHON to such an interpreter, or pass dockerImage to run the CLI in a container"

version=${MLCI_VERSION:-}
[ -n "$version" ] || die "MLCI_VERSION is not set"
case $version in
  *[!0-9A-Za-z.+!-]*) die "MLCI_VERSION is not a version: use e.g. 0.1.0" ;;
esac

cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}
venv=${MLCI_VENV:-$cache/mlci/venv-$version}
want="mlci $version"

# A usable interpreter: >= 3.11 and able to create a venv with pip (Debian splits
# ensurepip into python3-venv, so check for it, not only for the venv module).
usable() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

current() {
  if [ -x "$venv/bin/mlci" ]; then "$venv/bin/mlci" --version 2>/dev/null || true; fi
}

# Fast path: the venv exists with the right version. No lock, no network.
if [ "$(current)" = "$want" ]; then
  say "reusing $venv ($want)"
  printf '%s\n' "$venv/bin/mlci"
  exit 0
fi

if [ -n "${MLCI_PYTHON:-}" ]; then
  python=$MLCI_PYTHON
  usable "$python" || die "MLCI_PYTHON=$python is not a Python >= 3.11 with venv and ensurepip: $FIX"
else
  python=
  for candidate in python3.11 python3 python3.12 python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && usable "$candidate"; then
      python=$(command -v "$candidate")
      break
    fi
  done
  [ -n "$python" ] || die "no python3 >= 3.11 with venv found on PATH: $FIX"
fi

# Two builds on one agent may bootstrap at once: take a directory lock (atomic
# mkdir), and take over a lock whose owner process is gone.
mkdir -p "$(dirname "$venv")"
lock="$venv.lock"
waited=0
while ! mkdir "$lock" 2>/dev/null; do
  owner=$(cat "$lock/pid" 2>/dev/null || true)
  if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
    say "removing stale lock $lock (process $owner is gone)"
    rm -rf "$lock"
    continue
  fi
  [ "$waited" -lt 600 ] || die "timed out after 600 s waiting for $lock: remove it if no build is bootstrapping"
  [ "$waited" -gt 0 ] || say "waiting for another bootstrap ($lock)"
  sleep 2
  waited=$((waited + 2))
done
echo $$ > "$lock/pid"
trap 'rm -rf "$lock"' EXIT
trap 'exit 130' INT TERM

# Another build may have finished the venv while this one waited.
if [ "$(current)" != "$want" ]; then
  if [ -d "$venv" ]; then
    say "replacing $venv (has: '$(current)', want: '$want')"
    rm -rf "$venv"
  fi
  say "creating $venv with $python"
  "$python" -m venv "$venv" >&2
  # The `all` extra: the pipeline steps need mlflow, ansible-core and the rest, not only the CLI.
  source_spec=${MLCI_PIP_SOURCE:-mlci[all]==$version}
  say "installing $source_spec"
  # pip's output goes to the log as it comes, and into a file: when pip fails, its own error
  # lines become the message (an unreachable index or a missing wheel is not a Python problem).
  piplog="$lock/pip.log"
  set -- --disable-pip-version-check --quiet
  if [ -n "${MLCI_PIP_INDEX_URL:-}" ]; then set -- "$@" --index-url "$MLCI_PIP_INDEX_URL"; fi
  status=0
  "$venv/bin/python" -m pip install "$@" "$source_spec" > "$piplog" 2>&1 || status=$?
  cat "$piplog" >&2
  if [ "$status" -ne 0 ]; then
    rm -rf "$venv"
    errors=$(grep '^ERROR:' "$piplog" | tail -n 3 | tr '\n' ' ' || true)
    [ -n "$errors" ] || errors=$(grep -v '^[[:space:]]*$' "$piplog" | tail -n 3 | tr '\n' ' ' || true)
    die "pip install $source_spec failed (exit $status): ${errors% }. The agent needs the mlci wheel from a package index (MLCI_PIP_INDEX_URL, or pip's own configuration) or a file (MLCI_PIP_SOURCE): see docs/getting-started.md, \"Publishing the CLI for agents\"; or pass dockerImage"
  fi
  got=$(current)
  if [ "$got" != "$want" ]; then
    rm -rf "$venv"
    die "installed ${source_spec} but its CLI reports '${got}', not '${want}': check MLCI_PIP_SOURCE or cliVersion"
  fi
fi

say "ready: $venv/bin/mlci ($want)"
printf '%s\n' "$venv/bin/mlci"
