#!/usr/bin/env bash
# The SQL source as a third-party plugin: proof that the SDK is enough for a real one.
#   (a) install sluice (into a staging directory),
#   (b) build plugins/source_sql/oot/meson.build out of tree against the installed
#       sluice-sdk.pc only (plus libmariadb and libpq),
#   (c) put the .so into a Flume-style plugins.d directory next to the staged built-in plugins,
#       without the built-in SQL source, so that the type sql can only come from it,
#   (d) `sluice plugins` lists type sql from that file, `sluice describe sql` shows its keys,
#   (e) an agent (TOML) imports a MariaDB table through it into file_roll, every row once,
#       against a real server (tests/sql_oot/oot_agent_test.py).
#
# Usage: run_sql_oot_test.sh <build-dir> <source-root>
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <build-dir> <source-root>" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
unset SLUICE_PLUGINS_PATH
umask 022

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-sql-oot.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() { echo "== $*"; }
fail() {
  echo "FAIL: $1" >&2
  if [[ $# -ge 2 && -f "$2" ]]; then
    echo "---- last 60 lines of $(basename "$2") ----" >&2
    tail -n 60 "$2" >&2
  fi
  exit 1
}

# ---- (a) install into a staging directory ----
step "meson install into $TMP/stage"
meson install -C "$BUILD" --destdir "$TMP/stage" --no-rebuild --quiet >"$TMP/install.log" 2>&1 ||
  fail "meson install -C $BUILD --destdir ... failed" "$TMP/install.log"
PC=$(find "$TMP/stage" -name sluice-sdk.pc -print -quit)
[[ -n "$PC" ]] || fail "meson install did not install sluice-sdk.pc"
PC_DIR=$(dirname "$PC")
INCLUDEDIR=$(PKG_CONFIG_PATH="$PC_DIR" PKG_CONFIG_SYSROOT_DIR='' pkg-config --variable=includedir sluice-sdk)
PLUGINDIR=$(PKG_CONFIG_PATH="$PC_DIR" PKG_CONFIG_SYSROOT_DIR='' pkg-config --variable=plugindir sluice-sdk)
STAGE_INC="$TMP/stage$INCLUDEDIR"
SLUICE=$(find "$TMP/stage" -type f -name sluice -perm -u+x -print -quit)
[[ -x "$SLUICE" ]] || fail "meson install did not install the sluice binary"
[[ -d "$TMP/stage$PLUGINDIR" ]] || fail "no staged plugin directory $PLUGINDIR"

# ---- (b) build the SQL source out of tree ----
step "build plugins/source_sql/oot against the installed sluice-sdk.pc"
# The staged .pc names the real prefix; a copy pointing at the stage stands for an installed
# sluice (a sysroot would also move libmariadb's and libpq's system .pc files).
PREFIX=$(sed -n 's/^prefix=//p' "$PC")
mkdir -p "$TMP/pc"
sed "s|^prefix=.*|prefix=$TMP/stage$PREFIX|" "$PC" >"$TMP/pc/sluice-sdk.pc"
export PKG_CONFIG_PATH="$TMP/pc"
meson setup --buildtype=plain "$TMP/ootbuild" "$SRC/plugins/source_sql/oot" >"$TMP/setup.log" 2>&1 ||
  fail "meson setup of plugins/source_sql/oot failed" "$TMP/setup.log"
ninja -C "$TMP/ootbuild" >"$TMP/build.log" 2>&1 || fail "building the SQL source out of tree failed" "$TMP/build.log"
CC_JSON="$TMP/ootbuild/compile_commands.json"
grep -qF -- "-I$STAGE_INC" "$CC_JSON" || fail "not compiled against the installed SDK ($STAGE_INC)" "$CC_JSON"
if grep -q 'sdk/include' "$CC_JSON"; then
  fail "the build sees the source tree's sdk/include; it must use only the installed SDK" "$CC_JSON"
fi
SO="$TMP/ootbuild/libsluice-source-sql.so"
[[ -f "$SO" ]] || fail "no $SO" "$TMP/build.log"
echo "   built $(basename "$SO") ($(stat -c %s "$SO") bytes)"

# ---- (c) plugins.d layout; the staged built-ins without their own SQL source ----
step "install it as plugins.d/sql/lib/"
mkdir -p "$TMP/plugins/sql/lib" "$TMP/builtin"
cp "$SO" "$TMP/plugins/sql/lib/"
cp "$TMP/stage$PLUGINDIR"/*.so "$TMP/builtin/"
rm -f "$TMP/builtin/libsluice-source-sql.so"
chmod -R go-w "$TMP/plugins" "$TMP/builtin"
PLUGINS_PATH="$TMP/builtin:$TMP/plugins"

# ---- (d) the loader sees it ----
step "sluice plugins / describe"
"$SLUICE" plugins --plugins-path "$PLUGINS_PATH" >"$TMP/plugins.log" 2>&1 || fail "sluice plugins failed" "$TMP/plugins.log"
grep -E "^source[[:space:]]+sql[[:space:]].*$TMP/plugins/sql/lib/libsluice-source-sql.so" "$TMP/plugins.log" >/dev/null ||
  fail "sluice plugins does not list type sql from the out-of-tree build" "$TMP/plugins.log"
"$SLUICE" describe org.keedio.flume.source.SQLSource --plugins-path "$PLUGINS_PATH" >"$TMP/describe.log" 2>&1 ||
  fail "sluice describe failed" "$TMP/describe.log"
grep -qE '^[[:space:]]+incremental.column.name[[:space:]]' "$TMP/describe.log" ||
  fail "describe does not list incremental.column.name" "$TMP/describe.log"
echo "   plugins lists sql from the out-of-tree .so; describe lists its keys"

# ---- (e) an import through it ----
step "import a MariaDB table through the out-of-tree plugin"
python3 "$SRC/tests/sql_oot/oot_agent_test.py" "$SLUICE" "$PLUGINS_PATH" "$TMP/run" ||
  fail "the import through the out-of-tree plugin failed (output above)"
echo "PASS: the SQL source built out of tree against the installed SDK and imported a table"
