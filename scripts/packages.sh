# The Debian 12 packages sluice needs, sourced by setup-demo.sh and test.sh (one list, one place).
# shellcheck shell=bash
# To build and run sluice:
BUILD_PACKAGES=(meson ninja-build pkg-config g++ cmake libboost-dev libboost-program-options-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev doctest-dev libpcre2-dev zlib1g-dev libzstd-dev
  libssl-dev librdkafka-dev
  libmimalloc-dev nlohmann-json3-dev
  python3)
# And to run every test: clang and its sanitizer/fuzzer runtimes and clang-tidy (the asan, tsan,
# fuzz and tidy phases), the tools tests read output with (python3-avro, gzip, zstd), openssl (the
# TLS tests' certificates), promtool (prometheus) to check the Prometheus output, headless
# chromium for the status page, kcat (an independent Kafka client for the interop tests), and curl
# and nginx-light (the HTTP source's client and the HTTP sink's server in the interop tests).
TEST_PACKAGES=(python3-avro openssl gzip zstd clang libclang-rt-14-dev clang-tidy git prometheus
  chromium kcat curl nginx-light)
