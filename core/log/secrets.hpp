#pragma once
// Which configuration values are secrets, and masking them out of anything the agent prints:
// its log (stderr and the status page's ring), error messages, `sluice validate`, /config and
// /api/status. A value is a secret when
//   - a plugin's schema marks its key isSecret(), or
//   - its key's name says so (isSecretKey), for keys no schema describes (host keys, pass-through
//     families such as kafka.producer.*).
// Masking also removes the password of any URL ("scheme://user:password@host"), whatever its key.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::core {

inline constexpr std::string_view kSecretMask = "******";

// Whether a configuration key (the full dotted name, e.g. "a1.sinks.k1.ssl.key") names a secret.
// The rule looks at the last dotted segment, in any case:
//   - it contains password, passwd, passphrase, secret, token or credential: a secret
//     (keystorePassword, truststore.password, clientSecret, sasl.token...);
//   - it ends in "key" after other letters (apiKey, accessKey, privateKey, sslKey): a secret,
//     except "...HeaderKey" (fileHeaderKey, basenameHeaderKey), which names a header;
//   - it is exactly "key": a secret (ssl.key, aws.key), except directly on an interceptor
//     (<agent>.sources.<src>.interceptors.<name>.key), where Flume uses `key` for the name of the
//     header the interceptor sets (static interceptor) and a header name is not a secret.
// A plugin whose secret does not match these names declares it with sdk::Key::isSecret().
bool isSecretKey(std::string_view key);

// Replaces, in free text, every occurrence of the given secret values (those of 3 characters or
// more: shorter ones cannot be told from ordinary text) and the password of any URL's
// "user:password@" part with "******". `secrets` should be sorted longest first (a secret that
// contains another is then masked whole).
std::string maskSecrets(std::string_view text, const std::vector<std::string>& secrets);
// Like maskSecrets, but returns false without writing `out` when there is nothing to mask: the
// common case costs a few substring searches and no allocation.
bool maskSecretsInto(std::string_view text, const std::vector<std::string>& secrets,
                     std::string& out);

// The secret values known to one process, shared by its log sinks (every thread), the CLI and
// the monitoring server. Values are only ever added (on start and on each reload): a message
// about a component that a reload replaced may still carry the old value. Thread-safe.
class SecretRegistry {
 public:
  // Adds the non-empty values; keeps the set sorted longest first.
  void add(const std::vector<std::string>& values);
  std::shared_ptr<const std::vector<std::string>> values() const;
  bool maskInto(std::string_view text, std::string& out) const;
  std::string mask(std::string_view text) const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const std::vector<std::string>> values_ =
      std::make_shared<const std::vector<std::string>>();
};

}  // namespace sluice::core
