#pragma once
// TLS for every listener and client of the network layer, from the same keys everywhere:
//
//   ssl                     true turns TLS on
//   ssl.certificate/ssl.key PEM certificate chain and private key (ssl.key-password if encrypted)
//   keystore (+ -password, -type)   Flume's key store instead: PKCS12 through OpenSSL, or PEM
//                           with chain and key in one file. JKS cannot be read without Java and
//                           is refused with the keytool command that converts it (a "JKS" store
//                           whose file is really PKCS12, as Java 9+ keytool writes them, is read)
//   ssl.ca                  PEM CA certificates: the server verifies client certificates with
//                           them (ssl.client-auth), the client the server's
//   ssl.client-auth         none | optional | required (server; beyond Flume)
//   truststore (+ -password, -type), trust-all-certs   the client's trust, as Flume's sinks
//   include-/exclude-protocols, include-/exclude-cipher-suites   Java's names (TLSv1.2,
//                           TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), which are the IANA names
//                           OpenSSL reports as SSL_CIPHER_standard_name
//
// Plugins append tlsServerKeys() or tlsClientKeys() to their schema and call configureTls() in
// configure(); a plugin whose Flume counterpart spells the keys differently (the HTTP source's
// keystorePassword, excludeProtocols) passes its own TlsKeyNames. OpenSSL and Asio stay out of
// this header: the context is opaque to plugins.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/sdk/context.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::net {

enum class TlsRole { Server, Client };
enum class ClientAuth { None, Optional, Required };

// How a plugin spells each TLS key (defaults: the avro source's and sink's Flume spellings plus
// sluice's ssl.* keys).
struct TlsKeyNames {
  std::string enable = "ssl";
  std::string certificate = "ssl.certificate";
  std::string key = "ssl.key";
  std::string keyPassword = "ssl.key-password";
  std::string ca = "ssl.ca";
  std::string clientAuth = "ssl.client-auth";
  std::string keystore = "keystore";
  std::string keystorePassword = "keystore-password";
  std::string keystoreType = "keystore-type";
  std::string truststore = "truststore";
  std::string truststorePassword = "truststore-password";
  std::string truststoreType = "truststore-type";
  std::string trustAllCerts = "trust-all-certs";
  std::string includeProtocols = "include-protocols";
  std::string excludeProtocols = "exclude-protocols";
  std::string includeCipherSuites = "include-cipher-suites";
  std::string excludeCipherSuites = "exclude-cipher-suites";
};

struct TlsOptions {
  // The own certificate (a server's; a client's for client authentication): PEM files ...
  std::string certificate, key, keyPassword;
  // ... or a key store.
  std::string keystore, keystorePassword, keystoreType = "JKS";
  // Whom to trust. A client with neither ca nor truststore trusts the system's CAs.
  std::string ca;
  std::string truststore, truststorePassword, truststoreType = "JKS";
  bool trustAllCerts = false;                // client: no verification at all
  ClientAuth clientAuth = ClientAuth::None;  // server
  std::vector<std::string> includeProtocols;
  std::vector<std::string> excludeProtocols{"SSLv3"};
  std::vector<std::string> includeCipherSuites;
  std::vector<std::string> excludeCipherSuites;
  // For messages: errors name the key as the plugin spells it.
  TlsKeyNames names;
};

struct TlsError {
  std::string key;  // the config key at fault, as spelled in names
  std::string message;
};

// An OpenSSL context, ready for connections; shared by every connection of a listener or
// client. Immutable once built, so it may be shared across threads.
class TlsContext {
 public:
  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl) noexcept;
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  TlsRole role() const noexcept;
  Impl& impl() const noexcept { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Builds a context; null with *error set (key and reason) when the options cannot be used.
std::shared_ptr<const TlsContext> makeTlsContext(const TlsOptions& options, TlsRole role,
                                                 TlsError* error) noexcept;

// The schema keys, for a plugin to append to its own (see keys.hpp).
std::vector<sdk::Key> tlsServerKeys(const TlsKeyNames& names = {});
std::vector<sdk::Key> tlsClientKeys(const TlsKeyNames& names = {});

// The options from a component's keys; nullopt when ssl is false. Inconsistent keys are config
// errors (Context::fail) naming the key.
std::optional<TlsOptions> readTlsOptions(const sdk::Context& context, TlsRole role,
                                         const TlsKeyNames& names = {});

// readTlsOptions + makeTlsContext for configure(): null when ssl is false; a problem with a
// file (missing, wrong password, JKS, no such protocol) is a config error naming its key.
std::shared_ptr<const TlsContext> configureTls(const sdk::Context& context, TlsRole role,
                                               const TlsKeyNames& names = {});

}  // namespace sluice::plugins::net
