#!/usr/bin/env bash
# The Debian packages on a machine that has never seen the source tree: builds them
# (scripts/package-deb, lintian included), makes fresh Debian 12 roots with debootstrap, and
# checks, chrooted, with nothing but the .deb files copied in:
#
#   fresh root:   apt-get install ./sluice_*.deb resolves its dependencies from Debian; the
#                 sluice user and directories; `sluice version` and `sluice plugins`; the demo
#                 agent from /usr/share/doc/sluice/examples/; the unit's own command line run as
#                 the sluice user, from its working directory, with READY=1 and STOPPING=1 on a
#                 notify socket; systemd-analyze verify; logrotate on the snippet; sluice-dev:
#                 the example plugin built out of tree with pkg-config sluice-sdk, installed,
#                 loaded by the installed sluice without options.
#   upgrade root: the previous release's package (tests/package/previous-release) writes 500
#                 events to a file channel in /var/lib/sluice; the upgrade leaves every file
#                 there untouched and the new sluice delivers all 500; removal keeps
#                 /var/lib/sluice and /var/log/sluice, purge deletes them.
#
#   sudo tests/package/test_package.sh
#
# Slow (debootstrap, two package builds, apt): scripts/test.sh runs it as its "package" phase
# only when the packaging inputs differ from the verified ones (scripts/package-inputs --check).
# The .deb files of apt and debootstrap come from and go to the host's apt cache
# (/var/cache/apt/archives, which holds what the host installed already); the debootstrap root
# (as a tarball) and the previous release's packages (by commit) are kept in SLUICE_PKG_CACHE
# (default /var/cache/sluice-test) for the next run on the same machine.
# Environment: SLUICE_PKG_PREBUILT=BUILDDIR packages that meson build dir of this checkout
# (scripts/package-deb --prebuilt; scripts/test.sh passes the gcc phase's build-test/) instead of
# compiling the tree again; DEBIAN_MIRROR (default: the host's apt sources); SLUICE_PKG_PREVIOUS
# (a commit to upgrade from, default the one in tests/package/previous-release); KEEP=1 keeps the
# work dir.
# The last line is PASS or FAIL.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${SLUICE_PKG_CACHE:-/var/cache/sluice-test}
PREVIOUS=${SLUICE_PKG_PREVIOUS:-$(grep -v '^#' "$REPO/tests/package/previous-release" | head -n 1)}
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pkgtest.XXXXXX")
MOUNTS=()
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
  if [[ ${KEEP:-0} == 1 ]]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  if ((rc != 0)); then echo "FAIL"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T0=$SECONDS
step() { printf '\n== [%4d s] %s\n' $((SECONDS - T0)) "$*"; }
fail() {
  echo "FAIL: $1" >&2
  if [[ $# -ge 2 && -f $2 ]]; then
    echo "---- last 40 lines of $2 ----" >&2
    tail -n 40 "$2" >&2
  fi
  exit 1
}
[[ $(id -u) -eq 0 ]] || fail "run as root (debootstrap, chroot, mount)"
for tool in debootstrap dpkg-buildpackage git python3 chroot; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/packages.sh, PACKAGE_PACKAGES)"
done

# ---- the packages ----
mkdir -p "$CACHE" "$WORK/new" "$WORK/old"

# The previous release: its commit's tree with this checkout's packaging files (it has none of
# its own when it predates them), built once and kept in the cache by commit.
prev=$(git -C "$REPO" rev-parse --verify -q "$PREVIOUS^{commit}" || true)
if [[ -z $prev ]]; then
  step "fetching the previous release $PREVIOUS (shallow clone)"
  git -C "$REPO" fetch -q --depth=1 origin "$PREVIOUS" ||
    fail "commit $PREVIOUS is not in this clone and cannot be fetched; set SLUICE_PKG_PREVIOUS"
  prev=$(git -C "$REPO" rev-parse --verify "$PREVIOUS^{commit}")
fi
old_cache=$CACHE/debs/$prev
# A cached build counts only if its version names the commit (a stale or partial one is redone).
if ! compgen -G "$old_cache/sluice_*+git*.${prev:0:7}_${ARCH}.deb" >/dev/null; then
  rm -rf "$old_cache"
  step "building the previous release's packages ($prev)"
  mkdir -p "$WORK/oldsrc"
  git -C "$REPO" archive "$prev" | tar -xf - -C "$WORK/oldsrc"
  if [[ ! -d $WORK/oldsrc/scripts/dist ]]; then
    cp -r "$REPO/scripts/dist" "$WORK/oldsrc/scripts/dist"
    sed -i "s|^subdir('plugins')$|&\nsubdir('scripts/dist')|" "$WORK/oldsrc/meson.build"
    # What it does not have yet: flume-ng and the avro client (their lines name them), and the
    # unit's options its binary does not know.
    if [[ ! -f $WORK/oldsrc/core/cli/flume-ng.sh ]]; then
      sed -i '/flume_ng\|sluice_avro_client_exe/d' "$WORK/oldsrc/scripts/dist/meson.build"
    fi
    # Its channel checker is a variable of its own, from before plugins/meson.build's loop.
    if ! grep -qs plugin_executables "$WORK/oldsrc/plugins/meson.build"; then
      sed -i "s/plugin_executables\['sluice-channel-check'\]/channel_check_exe/" \
        "$WORK/oldsrc/scripts/dist/meson.build"
    fi
    if ! grep -rqs -- "log-file-max-size" "$WORK/oldsrc/core/cli"; then
      sed -i 's/ --log-file-max-size 0//' "$WORK/oldsrc/scripts/dist/sluice@.service.in"
    fi
  fi
  upstream=$(sed -nE "s/^[[:space:]]*version:[[:space:]]*'([^']+)'.*/\1/p" "$WORK/oldsrc/meson.build" | head -n 1)
  stamp=$(TZ=UTC0 git -C "$REPO" log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S "$prev")
  # nostrip: a release before SDK ABI 2 finds a plugin's descriptor in the symbol table (.symtab),
  # which dh_strip removes; its packages were never loadable stripped. noopt and -g0: it only has
  # to write a file channel, and on a fresh CI machine its compile is most of this test's time.
  DEB_BUILD_OPTIONS="nostrip noopt ${DEB_BUILD_OPTIONS:-}" DEB_CXXFLAGS_APPEND=-g0 DEB_CFLAGS_APPEND=-g0 \
    "$REPO/scripts/package-deb" --source "$WORK/oldsrc" --no-lintian \
    --version "$upstream+git$stamp.$(git -C "$REPO" rev-parse --short=7 "$prev")" ||
    fail "building the previous release's packages failed"
  mkdir -p "$old_cache"
  cp "$REPO"/build-deb/sluice*.deb "$old_cache/"
fi
cp "$old_cache"/sluice_*.deb "$WORK/old/"

step "building this tree's packages (scripts/package-deb${SLUICE_PKG_PREBUILT:+ --prebuilt $SLUICE_PKG_PREBUILT}, with lintian)"
"$REPO/scripts/package-deb" ${SLUICE_PKG_PREBUILT:+--prebuilt "$SLUICE_PKG_PREBUILT"} | tee "$WORK/package-deb.log" || fail "scripts/package-deb failed"
cp "$REPO"/build-deb/sluice_*.deb "$REPO"/build-deb/sluice-dev_*.deb "$WORK/new/"
new_version=$(dpkg-deb -f "$WORK"/new/sluice_*.deb Version)
old_version=$(dpkg-deb -f "$WORK"/old/sluice_*.deb Version)
dpkg --compare-versions "$new_version" gt "$old_version" ||
  fail "the new version $new_version does not sort after the previous $old_version"
echo "   previous release $old_version, this tree $new_version"
# Every plugin of the tree is in the package: plugins/meson.build installs one module per folder
# that has a plugin.cpp.
want_plugins=$(find "$REPO"/plugins -mindepth 2 -maxdepth 2 -name plugin.cpp | wc -l)
got_plugins=$(dpkg-deb -c "$WORK"/new/sluice_*.deb | grep -cE "/sluice/plugins/[^/]+\.so$" || true)
((got_plugins == want_plugins)) ||
  fail "the package holds $got_plugins plugin files, the tree has $want_plugins plugin folders (plugins/*/plugin.cpp)"
echo "   $got_plugins plugins in the package, one per plugin folder"

# ---- fresh Debian roots ----
# The mirror of the host's apt sources (deb822 or one-line), for the suite and for security.
mirror_of() { # suite
  # Some of these files may not exist (deb822 only, or one-line only).
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | { python3 -c '
import re, sys
suite, text = sys.argv[1], sys.stdin.read()
for stanza in re.split(r"\n\s*\n", text):
    f = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
    if suite in f.get("Suites", "").split() and f.get("URIs"):
        print(f["URIs"].split()[0]); sys.exit()
for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
    if m.group(2) == suite:
        print(m.group(1)); sys.exit()' "$1"; } || true
}
MIRROR=${DEBIAN_MIRROR:-$(mirror_of bookworm)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=$(mirror_of bookworm-security)
ROOT_TAR=$CACHE/debootstrap-bookworm-minbase-$ARCH.tar.gz
APT_CACHE=/var/cache/apt/archives
mkdir -p "$APT_CACHE/partial"
if [[ ! -f $ROOT_TAR ]]; then
  step "debootstrap --variant=minbase bookworm from $MIRROR (cached as $ROOT_TAR)"
  debootstrap --variant=minbase --cache-dir="$APT_CACHE" bookworm "$WORK/bootstrap" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 ||
    fail "debootstrap failed" "$WORK/debootstrap.log"
  tar -C "$WORK/bootstrap" -czf "$ROOT_TAR.tmp" . && mv "$ROOT_TAR.tmp" "$ROOT_TAR"
  rm -rf "$WORK/bootstrap"
fi

# new_root NAME: a fresh root from the tarball, with /proc, /dev, the host's apt cache and the
# network.
new_root() {
  local root=$WORK/$1
  mkdir -p "$root"
  tar -xzf "$ROOT_TAR" -C "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  {
    echo "deb $MIRROR bookworm main"
    echo "deb $MIRROR bookworm-updates main"
    if [[ -n $SECURITY ]]; then echo "deb $SECURITY bookworm-security main"; fi
  } >"$root/etc/apt/sources.list"
  # Nothing is started by maintainer scripts (there is no init in a chroot anyway).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc" && MOUNTS+=("$root/proc")
  mount --bind /dev "$root/dev" && MOUNTS+=("$root/dev")
  mount --bind "$APT_CACHE" "$root/var/cache/apt/archives" &&
    MOUNTS+=("$root/var/cache/apt/archives")
  mkdir -p "$root/tmp/debs"
  cp "$WORK"/new/*.deb "$WORK"/old/*.deb "$root/tmp/debs/"
  in_root "$1" apt-get update -q >"$WORK/$1-apt-update.log" 2>&1 ||
    fail "apt-get update in the $1 root failed" "$WORK/$1-apt-update.log"
}

# in_root NAME CMD...: runs CMD in the root with a clean environment.
ROOT_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
in_root() {
  local root=$WORK/$1
  shift
  chroot "$root" /usr/bin/env -i "${ROOT_ENV[@]}" "$@"
}

# agent_in_root NAME LOG ARGS...: `sluice agent ARGS` in the root in the background, output to
# LOG. AGENT_PID is sluice's own (chroot and env exec it), so a SIGTERM reaches the agent.
agent_in_root() {
  local root=$WORK/$1 log=$2
  shift 2
  chroot "$root" /usr/bin/env -i "${ROOT_ENV[@]}" sluice agent "$@" >"$log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
}

# apt_install NAME LOG ARGS...: apt-get install -y --no-install-recommends ARGS.
apt_install() {
  local name=$1 log=$WORK/$2
  shift 2
  in_root "$name" apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1 ||
    fail "apt-get install $* failed in the $name root" "$log"
}

# as_service NAME AGENT LOG OPTS [ENV=VALUE...]: starts agent AGENT as sluice@AGENT would: the
# ExecStart line of the installed unit (%i = AGENT, $SLUICE_OPTS = OPTS), as the sluice user,
# from /var/lib/sluice. Sets AGENT_PID.
as_service() {
  local name=$1 agent=$2 log=$3 opts=$4
  shift 4
  local unit=$WORK/$name/lib/systemd/system/sluice@.service cmd
  cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed "s/%i/$agent/g; s|\$SLUICE_OPTS|$opts|")
  [[ -n $cmd ]] || fail "no ExecStart= in $unit"
  chroot --userspec=sluice:sluice "$WORK/$name" /usr/bin/env -i PATH=/usr/bin:/bin \
    LANG=C.UTF-8 "$@" /bin/sh -c "cd /var/lib/sluice && exec $cmd" >"$log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
}

# wait_log FILE TEXT [COUNT] [SECONDS]: waits until TEXT appears COUNT times in FILE.
wait_log() {
  local file=$1 text=$2 count=${3:-1} deadline=$((SECONDS + ${4:-60}))
  until (($(grep -cF -- "$text" "$file" 2>/dev/null || true) >= count)); do
    ((SECONDS < deadline)) || fail "'$text' not seen $count times in $file" "$file"
    sleep 0.2
  done
}

# stop_agent PID LOG: SIGTERM, then expects exit status 0 within 60 s.
stop_agent() {
  local pid=$1 log=$2 rc=0 deadline=$((SECONDS + 60))
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "the agent did not stop within 60 s of SIGTERM" "$log"
    sleep 0.2
  done
  wait "$pid" || rc=$?
  ((rc == 0)) || fail "the agent exited with status $rc after SIGTERM" "$log"
}

# owner_mode PATH: "user:group mode" inside the root.
owner_mode() { in_root "$1" stat -c '%U:%G %a' "$2"; }

# snapshot NAME: every file under /var/lib/sluice and /var/log/sluice with its checksum.
snapshot() { in_root "$1" sh -c 'find /var/lib/sluice /var/log/sluice -type f -print0 | sort -z | xargs -0 -r sha256sum'; }

# metric NAME PORT GROUP KEY: a value of the agent's Flume JSON metrics (host side: one network).
metric() {
  python3 -c '
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5) as r:
    print(json.load(r).get(sys.argv[2], {}).get(sys.argv[3], ""))' "$@" 2>/dev/null || true
}

# ==== the fresh root: install, run, build a plugin ====
step "fresh Debian 12 root: apt-get install ./sluice_${new_version}_$ARCH.deb"
new_root fresh
apt_install fresh fresh-install.log "/tmp/debs/sluice_${new_version}_$ARCH.deb"
grep -q "Setting up sluice" "$WORK/fresh-install.log" || fail "sluice was not set up" "$WORK/fresh-install.log"
echo "   $(grep -c '^Setting up ' "$WORK/fresh-install.log" || true) packages set up (sluice and its dependencies from Debian)"

step "sluice version, sluice plugins, the installed files"
in_root fresh sluice version >"$WORK/version.txt" 2>&1 || fail "sluice version failed" "$WORK/version.txt"
cat "$WORK/version.txt"
grep -qx "plugins: /usr/lib/$MULTIARCH/sluice/plugins (built-in)" "$WORK/version.txt" ||
  fail "sluice version does not name /usr/lib/$MULTIARCH/sluice/plugins as an existing plugin dir" "$WORK/version.txt"
in_root fresh sluice plugins >"$WORK/plugins.txt" 2>"$WORK/plugins.err" || fail "sluice plugins failed" "$WORK/plugins.err"
[[ ! -s $WORK/plugins.err ]] || fail "sluice plugins wrote errors" "$WORK/plugins.err"
for t in "source	seq" "source	TAILDIR" "source	sql" "source	syslogtcp" "source	syslogudp" \
  "source	multiport_syslogtcp" "source	netcatudp" "source	thrift" "source	avro" "channel	file" \
  "channel	memory" "channel	kafka" "sink	logger" "sink	hdfs" "sink	thrift" "sink	avro"; do
  grep -qF "$t" "$WORK/plugins.txt" || fail "sluice plugins does not list '$t'" "$WORK/plugins.txt"
done
echo "   $(wc -l <"$WORK/plugins.txt") component types"
for f in /usr/bin/sluice /usr/bin/flume-ng /usr/libexec/sluice-channel-check \
  /usr/libexec/sluice-avro-client /usr/libexec/sluice-service \
  /lib/systemd/system/sluice@.service /usr/share/man/man1/sluice.1.gz /usr/share/man/man1/flume-ng.1.gz \
  /usr/share/bash-completion/completions/sluice /etc/logrotate.d/sluice \
  /usr/lib/sysusers.d/sluice.conf /usr/share/doc/sluice/copyright \
  /usr/share/doc/sluice/examples/seq-logger.toml /usr/share/doc/sluice/examples/seq-logger.properties; do
  [[ -e $WORK/fresh$f ]] || fail "$f is not installed"
done
in_root fresh getent passwd sluice | grep -q ':/var/lib/sluice:/usr/sbin/nologin$' ||
  fail "no system user sluice with home /var/lib/sluice"
[[ $(owner_mode fresh /var/lib/sluice) == "sluice:sluice 750" ]] || fail "/var/lib/sluice: $(owner_mode fresh /var/lib/sluice)"
[[ $(owner_mode fresh /var/log/sluice) == "sluice:sluice 750" ]] || fail "/var/log/sluice: $(owner_mode fresh /var/log/sluice)"
[[ $(owner_mode fresh /etc/sluice) == "root:sluice 750" ]] || fail "/etc/sluice: $(owner_mode fresh /etc/sluice)"

step "the demo agent from /usr/share/doc/sluice/examples/"
for ext in toml properties; do
  log=$WORK/demo-$ext.log
  agent_in_root fresh "$log" -n a1 -f "/usr/share/doc/sluice/examples/seq-logger.$ext"
  wait_log "$log" "Event: " 20 60
  stop_agent "$AGENT_PID" "$log"
  echo "   seq-logger.$ext: 20 events logged, clean stop"
done

step "flume-ng avro-client (/usr/libexec/sluice-avro-client) to an avro source"
avro_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/fresh/tmp/avro.properties" <<EOF
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = avro
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = $avro_port
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
EOF
seq 1 12 | sed 's/^/line-/' >"$WORK/fresh/tmp/lines.txt"
log=$WORK/avro-agent.log
agent_in_root fresh "$log" -n a1 -f /tmp/avro.properties
# The client exits 1 while nothing listens yet; it is tried again until the source is up.
deadline=$((SECONDS + 60))
until in_root fresh flume-ng avro-client -c /tmp -H 127.0.0.1 -p "$avro_port" -F /tmp/lines.txt \
  >"$WORK/avro-client.log" 2>&1; do
  ((SECONDS < deadline)) || fail "flume-ng avro-client could not deliver to the avro source" "$WORK/avro-client.log"
  sleep 0.5
done
wait_log "$log" "Event: " 12 60
stop_agent "$AGENT_PID" "$log"
echo "   12 lines sent by flume-ng avro-client, 12 events logged"

step "the unit's command line, as the sluice user, with a notify socket"
cat >"$WORK/fresh/etc/sluice/demo.properties" <<'EOF'
demo.sources = r1
demo.channels = c1
demo.sinks = k1
demo.sources.r1.type = seq
demo.sources.r1.totalEvents = 50
demo.sources.r1.channels = c1
demo.channels.c1.type = file
demo.channels.c1.checkpointDir = demo/checkpoint
demo.channels.c1.dataDirs = demo/data
demo.sinks.k1.type = logger
demo.sinks.k1.channel = c1
EOF
chmod 640 "$WORK/fresh/etc/sluice/demo.properties"
in_root fresh chgrp sluice /etc/sluice/demo.properties
mkdir -p "$WORK/fresh/run/sluice-test"
python3 - "$WORK/fresh/run/sluice-test/notify" >"$WORK/notify.txt" 2>&1 <<'EOF' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.settimeout(120)
seen = []
while "STOPPING=1" not in seen:
    for line in s.recv(4096).decode().split("\n"):
        if line.startswith(("READY=", "STOPPING=")):
            seen.append(line)
            print(line, flush=True)
EOF
LISTENER=$!
PIDS+=("$LISTENER")
for _ in $(seq 100); do [[ -S $WORK/fresh/run/sluice-test/notify ]] && break; sleep 0.1; done
as_service fresh demo "$WORK/service.log" "" NOTIFY_SOCKET=/run/sluice-test/notify
wait_log "$WORK/notify.txt" "READY=1" 1 60
# The unit's -Dflume.root.logger=INFO,LOGFILE: the agent logs to /var/log/sluice/demo.log.
service_log=$WORK/fresh/var/log/sluice/demo.log
wait_log "$service_log" "Event: " 50 60
stop_agent "$AGENT_PID" "$WORK/service.log"
[[ $(owner_mode fresh /var/log/sluice/demo.log) == sluice:sluice* ]] ||
  fail "/var/log/sluice/demo.log is not the sluice user's" "$service_log"
wait "$LISTENER" || fail "no STOPPING=1 on the notify socket" "$WORK/notify.txt"
[[ $(owner_mode fresh /var/lib/sluice/demo/checkpoint) == sluice:sluice* ]] ||
  fail "the file channel's directory in /var/lib/sluice/demo is not the sluice user's"
echo "   READY=1, 50 events through a file channel in /var/lib/sluice/demo, logged to /var/log/sluice/demo.log, STOPPING=1"

step "systemd-analyze verify and logrotate (systemd, procps and logrotate from Debian)"
apt_install fresh fresh-tools.log systemd procps logrotate
in_root fresh systemd-analyze verify --man=no sluice@demo.service >"$WORK/verify.log" 2>&1 ||
  fail "systemd-analyze verify sluice@demo.service failed" "$WORK/verify.log"
[[ ! -s $WORK/verify.log ]] || fail "systemd-analyze verify printed warnings" "$WORK/verify.log"
echo "demo log line" >"$WORK/fresh/var/log/sluice/demo.log"
in_root fresh chown sluice:sluice /var/log/sluice/demo.log
in_root fresh logrotate -f -s /tmp/logrotate.state /etc/logrotate.d/sluice >"$WORK/logrotate.log" 2>&1 ||
  fail "logrotate on /etc/logrotate.d/sluice failed" "$WORK/logrotate.log"
[[ -f $WORK/fresh/var/log/sluice/demo.log.1 && ! -s $WORK/fresh/var/log/sluice/demo.log ]] ||
  fail "logrotate did not rotate /var/log/sluice/demo.log (copytruncate)" "$WORK/logrotate.log"
echo "   verify: clean; logrotate: demo.log -> demo.log.1"

step "sluice-dev: the example plugin built out of tree with pkg-config sluice-sdk"
apt_install fresh fresh-dev.log "/tmp/debs/sluice-dev_${new_version}_$ARCH.deb" g++ meson pkg-config
in_root fresh pkg-config --cflags sluice-sdk | grep -q -- "-std=c++20" || fail "pkg-config --cflags sluice-sdk lacks -std=c++20"
in_root fresh sh -c 'cp -r /usr/share/doc/sluice-dev/examples /tmp/example && cd /tmp/example &&
  meson setup build && ninja -C build && meson install -C build' >"$WORK/example-build.log" 2>&1 ||
  fail "building and installing the example plugin failed" "$WORK/example-build.log"
in_root fresh sluice plugins >"$WORK/plugins-after.txt" 2>&1
grep -qF "com.example.MySource" "$WORK/plugins-after.txt" ||
  fail "the installed sluice does not list com.example.MySource from /usr/lib/$MULTIARCH/sluice/plugins/example/lib" "$WORK/plugins-after.txt"
cat >"$WORK/fresh/tmp/example.toml" <<'EOF'
[a1.sources.r1]
type = "com.example.MySource"
channels = ["c1"]
prefix = "hello-"
totalEvents = 25
batchSize = 5

[a1.channels.c1]
type = "memory"

[a1.sinks.k1]
type = "com.example.MySink"
channel = "c1"
prefix = "["
suffix = "]"
EOF
log=$WORK/example-agent.log
agent_in_root fresh "$log" -n a1 -f /tmp/example.toml
wait_log "$log" "[hello-24]" 1 60
stop_agent "$AGENT_PID" "$log"
[[ $(grep -oE '\[hello-[0-9]+\]' "$log" | sort -u | wc -l) -eq 25 ]] || fail "not 25 distinct example events" "$log"
echo "   built, installed into the plugin directory, loaded without options: 25 events"

# ==== the upgrade root: previous release -> this one, remove, purge ====
step "upgrade root: the previous release ($old_version) writes 500 events to a file channel"
new_root upgrade
apt_install upgrade old-install.log "/tmp/debs/sluice_${old_version}_$ARCH.deb"
# fc_config: /etc/sluice/fc.properties, agent fc with its file channel in /var/lib/sluice/fc;
# the source's and the sink's own keys come from stdin.
fc_config() {
  {
    printf '%s\n' "fc.sources = r1" "fc.channels = c1" "fc.sinks = k1" "fc.sources.r1.channels = c1" \
      "fc.channels.c1.type = file" "fc.channels.c1.checkpointDir = fc/checkpoint" \
      "fc.channels.c1.dataDirs = fc/data" "fc.sinks.k1.channel = c1"
    cat
  } >"$WORK/upgrade/etc/sluice/fc.properties"
}
fc_config <<'EOF'
fc.sources.r1.type = seq
fc.sources.r1.totalEvents = 500
# Nothing listens there: every batch rolls back and the events stay in the channel.
fc.sinks.k1.type = avro
fc.sinks.k1.hostname = 127.0.0.1
fc.sinks.k1.port = 9
EOF
chmod 644 "$WORK/upgrade/etc/sluice/fc.properties"
as_service upgrade fc "$WORK/old-agent.log" "--monitor-port 0 --drain-timeout 500"
port=""
deadline=$((SECONDS + 60))
until [[ -n $port ]]; do
  ((SECONDS < deadline)) || fail "the previous release's agent logged no monitoring port" "$WORK/old-agent.log"
  sleep 0.2
  # On stderr, or in /var/log/sluice/fc.log for a release that writes Flume's log file.
  port=$({ cat "$WORK/old-agent.log" "$WORK/upgrade/var/log/sluice/fc.log" 2>/dev/null || true; } |
    sed -nE 's|.*monitoring: listening on http://[^:]+:([0-9]+).*|\1|p' | tail -n 1)
done
deadline=$((SECONDS + 120))
until [[ $(metric "$port" CHANNEL.c1 ChannelSize) == 500 ]]; do
  ((SECONDS < deadline)) || fail "the file channel never held 500 events" "$WORK/old-agent.log"
  sleep 0.2
done
stop_agent "$AGENT_PID" "$WORK/old-agent.log"

# check_live NAME LOG: `sluice channel-check` says the channel holds 500 events.
check_live() {
  in_root "$1" runuser -u sluice -- sluice channel-check --checkpoint-dir /var/lib/sluice/fc/checkpoint \
    --data-dirs /var/lib/sluice/fc/data >"$WORK/$2" 2>&1 || fail "sluice channel-check failed" "$WORK/$2"
  grep -qx "live events: 500" "$WORK/$2" || fail "the file channel does not hold 500 events" "$WORK/$2"
}
check_live upgrade check-old.log
snapshot upgrade >"$WORK/before-upgrade.txt"
echo "   $(wc -l <"$WORK/before-upgrade.txt") files in /var/lib/sluice and /var/log/sluice; channel-check: 500 live events"

step "upgrade to $new_version: /var/lib/sluice untouched, the new sluice delivers all 500"
apt_install upgrade upgrade.log "/tmp/debs/sluice_${new_version}_$ARCH.deb"
# shellcheck disable=SC2016 # dpkg-query's own ${Version}
[[ $(in_root upgrade dpkg-query -W -f='${Version}' sluice) == "$new_version" ]] ||
  fail "sluice is not at $new_version" "$WORK/upgrade.log"
snapshot upgrade >"$WORK/after-upgrade.txt"
diff "$WORK/before-upgrade.txt" "$WORK/after-upgrade.txt" >"$WORK/upgrade-diff.txt" ||
  fail "the upgrade changed files in /var/lib/sluice or /var/log/sluice" "$WORK/upgrade-diff.txt"
check_live upgrade check-new.log
# The same channel, now drained by a file_roll sink; the netcat source only keeps the agent up.
fc_config <<'EOF'
fc.sources.r1.type = netcat
fc.sources.r1.bind = 127.0.0.1
fc.sources.r1.port = 0
fc.sinks.k1.type = file_roll
fc.sinks.k1.sink.directory = out
fc.sinks.k1.sink.rollInterval = 1
EOF
in_root upgrade runuser -u sluice -- mkdir /var/lib/sluice/out
as_service upgrade fc "$WORK/new-agent.log" ""
delivered() { cat "$WORK"/upgrade/var/lib/sluice/out/* 2>/dev/null | sort -n | uniq | wc -l; }
deadline=$((SECONDS + 120))
until (($(delivered) >= 500)); do
  ((SECONDS < deadline)) || fail "the new sluice delivered $(delivered) of the 500 events" "$WORK/new-agent.log"
  sleep 0.2
done
stop_agent "$AGENT_PID" "$WORK/new-agent.log"
[[ $(cat "$WORK"/upgrade/var/lib/sluice/out/* | sort -n) == "$(seq 0 499)" ]] ||
  fail "the delivered events are not exactly 0..499, each once"
echo "   the 500 events written by $old_version delivered by $new_version, each once"

step "apt-get remove keeps /var/lib/sluice and /var/log/sluice; purge deletes them"
snapshot upgrade >"$WORK/before-remove.txt"
in_root upgrade apt-get remove -y -q sluice >"$WORK/remove.log" 2>&1 ||
  fail "apt-get remove sluice failed" "$WORK/remove.log"
[[ ! -e $WORK/upgrade/usr/bin/sluice ]] || fail "/usr/bin/sluice is still there after remove"
snapshot upgrade >"$WORK/after-remove.txt"
diff "$WORK/before-remove.txt" "$WORK/after-remove.txt" >"$WORK/remove-diff.txt" ||
  fail "removal changed files in /var/lib/sluice or /var/log/sluice" "$WORK/remove-diff.txt"
in_root upgrade apt-get purge -y -q sluice >"$WORK/purge.log" 2>&1 ||
  fail "apt-get purge sluice failed" "$WORK/purge.log"
[[ ! -e $WORK/upgrade/var/lib/sluice && ! -e $WORK/upgrade/var/log/sluice ]] ||
  fail "purge left /var/lib/sluice or /var/log/sluice" "$WORK/purge.log"
echo "   remove: $(wc -l <"$WORK/after-remove.txt") files kept; purge: both directories gone"

step "done in $((SECONDS - T0)) s"
echo "PASS"
