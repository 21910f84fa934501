#pragma once
// com.example.MyInterceptor$Builder: sets one header on every event, keeping a value the event
// already has (like Flume's static interceptor with preserveExisting = true).
//
// As in Flume, the configured component is the Builder; the host builds one Interceptor from it
// per source. `type = com.example.MyInterceptor$Builder` and `type = com.example.MyInterceptor`
// both name it.

#include <memory>
#include <string>

#include <sluice/sdk/sdk.hpp>

namespace example {

class MyInterceptor final : public sluice::sdk::Interceptor {
 public:
  MyInterceptor(std::string header, std::string value)
      : header_(std::move(header)), value_(std::move(value)) {}

  // Runs on the source's threads, possibly several at once: it only reads its members.
  bool intercept(sluice::sdk::Event& event) override;

 private:
  const std::string header_;
  const std::string value_;
};

class MyInterceptorBuilder final : public sluice::sdk::InterceptorBuilder {
 public:
  static sluice::sdk::Schema schema();

  void configure(const sluice::sdk::Context& context) override;
  std::unique_ptr<sluice::sdk::Interceptor> build() override;

 private:
  std::string header_ = "example";
  std::string value_;
};

}  // namespace example
