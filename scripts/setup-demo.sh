#!/usr/bin/env bash
# Set-up command 1: on a fresh Debian 12, installs what sluice needs, builds it (release) and runs
# a demo agent for a few seconds: seq source -> memory channel -> logger sink (conf/seq-logger.toml).
# It builds the sluice binary and the plugins only; the tests are a meson option (-Dtests=true)
# that scripts/test.sh turns on.
#
#   sudo scripts/setup-demo.sh
#
# Safe to run again: packages already installed are kept, an existing build/ is reused.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# shellcheck source=scripts/packages.sh
source "$REPO/scripts/packages.sh"
PACKAGES=("${BUILD_PACKAGES[@]}")

say() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# apt-get needs root: run it directly as root, else through sudo.
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "installing packages needs root: run this script as root or install sudo"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian 12"

say "Installing build dependencies (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q || die "apt-get update failed (network or apt sources?)"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" ||
  die "apt-get install failed for: ${PACKAGES[*]}"

# A unity build (eight source files compiled as one): the headers every file includes (Boost.Asio,
# spdlog, toml++, the SDK) are parsed once per eight files, which took the build from 12.5 to 8
# CPU-minutes on 2 cores. The test tree builds one file at a time, so nothing relies on it.
say "Configuring build/ (release, unity)"
if [[ -f build/meson-private/coredata.dat ]]; then
  meson configure build -Dbuildtype=release -Dunity=on -Dunity_size=8 ||
    die "meson configure build failed"
else
  meson setup build --buildtype=release -Dunity=on -Dunity_size=8 || die "meson setup build failed"
fi

say "Building the sluice binary and the plugins (ninja -C build)"
ninja -C build || die "the build failed; see the compiler errors above"

SLUICE=build/core/cli/sluice
[[ -x $SLUICE ]] || die "$SLUICE was not built"

say "Demo: $SLUICE agent -n a1 -f conf/seq-logger.toml (stops after 5 s)"
echo "    seq source (20 events) -> memory channel -> logger sink; each event is one log line."
echo
rc=0
# One SIGINT after 5 s, as Ctrl-C would: the agent drains its channel and exits 0. --foreground
# makes timeout signal only the agent (otherwise it signals the agent and then its whole process
# group, and the agent takes the second signal as "exit now, without draining"). -k: SIGKILL if
# the agent has not stopped 10 s later.
timeout --foreground --preserve-status -k 10 -s INT 5 \
  "$SLUICE" agent -n a1 -f conf/seq-logger.toml || rc=$?
echo
if [[ $rc -ne 0 ]]; then
  die "the demo agent exited with status $rc (expected 0 after a graceful stop)"
fi

cat <<EOT
==> Done. The demo agent ran and stopped cleanly.

Run it yourself (Ctrl-C stops it gracefully):
  $SLUICE agent -n a1 -f conf/seq-logger.toml
  $SLUICE agent -n a1 -f conf/seq-logger.properties -Dflume.root.logger=INFO,console

Other commands:
  $SLUICE validate -n a1 -f conf/seq-logger.toml   # check a config without starting it
  $SLUICE plugins                                  # list every component type
  $SLUICE describe memory                          # the keys of one type
  $SLUICE version

Run the tests:  sudo scripts/test.sh
EOT
