#!/usr/bin/env bash
# End-to-end test of the plugin SDK, done the way a plugin author does it:
#   (a) install sluice (into a staging directory),
#   (b) build sdk/examples out of tree against the installed sluice-sdk.pc only,
#   (c) drop the .so into a Flume-style plugins.d directory,
#   (d) run an agent with MySource -> memory -> MySink (+ MyInterceptor) from a TOML config and
#       check that every event arrived exactly once,
#   (e) the same from the equivalent Flume .properties config, plus `sluice validate`,
#   (f) `sluice describe` shows the plugin's schema,
#   (g) com.example.OffsetFileSource (the second .so) resumes after kill -9 at its stored offset:
#       tests/sdk_example/offset_resume_test.py.
#
# Usage: run_example_test.sh <build-dir> <source-root>
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <build-dir> <source-root>" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
SLUICE="$BUILD/core/cli/sluice"
TOTAL=25

# Only the plugins this test names: no directory from the caller's environment.
unset SLUICE_PLUGINS_PATH
umask 022

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-sdk-example.XXXXXX")
AGENT_PID=""
cleanup() {
  if [[ -n "$AGENT_PID" ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -KILL "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() { echo "== $*"; }
# fail <message> [file whose tail explains it]
fail() {
  echo "FAIL: $1" >&2
  if [[ $# -ge 2 && -f "$2" ]]; then
    echo "---- last 60 lines of $(basename "$2") ----" >&2
    tail -n 60 "$2" >&2
    echo "----" >&2
  fi
  exit 1
}

[[ -x "$SLUICE" ]] || fail "$SLUICE does not exist or is not executable: build the project first"

# ---- (a) install into a staging directory ----
step "meson install into $TMP/stage"
meson install -C "$BUILD" --destdir "$TMP/stage" --no-rebuild --quiet >"$TMP/install.log" 2>&1 ||
  fail "meson install -C $BUILD --destdir ... failed" "$TMP/install.log"

PC=$(find "$TMP/stage" -name sluice-sdk.pc -print -quit)
[[ -n "$PC" ]] || fail "meson install did not install sluice-sdk.pc (looked under $TMP/stage)"
PC_DIR=$(dirname "$PC")
# The .pc names the real prefix (/usr/local by default); the files sit under the stage.
PREFIX=$(sed -n 's/^prefix=//p' "$PC")
INCLUDEDIR=$(PKG_CONFIG_PATH="$PC_DIR" PKG_CONFIG_SYSROOT_DIR='' pkg-config --variable=includedir sluice-sdk)
[[ -n "$PREFIX" && -n "$INCLUDEDIR" ]] || fail "$PC: no prefix or includedir" "$PC"
STAGE_INC="$TMP/stage$INCLUDEDIR"
[[ -f "$STAGE_INC/sluice/sdk/sdk.hpp" ]] ||
  fail "the SDK headers were not installed to $INCLUDEDIR (no $STAGE_INC/sluice/sdk/sdk.hpp)"
echo "   sluice-sdk.pc: ${PC#"$TMP/stage"} (prefix $PREFIX)"

# ---- (b) build the example plugin out of tree, against the staged SDK only ----
step "build sdk/examples against the installed sluice-sdk.pc"
export PKG_CONFIG_PATH="$PC_DIR"
export PKG_CONFIG_SYSROOT_DIR="$TMP/stage"
CFLAGS_SDK=$(pkg-config --cflags sluice-sdk)
[[ " $CFLAGS_SDK " == *" -I$STAGE_INC "* ]] ||
  fail "pkg-config --cflags sluice-sdk is '$CFLAGS_SDK'; expected it to contain -I$STAGE_INC"

meson setup "$TMP/exbuild" "$SRC/sdk/examples" >"$TMP/example-setup.log" 2>&1 ||
  fail "meson setup of sdk/examples failed" "$TMP/example-setup.log"
ninja -C "$TMP/exbuild" >"$TMP/example-build.log" 2>&1 ||
  fail "building sdk/examples failed" "$TMP/example-build.log"

CC_JSON="$TMP/exbuild/compile_commands.json"
[[ -f "$CC_JSON" ]] || fail "meson wrote no $CC_JSON"
grep -qF -- "-I$STAGE_INC" "$CC_JSON" ||
  fail "the example was not compiled with -I$STAGE_INC (the installed SDK)" "$CC_JSON"
if grep -q 'sdk/include' "$CC_JSON"; then
  fail "the example build sees the source tree's sdk/include; it must use only the installed SDK" \
    "$CC_JSON"
fi

mapfile -t SOS < <(find "$TMP/exbuild" -maxdepth 1 -type f -name '*.so' | sort)
[[ ${#SOS[@]} -eq 2 ]] ||
  fail "expected two .so in $TMP/exbuild (libsluice-example.so, libsluice-example-offset.so), found ${#SOS[@]}: ${SOS[*]:-none}" "$TMP/example-build.log"
echo "   built $(basename "${SOS[0]}") $(basename "${SOS[1]}")"

# ---- (c) install them Flume style: plugins.d/<name>/lib/ ----
step "install the plugins into $TMP/plugins/example/lib/"
PLUGINS="$TMP/plugins"
mkdir -p "$PLUGINS/example/lib"
for so in "${SOS[@]}"; do
  cp "$so" "$PLUGINS/example/lib/"
  chmod go-w "$PLUGINS/example/lib/$(basename "$so")"
done
chmod go-w "$PLUGINS" "$PLUGINS/example" "$PLUGINS/example/lib"

# ---- helpers for (d) and (e) ----

# check_events <log> <label>: exactly TOTAL lines with [hello-N], each N in 0..TOTAL-1 once.
check_events() {
  local log=$1 label=$2 lines numbers expected
  lines=$(grep -cE '\[hello-[0-9]+\]' "$log" || true)
  [[ "$lines" -eq $TOTAL ]] ||
    fail "$label: expected $TOTAL lines with [hello-N], found $lines" "$log"
  numbers=$(grep -oE '\[hello-[0-9]+\]' "$log" | sed -E 's/^\[hello-([0-9]+)\]$/\1/' | sort -n)
  expected=$(seq 0 $((TOTAL - 1)))
  if [[ "$numbers" != "$expected" ]]; then
    echo "$label: event numbers differ from 0..$((TOTAL - 1)) (< expected, > found):" >&2
    diff <(echo "$expected") <(echo "$numbers") >&2 || true
    fail "$label: events lost or duplicated" "$log"
  fi
}

# run_agent <config> <label>: starts the agent, waits for the last event, stops it with SIGTERM
# and checks its exit status and output.
run_agent() {
  local cfg=$1 label=$2 log="$TMP/$2.log" rc=0 deadline
  "$SLUICE" agent -n a1 -f "$cfg" --plugins-path "$PLUGINS" >"$log" 2>&1 &
  AGENT_PID=$!

  deadline=$((SECONDS + 30))
  until grep -qF "[hello-$((TOTAL - 1))]" "$log"; do
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
      wait "$AGENT_PID" || rc=$?
      AGENT_PID=""
      fail "$label: the agent exited with status $rc before logging [hello-$((TOTAL - 1))]" "$log"
    fi
    ((SECONDS < deadline)) ||
      fail "$label: no [hello-$((TOTAL - 1))] in the agent's log within 30 s" "$log"
    sleep 0.1
  done

  kill -TERM "$AGENT_PID"
  deadline=$((SECONDS + 30))
  while kill -0 "$AGENT_PID" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "$label: the agent did not exit within 30 s of SIGTERM" "$log"
    sleep 0.1
  done
  wait "$AGENT_PID" || rc=$?
  AGENT_PID=""
  [[ $rc -eq 0 ]] || fail "$label: the agent exited with status $rc after SIGTERM (expected 0)" "$log"
  check_events "$log" "$label"
  echo "   $label: $TOTAL events, each exactly once; clean exit on SIGTERM"
}

# ---- (d) TOML config ----
step "run an agent from TOML: MySource -> memory -> MySink, with MyInterceptor"
cat >"$TMP/example.toml" <<'TOML'
[a1.sources.r1]
type = "com.example.MySource"
channels = ["c1"]
prefix = "hello-"
totalEvents = 25
batchSize = 5

[[a1.sources.r1.interceptors]]
id = "i1"
type = "com.example.MyInterceptor$Builder"
value = "x"

[a1.channels.c1]
type = "memory"
capacity = 1000
transactionCapacity = 100

[a1.sinks.k1]
type = "com.example.MySink"
channel = "c1"
prefix = "["
suffix = "]"
TOML
run_agent "$TMP/example.toml" toml

# ---- (e) the same agent as Flume .properties ----
step "run the same agent from Flume .properties"
cat >"$TMP/example.properties" <<'PROPS'
a1.sources = r1
a1.channels = c1
a1.sinks = k1

a1.sources.r1.type = com.example.MySource
a1.sources.r1.channels = c1
a1.sources.r1.prefix = hello-
a1.sources.r1.totalEvents = 25
a1.sources.r1.batchSize = 5
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = com.example.MyInterceptor$Builder
a1.sources.r1.interceptors.i1.value = x

a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100

a1.sinks.k1.type = com.example.MySink
a1.sinks.k1.channel = c1
a1.sinks.k1.prefix = [
a1.sinks.k1.suffix = ]
PROPS
"$SLUICE" validate -n a1 -f "$TMP/example.properties" --plugins-path "$PLUGINS" \
  >"$TMP/validate.log" 2>&1 ||
  fail "sluice validate on the .properties config exited with status $?" "$TMP/validate.log"
echo "   sluice validate: ok"
run_agent "$TMP/example.properties" properties

# ---- (f) describe and plugins show the plugin ----
step "sluice describe / plugins"
"$SLUICE" describe com.example.MySource --plugins-path "$PLUGINS" >"$TMP/describe.log" 2>&1 ||
  fail "sluice describe com.example.MySource exited with status $?" "$TMP/describe.log"
grep -qE '^[[:space:]]+prefix[[:space:]]' "$TMP/describe.log" ||
  fail "sluice describe com.example.MySource does not list the key 'prefix'" "$TMP/describe.log"
"$SLUICE" plugins --plugins-path "$PLUGINS" >"$TMP/plugins.log" 2>&1 ||
  fail "sluice plugins exited with status $?" "$TMP/plugins.log"
# shellcheck disable=SC2016 # a literal $ in the type name
for t in com.example.MySource com.example.MySink 'com.example.MyInterceptor$Builder'; do
  grep -qF "$t" "$TMP/plugins.log" || fail "sluice plugins does not list $t" "$TMP/plugins.log"
done
echo "   describe lists 'prefix'; plugins lists all three example components"

# ---- (g) com.example.OffsetFileSource: kill -9 mid-file, restart, nothing lost or repeated ----
step "OffsetFileSource: kill -9 in the middle of a big file, restart, compare"
python3 "$SRC/tests/sdk_example/offset_resume_test.py" "$SLUICE" "$PLUGINS" "$TMP/offset" ||
  fail "the OffsetFileSource resume test failed (output above)"

echo "PASS: sdk example plugin built out of tree and ran end to end"
