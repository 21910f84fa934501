#!/usr/bin/env bash
# Set-up command 2 (and what CI runs, through .ci/run): installs what sluice needs, builds it and
# runs every test, in phases:
#   gcc    the whole suite built as shipped (g++, --buildtype=release, no debug info: a fifth
#          less compile time than debugoptimized) in build-test/, with the benchmark drivers
#          (built, not run, so a change that breaks scripts/bench fails here)
#   asan   clang with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ (a unity
#          build, as tsan's; see UNITY below): the whole suite again; any sanitizer report
#          (also from agent processes the tests start) fails
#   tsan   clang with ThreadSanitizer in build-tsan/: the channel, runner and network tests, but
#          not the Kafka ones: librdkafka's own (uninstrumented) threads crash TSan's runtime
#   fuzz   every libFuzzer target for FUZZ_SECONDS (default 10) from its seed corpus, FUZZ_JOBS
#          (default 2, one per core) at a time
#   tidy   clang-tidy (.clang-tidy) on the C++ files changed since TIDY_BASE (default HEAD~1;
#          in a shallow clone scripts/tidy fetches that commit)
# Tests are a meson option (-Dtests=true, off by default so scripts/setup-demo.sh builds only the
# binary and plugins); every phase here turns it on, also in a build dir configured without it.
#   package  the Debian packages built and tested on fresh debootstrap roots
#          (tests/package/test_package.sh), only when the packaging inputs changed: when the hash
#          of scripts/package-inputs differs from the one committed in
#          tests/package/verified-inputs.sha256; PACKAGE_TEST=always or never overrides
# PHASES="gcc tsan" scripts/test.sh runs some. The last line is "N passed, M failed", summed
# over every phase (each fuzz target and the tidy run count as one test).
#
#   sudo scripts/test.sh
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

PHASES=${PHASES:-gcc asan tsan fuzz tidy package}
# shellcheck source=scripts/packages.sh
source "$REPO/scripts/packages.sh"
PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}")

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

# syslog-ng for the syslog tests, unpacked beside rsyslog (see packages.sh); the tests find it
# through SLUICE_SYSLOG_NG.
SYSLOG_NG_ROOT="$REPO/build-test-tools/syslog-ng"
if [[ ! -x $SYSLOG_NG_ROOT/usr/sbin/syslog-ng ]]; then
  say "Unpacking $SYSLOG_NG_PACKAGE for the syslog tests"
  rm -rf "$SYSLOG_NG_ROOT" && mkdir -p "$SYSLOG_NG_ROOT"
  (cd "$SYSLOG_NG_ROOT" && apt-get download -q "$SYSLOG_NG_PACKAGE" &&
    dpkg -x ./"$SYSLOG_NG_PACKAGE"_*.deb .) || die "could not download and unpack $SYSLOG_NG_PACKAGE"
fi
export SLUICE_SYSLOG_NG="$SYSLOG_NG_ROOT/usr/sbin/syslog-ng"


# Tests run four at a time on CI's two cores: most of a test is waiting for another process (an
# agent, a server, a Kafka group's rebalance), so at two at a time a core stood idle for most of
# the suite (measured: the gcc phase's tests used 0.4 of a core on average). Each test keeps
# to its own temporary directory and system-picked ports, so they do not meet.
TEST_JOBS=${TEST_JOBS:-4}
# The two sanitizer trees are unity builds: meson compiles a target's sources eight to a file, so
# the headers every file includes (Boost.Asio, spdlog, toml++, the SDK) are parsed once per eight
# files. At -O0 parsing is most of a compile: the core library's files took 85 s of CPU one by
# one and 27 s eight to a file (clang, ASan). The gcc tree stays one file at a time, as shipped
# and as developers build, so a file that only compiles after its unity neighbours (a missing
# include) still fails there, and clang-tidy reads its per-file compile commands.
UNITY="-Dunity=on -Dunity_size=8"
TOTAL_PASSED=0
TOTAL_FAILED=0
FAILED_PHASES=()
record() { # phase passed failed
  TOTAL_PASSED=$((TOTAL_PASSED + $2))
  TOTAL_FAILED=$((TOTAL_FAILED + $3))
  if (($3 > 0)); then FAILED_PHASES+=("$1"); fi
  printf '==> %s: %d passed, %d failed (%d s)\n' "$1" "$2" "$3" $((SECONDS - PHASE_START))
}

# meson's summary block, e.g. "Ok:                 12". Each count is read from the line that
# starts with its label, so "Fail:" does not match "Expected Fail:".
count() { # label log
  local n
  n=$(sed -nE "s/^$1:[[:space:]]+([0-9]+)[[:space:]]*$/\\1/p" "$2" | tail -n 1)
  echo "${n:-}"
}

# build_and_test PHASE BUILD_DIR "SETUP ARGS" [TEST NAMES...]: configures (once), builds, runs
# meson test and records the counts. With sanitizers, their reports go to BUILD_DIR/sanitizer/
# (log_path), so a report from any process a test started fails the phase even when the test
# itself did not notice.
build_and_test() {
  local phase=$1 build=$2 setup=$3
  shift 3
  # reports is absolute: the tests run in the build directory, where a relative log_path would
  # put the reports one level deeper than where this script looks for them.
  local log="$build/test-output.log" reports="$REPO/$build/sanitizer"
  say "[$phase] configuring $build/"
  if [[ ! -f $build/meson-private/coredata.dat ]]; then
    # shellcheck disable=SC2086
    if ! meson setup "$build" $setup; then
      record "$phase" 0 1
      return
    fi
  else
    # A tree configured earlier (by hand, or before an option existed) gets this phase's options
    # (-Dtests=true above all); meson configure leaves it as it is when they already match.
    # shellcheck disable=SC2086
    if ! meson configure "$build" $setup >/dev/null; then
      record "$phase" 0 1
      return
    fi
  fi
  # With a test selection, build only what those tests need. The list comes from meson's
  # introspection, so regenerate first: in a tree configured before a meson.build changed it
  # would name the old targets.
  local targets=()
  if (($# > 0)); then
    ninja -C "$build" build.ninja >/dev/null || true
    mapfile -t targets < <(cd "$build" && python3 -c '
import json, os, subprocess, sys
def introspect(what):
    return json.loads(subprocess.run(["meson", "introspect", what], check=True,
                                     capture_output=True, text=True).stdout)
files = {t["id"]: t["filename"] for t in introspect("--targets")}
suites = {a[len("--suite="):] for a in sys.argv[1:] if a.startswith("--suite=")}
skip = {a[len("--no-suite="):] for a in sys.argv[1:] if a.startswith("--no-suite=")}
out = set()
for t in introspect("--tests"):
    mine = {s.split(":")[-1] for s in t["suite"]}
    if suites & mine and not skip & mine:
        for d in t.get("depends", []):
            out.update(files.get(d, []))
        if t["cmd"] and t["cmd"][0].startswith(os.getcwd()):
            out.add(t["cmd"][0])
for f in sorted(out):
    print(os.path.relpath(f))' "$@")
  fi
  say "[$phase] building (ninja -C $build ${targets:+<${#targets[@]} targets>})"
  if ! ninja -C "$build" ${targets[@]+"${targets[@]}"}; then
    echo "error: [$phase] the build failed; see the compiler errors above" >&2
    record "$phase" 0 1
    return
  fi
  rm -rf "$reports"
  mkdir -p "$reports"
  say "[$phase] running the tests; full output in $log"
  local rc=0
  # intercept_tls_get_addr=0: clang 14's LeakSanitizer records a bogus dynamic-TLS range for the
  # main thread of an agent that loaded the TLS thrift source (glibc 2.36), and its tracer then
  # crashes at exit ("Tracer caught signal 11"), failing the agent's exit code. Without the
  # interception, dynamic TLS blocks are still found through the thread's DTV like any heap block.
  ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0" \
    UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1" \
    TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=0:second_deadlock_stack=1" \
    meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "$TEST_JOBS" \
    --timeout-multiplier "${TIMEOUT_MULTIPLIER:-3}" "$@" 2>&1 | tee "$log" || rc=$?
  local ok fail xfail xpass timeout
  ok=$(count "Ok" "$log")
  xfail=$(count "Expected Fail" "$log")
  fail=$(count "Fail" "$log")
  xpass=$(count "Unexpected Pass" "$log")
  timeout=$(count "Timeout" "$log")
  if [[ -z $ok || -z $fail ]]; then
    echo "error: [$phase] no test summary (Ok:/Fail: lines) from meson test (exit $rc); see $log" >&2
    record "$phase" 0 1
    return
  fi
  local passed=$((ok + ${xfail:-0})) failed=$((fail + ${xpass:-0} + ${timeout:-0}))
  if ((failed == 0 && rc != 0)); then
    echo "error: [$phase] meson test exited with status $rc but its summary shows no failure" >&2
    failed=1
  fi
  if compgen -G "$reports/*" >/dev/null; then
    echo "error: [$phase] sanitizer reports were written; each one counts as a failure:" >&2
    for r in "$reports"/*; do
      printf -- '--- %s\n' "$r" >&2
      head -n 60 "$r" >&2
    done
    failed=$((failed + $(find "$reports" -type f | wc -l)))
  fi
  record "$phase" "$passed" "$failed"
}

for phase in $PHASES; do
  PHASE_START=$SECONDS
  case $phase in
    gcc)
      build_and_test gcc build-test "--buildtype=release -Dtests=true -Dbenches=true"
      ;;
    asan)
      # The fuzz targets are built here too (-Dfuzz=true), so the fuzz phase reuses this tree.
      CC=clang CXX=clang++ build_and_test asan build-asan \
        "--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dtests=true -Dfuzz=true $UNITY"
      ;;
    tsan)
      CC=clang CXX=clang++ build_and_test tsan build-tsan \
        "--buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dtests=true $UNITY" \
        --suite=runtime --suite=channels --suite=network --no-suite=kafka
      ;;
    fuzz)
      say "[fuzz] running every fuzz target for ${FUZZ_SECONDS:-10} s"
      if [[ ! -f build-asan/build.ninja ]]; then
        # shellcheck disable=SC2086
        CC=clang CXX=clang++ meson setup build-asan --buildtype=debug \
          -Db_sanitize=address,undefined -Db_lundef=false -Dtests=true -Dfuzz=true $UNITY
      fi
      fuzz_log=build-asan/fuzz-output.log
      rc=0
      BUILD=build-asan FUZZ_SECONDS=${FUZZ_SECONDS:-10} FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz 2>&1 |
        tee "$fuzz_log" || rc=$?
      ran=$(grep -c '^==> fuzz ' "$fuzz_log" || true)
      bad=$(grep -c '    FAILED:' "$fuzz_log" || true)
      if ((rc != 0 && bad == 0)); then bad=1; fi
      record fuzz $((ran - (bad > ran ? ran : bad))) "$bad"
      ;;
    tidy)
      say "[tidy] clang-tidy on the C++ files changed since ${TIDY_BASE:-HEAD~1}"
      # scripts/tidy configures build-test/ (-Dtests=true) itself when the gcc phase did not run.
      if scripts/tidy "${TIDY_BASE:-HEAD~1}"; then record tidy 1 0; else record tidy 0 1; fi
      ;;
    package)
      # Runs when the packaging inputs differ from the hash committed in
      # tests/package/verified-inputs.sha256 (scripts/package-inputs says why), so the submission
      # that changes packaging runs it in CI and the one that commits the refreshed hash does not.
      if [[ ${PACKAGE_TEST:-auto} == never ]]; then
        say "[package] skipped (PACKAGE_TEST=never)"
      elif [[ ${PACKAGE_TEST:-auto} == auto ]] && scripts/package-inputs --check; then
        say "[package] skipped: packaging inputs unchanged since their last verified run"
      else
        say "[package] Debian packages on fresh Debian 12 roots (tests/package/test_package.sh)"
        mkdir -p build-deb
        # The gcc phase's build is packaged instead of compiling the tree again.
        prebuilt=""
        [[ -f build-test/build.ninja ]] && prebuilt="build-test"
        if SLUICE_PKG_PREBUILT=$prebuilt tests/package/test_package.sh 2>&1 |
          tee build-deb/package-test.log; then
          record package 1 0
          echo "[package] passed: commit the refreshed hash with scripts/package-inputs --update"
        else
          record package 0 1
        fi
      fi
      ;;
    *)
      die "unknown phase '$phase' in PHASES (expected gcc asan tsan fuzz tidy package)"
      ;;
  esac
done

if ((TOTAL_FAILED > 0)); then
  echo "error: failures in: ${FAILED_PHASES[*]}; their logs are above" >&2
  status=1
elif ((TOTAL_PASSED == 0)); then
  echo "error: no test passed" >&2
  status=1
else
  status=0
fi
# The last line, for people and for CI: exactly "N passed, M failed".
echo "${TOTAL_PASSED} passed, ${TOTAL_FAILED} failed"
exit "$status"
