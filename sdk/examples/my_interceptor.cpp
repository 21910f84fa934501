#include "my_interceptor.hpp"

namespace example {

namespace sdk = sluice::sdk;

bool MyInterceptor::intercept(sdk::Event& event) {
  event.getHeaders().setIfAbsent(header_, value_);
  return true;  // never drops an event
}

sdk::Schema MyInterceptorBuilder::schema() {
  return {
      sdk::Key("header").string().def("example").doc("Name of the header to set"),
      sdk::Key("value").string().req().doc(
          "Value of the header; an event that already has the header keeps its own value"),
  };
}

void MyInterceptorBuilder::configure(const sdk::Context& context) {
  header_ = context.getString("header", "example");
  if (header_.empty()) context.fail("header", "must not be empty");
  value_ = context.requireString("value");
}

std::unique_ptr<sdk::Interceptor> MyInterceptorBuilder::build() {
  return std::make_unique<MyInterceptor>(header_, value_);
}

}  // namespace example
