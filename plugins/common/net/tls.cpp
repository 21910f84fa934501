#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "text_util.hpp"
#include "tls_impl.hpp"

namespace sluice::plugins::net {

namespace ssl = boost::asio::ssl;

TlsContext::TlsContext(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;
TlsRole TlsContext::role() const noexcept { return impl_->role; }

std::string opensslErrorText() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

namespace {

using text::lower;

// Thrown inside this file only; makeTlsContext turns it into a TlsError.
struct Failure {
  std::string key;
  std::string message;
};

[[noreturn]] void refuseJks(const std::string& typeKey, const std::string& storeKey,
                            const std::string& path) {
  throw Failure{typeKey, "JKS stores cannot be read without Java; convert '" + path +
                             "' to PKCS12 with keytool -importkeystore -srckeystore " + path +
                             " -destkeystore store.p12 -deststoretype PKCS12, then set " +
                             storeKey + " to it and " + typeKey + " = PKCS12"};
}

// Java 9+ keytool writes PKCS12 whatever the store is called, and Java's JKS loader reads it:
// so a "JKS" store that is really PKCS12 (DER, starting with a SEQUENCE) is read as PKCS12.
std::string effectiveType(const std::string& type, const std::string& path) {
  if (type != "jks") return type;
  unsigned char magic[2] = {0, 0};
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    const std::size_t n = std::fread(magic, 1, 2, f);
    std::fclose(f);
    if (n == 2 && magic[0] == 0x30 && (magic[1] & 0x80)) return "pkcs12";
  }
  return type;
}

struct P12 {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509) * ca = nullptr;
  P12() = default;
  P12(const P12&) = delete;
  P12& operator=(const P12&) = delete;
  ~P12() {
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
  }
};

void readP12(const std::string& storeKey, const std::string& passwordKey, const std::string& path,
             const std::string& password, P12& out) {
  ERR_clear_error();
  BIO* bio = BIO_new_file(path.c_str(), "rb");
  if (!bio) throw Failure{storeKey, "cannot open '" + path + "': " + opensslErrorText()};
  PKCS12* p12 = d2i_PKCS12_bio(bio, nullptr);
  BIO_free(bio);
  if (!p12) throw Failure{storeKey, "'" + path + "' is not a PKCS12 store: " + opensslErrorText()};
  const int ok = PKCS12_parse(p12, password.c_str(), &out.key, &out.cert, &out.ca);
  PKCS12_free(p12);
  if (!ok)
    throw Failure{passwordKey, "cannot read the PKCS12 store '" + path +
                                   "' (wrong password?): " + opensslErrorText()};
}

class Builder {
 public:
  Builder(const TlsOptions& o, TlsRole role, SSL_CTX* ctx)
      : o_(o), n_(o.names), role_(role), ctx_(ctx) {}

  void build() {
    // Only a server that verifies clients needs this, but it costs nothing: without it OpenSSL
    // refuses a resumed session of a verified client ("session id context uninitialized").
    static const unsigned char kSid[] = "sluice";
    SSL_CTX_set_session_id_context(ctx_, kSid, sizeof kSid - 1);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_COMPRESSION);
    if (role_ == TlsRole::Server || !o_.certificate.empty() || !o_.keystore.empty()) loadOwn();
    loadTrust();
    restrictProtocols();
    restrictCiphers();
  }

 private:
  void loadOwn() {
    ERR_clear_error();
    if (!o_.certificate.empty()) {
      if (o_.key.empty()) throw Failure{n_.key, "is required with " + n_.certificate};
      SSL_CTX_set_default_passwd_cb_userdata(ctx_, const_cast<char*>(o_.keyPassword.c_str()));
      const bool certOk = SSL_CTX_use_certificate_chain_file(ctx_, o_.certificate.c_str()) == 1;
      const std::string certErr = certOk ? "" : opensslErrorText();
      const bool keyOk =
          certOk && SSL_CTX_use_PrivateKey_file(ctx_, o_.key.c_str(), SSL_FILETYPE_PEM) == 1;
      SSL_CTX_set_default_passwd_cb_userdata(ctx_, nullptr);
      if (!certOk)
        throw Failure{n_.certificate,
                      "cannot read the PEM certificate chain '" + o_.certificate + "': " + certErr};
      if (!keyOk)
        throw Failure{n_.key, "cannot read the PEM private key '" + o_.key + "' (encrypted? see " +
                                  n_.keyPassword + "): " + opensslErrorText()};
      if (SSL_CTX_check_private_key(ctx_) != 1)
        throw Failure{n_.key, "'" + o_.key + "' is not the key of '" + o_.certificate + "'"};
      return;
    }
    if (o_.keystore.empty())
      throw Failure{n_.keystore, "is required when " + n_.enable + " = true (or set " +
                                     n_.certificate + " and " + n_.key + ")"};
    const std::string type = effectiveType(lower(o_.keystoreType), o_.keystore);
    if (type == "jks") refuseJks(n_.keystoreType, n_.keystore, o_.keystore);
    if (type == "pkcs12") {
      P12 p;
      readP12(n_.keystore, n_.keystorePassword, o_.keystore, o_.keystorePassword, p);
      if (!p.key || !p.cert)
        throw Failure{n_.keystore, "'" + o_.keystore + "' holds no key and certificate"};
      if (SSL_CTX_use_certificate(ctx_, p.cert) != 1 || SSL_CTX_use_PrivateKey(ctx_, p.key) != 1)
        throw Failure{n_.keystore,
                      "cannot use the key of '" + o_.keystore + "': " + opensslErrorText()};
      for (int i = 0; p.ca && i < sk_X509_num(p.ca); ++i)
        SSL_CTX_add1_chain_cert(ctx_, sk_X509_value(p.ca, i));
    } else if (type == "pem") {
      SSL_CTX_set_default_passwd_cb_userdata(ctx_, const_cast<char*>(o_.keystorePassword.c_str()));
      const bool ok = SSL_CTX_use_certificate_chain_file(ctx_, o_.keystore.c_str()) == 1 &&
                      SSL_CTX_use_PrivateKey_file(ctx_, o_.keystore.c_str(), SSL_FILETYPE_PEM) == 1;
      SSL_CTX_set_default_passwd_cb_userdata(ctx_, nullptr);
      if (!ok)
        throw Failure{n_.keystore,
                      "cannot read the PEM key store '" + o_.keystore +
                          "' (certificate chain and private key): " + opensslErrorText()};
    } else {
      throw Failure{n_.keystoreType, "expected PKCS12 or PEM (JKS must be converted), got '" +
                                         o_.keystoreType + "'"};
    }
    if (SSL_CTX_check_private_key(ctx_) != 1)
      throw Failure{n_.keystore, "the key in '" + o_.keystore + "' does not match its certificate"};
  }

  // Adds ssl.ca and the trust store to the context's verification store; false when neither
  // is set.
  bool loadTrustedCerts() {
    bool any = false;
    ERR_clear_error();
    if (!o_.ca.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, o_.ca.c_str(), nullptr) != 1)
        throw Failure{n_.ca,
                      "cannot read the PEM CA certificates '" + o_.ca + "': " + opensslErrorText()};
      any = true;
    }
    if (!o_.truststore.empty()) {
      const std::string type = effectiveType(lower(o_.truststoreType), o_.truststore);
      if (type == "jks") refuseJks(n_.truststoreType, n_.truststore, o_.truststore);
      if (type == "pkcs12") {
        P12 p;
        readP12(n_.truststore, n_.truststorePassword, o_.truststore, o_.truststorePassword, p);
        X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
        int added = 0;
        if (p.cert && X509_STORE_add_cert(store, p.cert) == 1) ++added;
        for (int i = 0; p.ca && i < sk_X509_num(p.ca); ++i)
          if (X509_STORE_add_cert(store, sk_X509_value(p.ca, i)) == 1) ++added;
        if (added == 0)
          throw Failure{n_.truststore, "'" + o_.truststore + "' holds no certificate"};
      } else if (type == "pem") {
        if (SSL_CTX_load_verify_locations(ctx_, o_.truststore.c_str(), nullptr) != 1)
          throw Failure{n_.truststore, "cannot read the PEM trust store '" + o_.truststore +
                                           "': " + opensslErrorText()};
      } else {
        throw Failure{n_.truststoreType, "expected PKCS12 or PEM (JKS must be converted), got '" +
                                             o_.truststoreType + "'"};
      }
      any = true;
    }
    return any;
  }

  void loadTrust() {
    if (role_ == TlsRole::Server) {
      if (o_.clientAuth == ClientAuth::None) return;
      if (!loadTrustedCerts())
        throw Failure{n_.clientAuth, "needs " + n_.ca +
                                         " (the PEM CA certificates that sign the clients' "
                                         "certificates)"};
      int mode = SSL_VERIFY_PEER;
      if (o_.clientAuth == ClientAuth::Required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      SSL_CTX_set_verify(ctx_, mode, nullptr);
      // Tell clients which CAs are accepted, so one with several certificates picks right.
      if (!o_.ca.empty())
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o_.ca.c_str()))
          SSL_CTX_set_client_CA_list(ctx_, names);
      return;
    }
    if (o_.trustAllCerts) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
      return;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!loadTrustedCerts() && SSL_CTX_set_default_verify_paths(ctx_) != 1)
      throw Failure{n_.truststore,
                    "cannot load the system's CA certificates: " + opensslErrorText()};
  }

  void restrictProtocols() {
    struct Proto {
      const char* name;
      uint64_t off;
    };
    static const Proto kProtos[] = {{"TLSv1", SSL_OP_NO_TLSv1},
                                    {"TLSv1.1", SSL_OP_NO_TLSv1_1},
                                    {"TLSv1.2", SSL_OP_NO_TLSv1_2},
                                    {"TLSv1.3", SSL_OP_NO_TLSv1_3}};
    auto known = [](const std::string& n) {
      if (n == "SSLv3" || n == "SSLv2Hello" || n == "SSLv2") return true;  // never enabled
      return std::any_of(std::begin(kProtos), std::end(kProtos),
                         [&](const Proto& p) { return n == p.name; });
    };
    for (const auto& [key, names] : {std::pair{&n_.includeProtocols, &o_.includeProtocols},
                                     std::pair{&n_.excludeProtocols, &o_.excludeProtocols}})
      for (const std::string& n : *names)
        if (!known(n))
          throw Failure{*key, "unknown protocol '" + n +
                                  "' (expected TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 or SSLv3)"};
    auto has = [](const std::vector<std::string>& v, const char* n) {
      return std::find(v.begin(), v.end(), n) != v.end();
    };
    int left = 0;
    for (const Proto& p : kProtos) {
      const bool on = (o_.includeProtocols.empty() || has(o_.includeProtocols, p.name)) &&
                      !has(o_.excludeProtocols, p.name);
      if (on)
        ++left;
      else
        SSL_CTX_set_options(ctx_, p.off);
    }
    if (left == 0)
      throw Failure{o_.includeProtocols.empty() ? n_.excludeProtocols : n_.includeProtocols,
                    "no TLS protocol is left to use"};
  }

  void restrictCiphers() {
    if (o_.includeCipherSuites.empty() && o_.excludeCipherSuites.empty()) return;
    STACK_OF(SSL_CIPHER)* all = SSL_CTX_get_ciphers(ctx_);
    auto has = [](const std::vector<std::string>& v, const std::string& n) {
      return std::find(v.begin(), v.end(), n) != v.end();
    };
    for (const std::string& n : o_.includeCipherSuites) {
      bool found = false;
      for (int i = 0; all && i < sk_SSL_CIPHER_num(all) && !found; ++i)
        found = n == SSL_CIPHER_standard_name(sk_SSL_CIPHER_value(all, i));
      if (!found)
        throw Failure{n_.includeCipherSuites, "cipher suite '" + n + "' is not available here"};
    }
    std::string tls12, tls13;
    for (int i = 0; all && i < sk_SSL_CIPHER_num(all); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(all, i);
      const std::string standard = SSL_CIPHER_standard_name(c);
      if (!o_.includeCipherSuites.empty() && !has(o_.includeCipherSuites, standard)) continue;
      if (has(o_.excludeCipherSuites, standard)) continue;
      std::string& list = std::string(SSL_CIPHER_get_version(c)) == "TLSv1.3" ? tls13 : tls12;
      if (!list.empty()) list += ':';
      list += SSL_CIPHER_get_name(c);
    }
    const std::string& key =
        o_.includeCipherSuites.empty() ? n_.excludeCipherSuites : n_.includeCipherSuites;
    if (tls12.empty() && tls13.empty()) throw Failure{key, "no cipher suite is left"};
    ERR_clear_error();
    if (SSL_CTX_set_ciphersuites(ctx_, tls13.c_str()) != 1)
      throw Failure{key, "cannot set the TLS 1.3 suites: " + opensslErrorText()};
    if (tls12.empty())
      SSL_CTX_set_options(ctx_, SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2);
    else if (SSL_CTX_set_cipher_list(ctx_, tls12.c_str()) != 1)
      throw Failure{key, "cannot set the cipher suites: " + opensslErrorText()};
    if (tls13.empty()) SSL_CTX_set_options(ctx_, SSL_OP_NO_TLSv1_3);
  }

  const TlsOptions& o_;
  const TlsKeyNames& n_;
  TlsRole role_;
  SSL_CTX* ctx_;
};

}  // namespace

std::shared_ptr<const TlsContext> makeTlsContext(const TlsOptions& options, TlsRole role,
                                                 TlsError* error) noexcept {
  try {
    ssl::context ctx(role == TlsRole::Server ? ssl::context::tls_server : ssl::context::tls_client);
    Builder(options, role, ctx.native_handle()).build();
    return std::make_shared<const TlsContext>(
        std::make_unique<TlsContext::Impl>(std::move(ctx), role));
  } catch (const Failure& f) {
    if (error) *error = TlsError{f.key, f.message};
  } catch (const std::exception& e) {
    if (error)
      *error = TlsError{options.names.enable, std::string("cannot set up TLS: ") + e.what()};
  }
  return nullptr;
}

namespace {

// Keys both sides have: the own certificate as PEM files or a key store, and the protocol and
// cipher suite restrictions.
std::vector<sdk::Key> withSharedKeys(std::vector<sdk::Key> keys, const TlsKeyNames& n,
                                     const std::string& whose) {
  std::vector<sdk::Key> shared{
      sdk::Key(n.certificate)
          .string()
          .doc("PEM certificate chain of " + whose + " (instead of " + n.keystore + ")"),
      sdk::Key(n.key).string().doc("PEM private key of " + n.certificate),
      sdk::Key(n.keyPassword).string().isSecret().doc("Password of an encrypted " + n.key),
      sdk::Key(n.keystore)
          .string()
          .doc("Key store with the certificate and key of " + whose +
               ": PKCS12 or PEM (JKS must be converted)"),
      sdk::Key(n.keystorePassword).string().isSecret().doc("Password of the key store"),
      sdk::Key(n.keystoreType)
          .string()
          .def("JKS")
          .doc("PKCS12, PEM, or JKS (read only when the file is really PKCS12)"),
      sdk::Key(n.excludeProtocols)
          .string()
          .def("SSLv3")
          .doc("TLS protocols not to use, space-separated"),
      sdk::Key(n.includeProtocols).string().doc("TLS protocols to use, space-separated"),
      sdk::Key(n.excludeCipherSuites).string().doc("TLS cipher suites not to use, space-separated"),
      sdk::Key(n.includeCipherSuites).string().doc("TLS cipher suites to use, space-separated"),
  };
  keys.insert(keys.end(), shared.begin(), shared.end());
  return keys;
}

}  // namespace

std::vector<sdk::Key> tlsServerKeys(const TlsKeyNames& n) {
  return withSharedKeys(
      {
          sdk::Key(n.enable).boolean().def("false").doc("Serve TLS; the certificate comes from " +
                                                        n.certificate + " or " + n.keystore),
          sdk::Key(n.ca).string().doc("PEM CA certificates that sign the clients' certificates (" +
                                      n.clientAuth + ")"),
          sdk::Key(n.clientAuth)
              .oneOf({"none", "optional", "required"})
              .def("none")
              .doc("Verify client certificates against " + n.ca +
                   "; required refuses clients without one"),
      },
      n, "the server");
}

std::vector<sdk::Key> tlsClientKeys(const TlsKeyNames& n) {
  return withSharedKeys(
      {
          sdk::Key(n.enable).boolean().def("false").doc("Connect with TLS"),
          sdk::Key(n.trustAllCerts)
              .boolean()
              .def("false")
              .doc("Accept any server certificate, unverified"),
          sdk::Key(n.truststore)
              .string()
              .doc("Certificates to trust, PKCS12 or PEM; none (and no " + n.ca +
                   ") means the system's CAs"),
          sdk::Key(n.truststorePassword).string().isSecret().doc("Password of the trust store"),
          sdk::Key(n.truststoreType)
              .string()
              .def("JKS")
              .doc("PKCS12, PEM, or JKS (read only when the file is really PKCS12)"),
          sdk::Key(n.ca).string().doc("PEM CA certificates to trust (beside " + n.truststore + ")"),
      },
      n, "the client, for servers that verify clients");
}

std::optional<TlsOptions> readTlsOptions(const sdk::Context& c, TlsRole role,
                                         const TlsKeyNames& n) {
  if (!c.getBoolean(n.enable, false)) return std::nullopt;
  TlsOptions o;
  o.names = n;
  auto text = [&](const std::string& key, const char* def = "") {
    return text::trimmed(c.getString(key, def));
  };
  o.certificate = text(n.certificate);
  o.key = text(n.key);
  o.keyPassword = c.getString(n.keyPassword, "");
  o.keystore = text(n.keystore);
  o.keystorePassword = c.getString(n.keystorePassword, "");
  o.keystoreType = text(n.keystoreType, "JKS");
  o.ca = text(n.ca);
  // Java-style lists: names separated by spaces, tabs or commas.
  o.includeProtocols = c.getNames(n.includeProtocols);
  if (c.containsKey(n.excludeProtocols)) o.excludeProtocols = c.getNames(n.excludeProtocols);
  o.includeCipherSuites = c.getNames(n.includeCipherSuites);
  o.excludeCipherSuites = c.getNames(n.excludeCipherSuites);
  if (!o.certificate.empty() && !o.keystore.empty())
    c.fail(n.certificate,
           "set either " + n.certificate + " (with " + n.key + ") or " + n.keystore + ", not both");
  if (o.certificate.empty() && !o.key.empty()) c.fail(n.key, "is set without " + n.certificate);
  if (role == TlsRole::Server) {
    const std::string auth = lower(text(n.clientAuth, "none"));
    if (auth == "required")
      o.clientAuth = ClientAuth::Required;
    else if (auth == "optional")
      o.clientAuth = ClientAuth::Optional;
    else if (auth != "none")
      c.fail(n.clientAuth, "expected none, optional or required, got '" + auth + "'");
  } else {
    o.trustAllCerts = c.getBoolean(n.trustAllCerts, false);
    o.truststore = text(n.truststore);
    o.truststorePassword = c.getString(n.truststorePassword, "");
    o.truststoreType = text(n.truststoreType, "JKS");
  }
  return o;
}

std::shared_ptr<const TlsContext> configureTls(const sdk::Context& context, TlsRole role,
                                               const TlsKeyNames& names) {
  const std::optional<TlsOptions> o = readTlsOptions(context, role, names);
  if (!o) return nullptr;
  TlsError error;
  std::shared_ptr<const TlsContext> ctx = makeTlsContext(*o, role, &error);
  if (!ctx) context.fail(error.key, error.message);
  return ctx;
}

}  // namespace sluice::plugins::net
