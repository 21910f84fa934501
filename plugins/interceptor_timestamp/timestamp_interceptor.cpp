#include "timestamp_interceptor.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "config_keys.hpp"

namespace sluice::plugins::timestamp {

const sdk::Schema& timestampSchema() {
  static const sdk::Schema schema{
      sdk::Key("headerName")
          .string()
          .def("timestamp")
          .doc("The name of the header in which to place the timestamp"),
      sdk::Key("preserveExisting")
          .boolean()
          .def("false")
          .doc("If the header already exists, keep its value instead of replacing it"),
  };
  return schema;
}

void TimestampInterceptor::apply(sdk::Event& event) const {
  if (preserveExisting_ && event.headers.contains(headerName_)) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // 13 digits today: short enough for the string's inline buffer, so no allocation for the value.
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, now);
  (void)ec;  // cannot fail: 24 chars hold any int64
  event.headers.set(headerName_, std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

void TimestampInterceptorBuilder::configure(const sdk::Context& context) {
  std::string header = requireValue(context, "headerName");
  if (header.empty()) context.fail("headerName", "must not be empty");
  preserveExisting_ = requireBoolean(context, "preserveExisting");
  headerName_ = std::move(header);
}

std::unique_ptr<sdk::Interceptor> TimestampInterceptorBuilder::build() {
  return std::make_unique<TimestampInterceptor>(headerName_, preserveExisting_);
}

}  // namespace sluice::plugins::timestamp
