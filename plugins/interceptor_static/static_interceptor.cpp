#include "static_interceptor.hpp"

#include "config_keys.hpp"

namespace sluice::plugins::staticheader {

const sdk::Schema& staticSchema() {
  static const sdk::Schema schema{
      sdk::Key("key").string().def("key").doc("Name of the header that should be created"),
      sdk::Key("value").string().def("value").doc("Static value that should be created"),
      sdk::Key("preserveExisting")
          .boolean()
          .def("true")
          .doc("If the header already exists, keep its value instead of replacing it"),
  };
  return schema;
}

void StaticInterceptorBuilder::configure(const sdk::Context& context) {
  std::string key = requireValue(context, "key");
  if (key.empty()) context.fail("key", "must not be empty");
  std::string value = requireValue(context, "value");
  bool preserve = requireBoolean(context, "preserveExisting");
  key_ = std::move(key);
  value_ = std::move(value);
  preserveExisting_ = preserve;
}

std::unique_ptr<sdk::Interceptor> StaticInterceptorBuilder::build() {
  logger().info("creating static interceptor: preserveExisting=",
                preserveExisting_ ? "true" : "false", ", key=", key_, ", value=", value_);
  return std::make_unique<StaticInterceptor>(key_, value_, preserveExisting_);
}

}  // namespace sluice::plugins::staticheader
