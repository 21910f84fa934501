# The Debian 12 packages sluice needs, sourced by setup-demo.sh and test.sh (one list, one place).
# shellcheck shell=bash
# To build and run sluice:
BUILD_PACKAGES=(meson ninja-build pkg-config g++ cmake libboost-dev libboost-program-options-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev doctest-dev libpcre2-dev zlib1g-dev libzstd-dev
  libssl-dev librdkafka-dev
  libmimalloc-dev libmariadb-dev libpq-dev libsystemd-dev
  python3)
# And to run every test: clang and its sanitizer/fuzzer runtimes and clang-tidy (the asan, tsan,
# fuzz and tidy phases), the tools tests read output with (python3-avro, gzip, zstd), openssl (the
# TLS tests' certificates), promtool (prometheus) to check the Prometheus output, headless
# chromium for the status page, kcat (an independent Kafka client for the interop tests), and
# MariaDB and PostgreSQL servers and clients for the SQL source's tests
# (tests/support/sql_servers.py); for tests/package: systemd (systemd-analyze verify and
# syscall-filter, systemd-sysusers), strace (the system calls an agent makes), groff-base (the
# man page).
TEST_PACKAGES=(python3-avro openssl gzip zstd clang libclang-rt-14-dev clang-tidy git prometheus
  chromium kcat mariadb-server mariadb-client postgresql postgresql-client systemd strace
  groff-base)
# To build the Debian packages (scripts/package-deb) and test them on a fresh Debian root
# (tests/package/test_package.sh, scripts/test.sh's "package" phase).
PACKAGE_PACKAGES=(debhelper dpkg-dev lintian debootstrap)
