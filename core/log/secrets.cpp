#include "core/log/secrets.hpp"

#include <algorithm>
#include <cctype>

#include "plugins/common/text_util.hpp"

namespace sluice::core {
namespace {

using plugins::text::lower;

// The dotted segment `back` places before the last one ("" when there is none).
std::string_view segmentFromEnd(std::string_view key, std::size_t back) {
  std::size_t end = key.size();
  for (;;) {
    const std::size_t dot = end == 0 ? std::string_view::npos : key.rfind('.', end - 1);
    const std::size_t begin = dot == std::string_view::npos ? 0 : dot + 1;
    if (back == 0) return key.substr(begin, end - begin);
    if (dot == std::string_view::npos) return {};
    end = dot;
    --back;
  }
}

// Where the next URL password ("://user:PASSWORD@") lies in `text` at or after `from`:
// [*begin, *end), or false. Already masked passwords are skipped.
bool nextUrlPassword(std::string_view text, std::size_t from, std::size_t* begin,
                     std::size_t* end) {
  for (std::size_t at = text.find("://", from); at != std::string_view::npos;
       at = text.find("://", at + 3)) {
    const std::size_t start = at + 3;
    const std::size_t stop = text.find_first_of("/?# \t\n\"'", start);
    const std::size_t authority = stop == std::string_view::npos ? text.size() : stop;
    const std::size_t atSign = text.rfind('@', authority);
    if (atSign == std::string_view::npos || atSign < start) continue;
    const std::size_t colon = text.find(':', start);
    if (colon == std::string_view::npos || colon > atSign) continue;
    if (text.substr(colon + 1, atSign - colon - 1) == kSecretMask) continue;
    *begin = colon + 1;
    *end = atSign;
    return true;
  }
  return false;
}

}  // namespace

bool isSecretKey(std::string_view key) {
  const std::string last = lower(segmentFromEnd(key, 0));
  for (const char* w : {"password", "passwd", "passphrase", "secret", "token", "credential"})
    if (last.find(w) != std::string::npos) return true;
  if (last == "key") return lower(segmentFromEnd(key, 2)) != "interceptors";
  return last.ends_with("key") && !last.ends_with("headerkey");
}

bool maskSecretsInto(std::string_view text, const std::vector<std::string>& secrets,
                     std::string& out) {
  // First only look: most text holds no secret and no URL with a password.
  bool found = false;
  for (const auto& secret : secrets)
    if (secret.size() >= 3 && text.find(secret) != std::string_view::npos) {
      found = true;
      break;
    }
  std::size_t b = 0, e = 0;
  if (!found && !nextUrlPassword(text, 0, &b, &e)) return false;

  std::string s(text);
  for (const auto& secret : secrets) {
    if (secret.size() < 3) continue;
    for (std::size_t at = s.find(secret); at != std::string::npos;
         at = s.find(secret, at + kSecretMask.size()))
      s.replace(at, secret.size(), kSecretMask);
  }
  // scheme://user:password@host: the password goes, whatever it is.
  for (std::size_t from = 0; nextUrlPassword(s, from, &b, &e);) {
    s.replace(b, e - b, kSecretMask);
    from = b + kSecretMask.size();
  }
  out = std::move(s);
  return true;
}

std::string maskSecrets(std::string_view text, const std::vector<std::string>& secrets) {
  std::string out;
  if (!maskSecretsInto(text, secrets, out)) return std::string(text);
  return out;
}

void SecretRegistry::add(const std::vector<std::string>& values) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<std::vector<std::string>>(*values_);
  for (const auto& v : values)
    if (!v.empty()) next->push_back(v);
  std::sort(next->begin(), next->end(),
            [](const auto& a, const auto& b) { return a.size() != b.size() ? a.size() > b.size() : a < b; });
  next->erase(std::unique(next->begin(), next->end()), next->end());
  values_ = std::move(next);
}

std::shared_ptr<const std::vector<std::string>> SecretRegistry::values() const {
  std::lock_guard lock(mutex_);
  return values_;
}

bool SecretRegistry::maskInto(std::string_view text, std::string& out) const {
  return maskSecretsInto(text, *values(), out);
}

std::string SecretRegistry::mask(std::string_view text) const {
  return maskSecrets(text, *values());
}

}  // namespace sluice::core
