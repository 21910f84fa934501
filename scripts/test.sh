#!/usr/bin/env bash
# Set-up command 2 (and what CI runs, through .ci/run): installs what sluice needs, builds it in
# build-test/ (debugoptimized) and runs every test. The last line is "N passed, M failed".
#
#   sudo scripts/test.sh
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

BUILD=build-test
LOG="$BUILD/test-output.log"
PACKAGES=(meson ninja-build pkg-config g++ libboost-dev libboost-program-options-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev doctest-dev cmake python3 python3-avro
  libpcre2-dev)

say() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "installing packages needs root: run this script as root or install sudo"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian 12"

say "Installing build and test dependencies (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q || die "apt-get update failed (network or apt sources?)"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" ||
  die "apt-get install failed for: ${PACKAGES[*]}"

say "Configuring $BUILD/ (debugoptimized)"
if [[ -f $BUILD/meson-private/coredata.dat ]]; then
  meson configure "$BUILD" -Dbuildtype=debugoptimized || die "meson configure $BUILD failed"
else
  meson setup "$BUILD" --buildtype=debugoptimized || die "meson setup $BUILD failed"
fi

say "Building (ninja -C $BUILD)"
ninja -C "$BUILD" || die "the build failed; see the compiler errors above"

say "Running the tests (meson test); full output in $LOG"
rc=0
meson test -C "$BUILD" --print-errorlogs --num-processes 2 --timeout-multiplier 3 2>&1 |
  tee "$LOG" || rc=$?

# meson's summary block, e.g. "Ok:                 12". Each count is read from the line that
# starts with its label, so "Fail:" does not match "Expected Fail:".
count() {
  local n
  n=$(sed -nE "s/^$1:[[:space:]]+([0-9]+)[[:space:]]*$/\\1/p" "$LOG" | tail -n 1)
  echo "${n:-}"
}
ok=$(count "Ok")
xfail=$(count "Expected Fail")
fail=$(count "Fail")
xpass=$(count "Unexpected Pass")
timeout=$(count "Timeout")
skipped=$(count "Skipped")

if [[ -z $ok || -z $fail ]]; then
  echo "error: no test summary (Ok:/Fail: lines) in the output of meson test (exit status $rc);" \
    "see $LOG" >&2
  exit 1
fi
passed=$((ok + ${xfail:-0}))
failed=$((fail + ${xpass:-0} + ${timeout:-0}))
status=0
if [[ ${skipped:-0} -gt 0 ]]; then
  echo "note: ${skipped} test(s) skipped"
fi
if ((failed > 0)); then
  echo "error: some tests failed; their logs are above and in $LOG" >&2
  status=1
elif ((passed == 0)); then
  echo "error: no test passed" >&2
  status=1
elif ((rc != 0)); then
  echo "error: meson test exited with status $rc although its summary shows no failure; see $LOG" >&2
  status=1
fi
# The last line, for people and for CI: exactly "N passed, M failed".
echo "${passed} passed, ${failed} failed"
exit "$status"
