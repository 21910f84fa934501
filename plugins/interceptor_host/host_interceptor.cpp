#include "host_interceptor.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <limits.h>
#include <cerrno>
#include <cstring>

#include "config_keys.hpp"
#include "text_util.hpp"

namespace sluice::plugins::host {

const sdk::Schema& hostSchema() {
  static const sdk::Schema schema{
      sdk::Key("hostHeader").string().def("host").doc("The header key to be used"),
      sdk::Key("useIP").boolean().def("true").doc(
          "Use the IP address if true, else use the host name"),
      sdk::Key("preserveExisting")
          .boolean()
          .def("false")
          .doc("If the header already exists, keep its value instead of replacing it"),
  };
  return schema;
}

std::optional<std::string> localHost(bool useIP, std::string* error) {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) {
    if (error) *error = std::string("gethostname failed: ") + text::errnoText(errno);
    return std::nullopt;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(name, nullptr, &hints, &list);
  if (rc != 0 || !list) {
    if (error)
      *error = std::string("cannot resolve local host name '") + name + "': " + gai_strerror(rc);
    return std::nullopt;
  }
  // Java prefers IPv4 unless java.net.preferIPv6Addresses is set.
  const addrinfo* pick = list;
  for (const addrinfo* a = list; a; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr =
      pick->ai_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(pick->ai_addr)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(pick->ai_addr)->sin6_addr);
  const bool haveText = inet_ntop(pick->ai_family, addr, text, sizeof text) != nullptr;
  std::string out;
  if (!useIP) {
    char canonical[NI_MAXHOST] = {};
    if (getnameinfo(pick->ai_addr, pick->ai_addrlen, canonical, sizeof canonical, nullptr, 0,
                    NI_NAMEREQD) == 0)
      out = canonical;
  }
  freeaddrinfo(list);
  if (out.empty()) {
    if (!haveText) {
      if (error) *error = std::string("cannot format the address of '") + name + "'";
      return std::nullopt;
    }
    out = text;  // useIP, or no reverse name: Java falls back to the address text too
  }
  return out;
}

void HostInterceptorBuilder::configure(const sdk::Context& context) {
  std::string header = requireValue(context, "hostHeader");
  if (header.empty()) context.fail("hostHeader", "must not be empty");
  bool useIP = requireBoolean(context, "useIP");
  bool preserve = requireBoolean(context, "preserveExisting");
  header_ = std::move(header);
  useIP_ = useIP;
  preserveExisting_ = preserve;
}

std::unique_ptr<sdk::Interceptor> HostInterceptorBuilder::build() {
  std::string error;
  std::optional<std::string> host = localHost(useIP_, &error);
  if (!host)
    logger().warn("could not get the local host address, so events get no '", header_,
                  "' header: ", error);
  return std::make_unique<HostInterceptor>(header_, preserveExisting_, std::move(host));
}

}  // namespace sluice::plugins::host
