#pragma once
// TLS for a connection's bytes with OpenSSL, for the avro source and sink (Flume's ssl = true).
// The session runs over memory BIOs: the caller moves raw bytes between the socket and the
// session, so TLS never blocks and fits an epoll loop (the source) as well as a poll loop with a
// deadline (the sink). Header-only; link libssl.
//
// Key and trust stores: Flume's are Java key stores. OpenSSL reads PKCS12 (keytool's
// -storetype PKCS12, and Java's default since 9) and, as a sluice extension, PEM; JKS cannot be
// read and is refused with the keytool command that converts it (a store of type JKS whose file
// is really PKCS12, as Java 9+ keytool writes them, is read as PKCS12). Protocol and cipher suite
// names are Java's (TLSv1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), which are the IANA names
// OpenSSL reports as SSL_CIPHER_standard_name.

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::plugins::tls {

// A configuration problem; `key` names the config key to blame.
class TlsConfigError : public std::runtime_error {
 public:
  TlsConfigError(std::string k, const std::string& message)
      : std::runtime_error(message), key(std::move(k)) {}
  std::string key;
};

struct TlsOptions {
  // Server: its certificate and key.
  std::string keystore;
  std::string keystorePassword;
  std::string keystoreType = "JKS";
  // Client: whom to trust. No truststore: the system's CA certificates.
  bool trustAllCerts = false;
  std::string truststore;
  std::string truststorePassword;
  std::string truststoreType = "JKS";
  // Java names, space-separated in the config.
  std::vector<std::string> includeProtocols;
  std::vector<std::string> excludeProtocols{"SSLv3"};
  std::vector<std::string> includeCipherSuites;
  std::vector<std::string> excludeCipherSuites;
};

// The OpenSSL error queue as one line (and the queue cleared).
inline std::string opensslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

inline std::vector<std::string> splitNames(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + " ") {
    if (c == ' ' || c == '\t' || c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

class TlsContext {
 public:
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext() { SSL_CTX_free(ctx_); }

  SSL_CTX* get() const noexcept { return ctx_; }
  bool isServer() const noexcept { return server_; }

  // Throw TlsConfigError naming the key at fault.
  static std::unique_ptr<TlsContext> server(const TlsOptions& o) {
    std::unique_ptr<TlsContext> c(new TlsContext(true));
    c->loadKeystore(o);
    c->restrictProtocols(o);
    c->restrictCiphers(o);
    return c;
  }
  static std::unique_ptr<TlsContext> client(const TlsOptions& o) {
    std::unique_ptr<TlsContext> c(new TlsContext(false));
    c->loadTruststore(o);
    c->restrictProtocols(o);
    c->restrictCiphers(o);
    return c;
  }

 private:
  explicit TlsContext(bool server) : server_(server) {
    ERR_clear_error();
    ctx_ = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx_) throw std::runtime_error("cannot create a TLS context: " + opensslError());
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }

  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  static void refuseJks(const std::string& typeKey, const std::string& storeKey,
                        const std::string& path) {
    throw TlsConfigError(typeKey, "JKS stores cannot be read; convert '" + path +
                                      "' to PKCS12 (keytool -importkeystore -srckeystore " + path +
                                      " -destkeystore store.p12 -deststoretype PKCS12) "
                                      "and set " +
                                      storeKey + " to it and " + typeKey + " = PKCS12");
  }

  // Java 9+ keytool writes PKCS12 whatever the file is called, and Java's JKS loader reads it:
  // so a "JKS" store that is really PKCS12 (DER, starting with a SEQUENCE) is read as PKCS12.
  static std::string effectiveType(const std::string& type, const std::string& path) {
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
    ~P12() {
      EVP_PKEY_free(key);
      X509_free(cert);
      sk_X509_pop_free(ca, X509_free);
    }
  };

  static void readP12(const std::string& key, const std::string& path, const std::string& password,
                      P12& out) {
    ERR_clear_error();
    BIO* bio = BIO_new_file(path.c_str(), "rb");
    if (!bio) throw TlsConfigError(key, "cannot open '" + path + "': " + opensslError());
    PKCS12* p12 = d2i_PKCS12_bio(bio, nullptr);
    BIO_free(bio);
    if (!p12) throw TlsConfigError(key, "'" + path + "' is not a PKCS12 store: " + opensslError());
    const int ok = PKCS12_parse(p12, password.c_str(), &out.key, &out.cert, &out.ca);
    PKCS12_free(p12);
    if (!ok)
      throw TlsConfigError(
          key, "cannot read the PKCS12 store '" + path + "' (wrong password?): " + opensslError());
  }

  void loadKeystore(const TlsOptions& o) {
    if (o.keystore.empty()) throw TlsConfigError("keystore", "is required when ssl = true");
    const std::string type = effectiveType(lower(o.keystoreType), o.keystore);
    if (type == "jks") refuseJks("keystore-type", "keystore", o.keystore);
    ERR_clear_error();
    if (type == "pkcs12") {
      P12 p;
      readP12("keystore", o.keystore, o.keystorePassword, p);
      if (!p.key || !p.cert)
        throw TlsConfigError("keystore", "'" + o.keystore + "' holds no key and certificate");
      if (SSL_CTX_use_certificate(ctx_, p.cert) != 1 || SSL_CTX_use_PrivateKey(ctx_, p.key) != 1)
        throw TlsConfigError("keystore",
                             "cannot use the key of '" + o.keystore + "': " + opensslError());
      for (int i = 0; p.ca && i < sk_X509_num(p.ca); ++i)
        SSL_CTX_add1_chain_cert(ctx_, sk_X509_value(p.ca, i));
    } else if (type == "pem") {
      SSL_CTX_set_default_passwd_cb_userdata(ctx_, const_cast<char*>(o.keystorePassword.c_str()));
      const bool ok = SSL_CTX_use_certificate_chain_file(ctx_, o.keystore.c_str()) == 1 &&
                      SSL_CTX_use_PrivateKey_file(ctx_, o.keystore.c_str(), SSL_FILETYPE_PEM) == 1;
      SSL_CTX_set_default_passwd_cb_userdata(ctx_, nullptr);
      if (!ok)
        throw TlsConfigError("keystore",
                             "cannot read the PEM key store '" + o.keystore +
                                 "' (certificate chain and private key): " + opensslError());
    } else {
      throw TlsConfigError(
          "keystore-type",
          "expected PKCS12 or PEM (JKS must be converted), got '" + o.keystoreType + "'");
    }
    if (SSL_CTX_check_private_key(ctx_) != 1)
      throw TlsConfigError("keystore",
                           "the key in '" + o.keystore + "' does not match its certificate");
  }

  void loadTruststore(const TlsOptions& o) {
    if (o.trustAllCerts) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
      return;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ERR_clear_error();
    if (o.truststore.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx_) != 1)
        throw TlsConfigError("truststore",
                             "cannot load the system's CA certificates: " + opensslError());
      return;
    }
    const std::string type = effectiveType(lower(o.truststoreType), o.truststore);
    if (type == "jks") refuseJks("truststore-type", "truststore", o.truststore);
    if (type == "pkcs12") {
      P12 p;
      readP12("truststore", o.truststore, o.truststorePassword, p);
      X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
      int added = 0;
      if (p.cert && X509_STORE_add_cert(store, p.cert) == 1) ++added;
      for (int i = 0; p.ca && i < sk_X509_num(p.ca); ++i)
        if (X509_STORE_add_cert(store, sk_X509_value(p.ca, i)) == 1) ++added;
      if (added == 0)
        throw TlsConfigError("truststore", "'" + o.truststore + "' holds no certificate");
    } else if (type == "pem") {
      if (SSL_CTX_load_verify_locations(ctx_, o.truststore.c_str(), nullptr) != 1)
        throw TlsConfigError("truststore", "cannot read the PEM trust store '" + o.truststore +
                                               "': " + opensslError());
    } else {
      throw TlsConfigError(
          "truststore-type",
          "expected PKCS12 or PEM (JKS must be converted), got '" + o.truststoreType + "'");
    }
  }

  void restrictProtocols(const TlsOptions& o) {
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
      for (const Proto& p : kProtos)
        if (n == p.name) return true;
      return false;
    };
    for (const auto& [key, names] : {std::pair{"include-protocols", &o.includeProtocols},
                                     std::pair{"exclude-protocols", &o.excludeProtocols}})
      for (const std::string& n : *names)
        if (!known(n))
          throw TlsConfigError(key, "unknown protocol '" + n +
                                        "' (expected TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 or SSLv3)");
    auto has = [](const std::vector<std::string>& v, const char* n) {
      return std::find(v.begin(), v.end(), n) != v.end();
    };
    int left = 0;
    for (const Proto& p : kProtos) {
      const bool on = (o.includeProtocols.empty() || has(o.includeProtocols, p.name)) &&
                      !has(o.excludeProtocols, p.name);
      if (on)
        ++left;
      else
        SSL_CTX_set_options(ctx_, p.off);
    }
    if (left == 0)
      throw TlsConfigError(o.includeProtocols.empty() ? "exclude-protocols" : "include-protocols",
                           "no TLS protocol is left to use");
  }

  void restrictCiphers(const TlsOptions& o) {
    if (o.includeCipherSuites.empty() && o.excludeCipherSuites.empty()) return;
    STACK_OF(SSL_CIPHER)* all = SSL_CTX_get_ciphers(ctx_);
    auto has = [](const std::vector<std::string>& v, const std::string& n) {
      return std::find(v.begin(), v.end(), n) != v.end();
    };
    for (const std::string& n : o.includeCipherSuites) {
      bool found = false;
      for (int i = 0; all && i < sk_SSL_CIPHER_num(all) && !found; ++i)
        found = n == SSL_CIPHER_standard_name(sk_SSL_CIPHER_value(all, i));
      if (!found)
        throw TlsConfigError("include-cipher-suites",
                             "cipher suite '" + n + "' is not available here");
    }
    std::string tls12, tls13;
    for (int i = 0; all && i < sk_SSL_CIPHER_num(all); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(all, i);
      const std::string standard = SSL_CIPHER_standard_name(c);
      if (!o.includeCipherSuites.empty() && !has(o.includeCipherSuites, standard)) continue;
      if (has(o.excludeCipherSuites, standard)) continue;
      std::string& list = std::string(SSL_CIPHER_get_version(c)) == "TLSv1.3" ? tls13 : tls12;
      if (!list.empty()) list += ':';
      list += SSL_CIPHER_get_name(c);
    }
    const char* key =
        o.includeCipherSuites.empty() ? "exclude-cipher-suites" : "include-cipher-suites";
    if (tls12.empty() && tls13.empty()) throw TlsConfigError(key, "no cipher suite is left");
    ERR_clear_error();
    if (SSL_CTX_set_ciphersuites(ctx_, tls13.c_str()) != 1)
      throw TlsConfigError(key, "cannot set the TLS 1.3 suites: " + opensslError());
    if (tls12.empty())
      SSL_CTX_set_options(ctx_, SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2);
    else if (SSL_CTX_set_cipher_list(ctx_, tls12.c_str()) != 1)
      throw TlsConfigError(key, "cannot set the cipher suites: " + opensslError());
    if (tls13.empty()) SSL_CTX_set_options(ctx_, SSL_OP_NO_TLSv1_3);
  }

  SSL_CTX* ctx_ = nullptr;
  bool server_;
};

// One connection's TLS. Raw bytes from the socket go in through feed(); bytes for the socket
// (handshake and data records) are appended to the caller's buffer by feed() and write().
class TlsSession {
 public:
  // sniHost: the server name a client announces ("" for none, e.g. an IP address).
  TlsSession(const TlsContext& ctx, const std::string& sniHost = {}) {
    ssl_ = SSL_new(ctx.get());
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    if (!ssl_ || !rbio_ || !wbio_) {
      BIO_free(rbio_);
      BIO_free(wbio_);
      SSL_free(ssl_);
      throw std::runtime_error("cannot create a TLS session: " + opensslError());
    }
    SSL_set_bio(ssl_, rbio_, wbio_);  // ssl_ owns both now
    if (ctx.isServer()) {
      SSL_set_accept_state(ssl_);
    } else {
      if (!sniHost.empty()) SSL_set_tlsext_host_name(ssl_, sniHost.c_str());
      SSL_set_connect_state(ssl_);
    }
  }
  ~TlsSession() { SSL_free(ssl_); }
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  bool handshakeDone() const noexcept { return SSL_is_init_finished(ssl_) == 1; }
  bool peerClosed() const noexcept { return closed_; }

  // Drives the handshake (client side); appends what must be sent to out. True when done or
  // waiting for the peer; false on failure (*error).
  bool handshake(std::string& out, std::string* error) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    takeOutput(out);
    if (r == 1) return true;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
    *error = describeFailure();
    return false;
  }

  // Decrypts raw socket bytes; hands the plaintext to sink(const char*, std::size_t), which
  // returns false to stop; appends what TLS must send back (handshake) to out. False on a TLS
  // error (*error).
  template <class Sink>
  bool feed(const char* data, std::size_t n, char* scratch, std::size_t cap, std::string& out,
            Sink&& sink, std::string* error) {
    if (n > 0 && BIO_write(rbio_, data, static_cast<int>(n)) != static_cast<int>(n)) {
      *error = "TLS buffer write failed";
      return false;
    }
    for (;;) {
      ERR_clear_error();
      const int r = SSL_read(ssl_, scratch, static_cast<int>(cap));
      takeOutput(out);
      if (r > 0) {
        if (!sink(scratch, static_cast<std::size_t>(r))) return true;
        continue;
      }
      const int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
      if (e == SSL_ERROR_ZERO_RETURN) {
        closed_ = true;
        return true;
      }
      *error = describeFailure();
      return false;
    }
  }

  // Encrypts plaintext, appending the records to out.
  bool write(const char* data, std::size_t n, std::string& out, std::string* error) {
    while (n > 0) {
      ERR_clear_error();
      const int r = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(n, 1 << 30)));
      takeOutput(out);
      if (r <= 0) {
        *error = describeFailure();
        return false;
      }
      data += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }

 private:
  void takeOutput(std::string& out) {
    for (;;) {
      const std::size_t pending = BIO_ctrl_pending(wbio_);
      if (pending == 0) return;
      const std::size_t at = out.size();
      out.resize(at + pending);
      const int r = BIO_read(wbio_, out.data() + at, static_cast<int>(pending));
      out.resize(at + static_cast<std::size_t>(std::max(r, 0)));
      if (r <= 0) return;
    }
  }

  std::string describeFailure() {
    const long verify = SSL_get_verify_result(ssl_);
    std::string s = opensslError();
    if (verify != X509_V_OK)
      s += " (certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
    return "TLS: " + s;
  }

  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;
  BIO* wbio_ = nullptr;
  bool closed_ = false;
};

}  // namespace sluice::plugins::tls
