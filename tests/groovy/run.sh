#!/bin/sh
# Runs the Groovy tests of the shared library on Groovy 2.4 (the version Jenkins embeds).
#   tests/groovy/run.sh            unit tests (harness with a strict sh mock)
#   tests/groovy/run.sh --e2e      also the e2e tests (real sh, real CLI: MLCI_CLI=path)
#   tests/groovy/run.sh --e2e-only only the e2e tests
# MLCI_GROOVY_TESTS=REGEX selects tests by "Class" or "Class.method".
# Last line: "N passed, N failed"; exit status non-zero on any failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
JAVA_HOME=${JAVA_HOME_17:-/usr/lib/jvm/java-17-openjdk-amd64}
export JAVA_HOME
dirs=tests/groovy/test
case ${1:-} in
  --e2e) dirs="tests/groovy/test tests/e2e" ;;
  --e2e-only) dirs=tests/e2e ;;
  '') ;;
  *) echo "usage: $0 [--e2e|--e2e-only]" >&2; exit 2 ;;
esac
cp="$root/src:$here/lib:$here/stubs:/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar"
cd "$root"
# shellcheck disable=SC2086
exec groovy -cp "$cp" "$here/RunTests.groovy" "$root" $dirs
