// TLS on the listener and the client, with certificates made by the openssl command line:
// PEM and PKCS12 key stores, client certificates, protocol and cipher restrictions, broken
// handshakes, and the config errors of every TLS key.
#include <doctest/doctest.h>

#include <openssl/bio.h>

#include <map>

#include "example_line_source.hpp"
#include "net/io_pool.hpp"
#include "net/keys.hpp"
#include "net/tcp_client.hpp"
#include "net/tcp_listener.hpp"
#include "net/tls.hpp"
#include "net_test_support.hpp"

using namespace sluice::plugins::net;
using namespace sluice::plugins::net::testing;
namespace sdk = sluice::sdk;
using std::chrono::milliseconds;

namespace {

TestPki& pki() {
  static TestPki p;  // made once per test run: keys take a moment to generate
  return p;
}

std::shared_ptr<const TlsContext> context(const TlsOptions& o, TlsRole role) {
  TlsError e;
  auto ctx = makeTlsContext(o, role, &e);
  REQUIRE_MESSAGE(ctx != nullptr, (e.key + ": " + e.message));
  return ctx;
}

TlsOptions serverPem() {
  TlsOptions o;
  o.certificate = pki().serverPem;
  o.key = pki().serverKey;
  return o;
}

TlsOptions clientTrustingCa() {
  TlsOptions o;
  o.ca = pki().caPem;
  return o;
}

// Starts the server's line source (answering OK) with TLS from these options.
void startTls(LineServer& s, const TlsOptions& tls, ListenerOptions o = {}) {
  o.tls = context(tls, TlsRole::Server);
  s.start(std::move(o), acking());
}

// Sends one line over a new client connection; the error, or "" when it was answered OK.
std::string roundTrip(TcpClient& client, const std::string& line) {
  if (sdk::Result r = client.connect(); !r) return r.error();
  LineReader reader;
  const std::string text = line + "\n";
  const std::string_view parts[] = {text};
  if (sdk::Result r = client.request(parts, reader); !r) return r.error();
  return reader.line == "OK" ? "" : "answered '" + reader.line + "'";
}

ClientOptions clientTo(uint16_t port, const TlsOptions& tls) {
  ClientOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.connectTimeout = milliseconds(5000);
  o.requestTimeout = milliseconds(5000);
  o.backoffMin = milliseconds(0);
  o.tls = context(tls, TlsRole::Client);
  return o;
}

// The first bytes a TLS client sends (its ClientHello), from OpenSSL on memory BIOs.
std::string clientHello() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rb = BIO_new(BIO_s_mem());
  BIO* wb = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rb, wb);
  SSL_connect(ssl);  // wants to read the answer: the hello is in wb
  std::string out(static_cast<std::size_t>(BIO_ctrl_pending(wb)), '\0');
  BIO_read(wb, out.data(), static_cast<int>(out.size()));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

std::string configError(const std::map<std::string, std::string>& keys, TlsRole role,
                        const TlsKeyNames& names = {}) {
  try {
    configureTls(contextOf(keys), role, names);
  } catch (const sdk::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("net-tls") {
  TEST_CASE("TLS from PEM files: an OpenSSL client verifies the server and its lines arrive") {
    LineServer s;
    startTls(s, serverPem());
    OpenSslClient c(s.port(), pki().caPem);
    REQUIRE_MESSAGE(c.handshakeOk(), c.error());
    REQUIRE(c.write("one\ntwo\n"));
    CHECK(c.readLines(2) == "OK\nOK\n");
    CHECK(s.processor.snapshot() == std::vector<std::string>{"one", "two"});
  }

  TEST_CASE("a TLS request of 3 MB (past the client's 1 MiB held-write step) arrives whole") {
    LineServer s;
    startTls(s, serverPem());
    TcpClient client(clientTo(s.port(), clientTrustingCa()));
    REQUIRE(client.connect().ok());
    std::vector<std::string> want;
    std::string text;
    for (int i = 0; i < 30000; ++i) {
      want.push_back("line " + std::to_string(i) + " " + std::string(90, 'x'));
      text += want.back() + "\n";
    }
    // Two parts, the first ending mid-line, as a sink's header and body.
    const std::string_view parts[] = {std::string_view(text).substr(0, 1000),
                                      std::string_view(text).substr(1000)};
    LineReader reader;
    const sdk::Result r = client.request(parts, reader);
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(reader.line == "OK");
    CHECK(client.stats().get(Stat::BytesOut) == static_cast<int64_t>(text.size()));
    REQUIRE(waitFor([&] { return s.processor.snapshot().size() >= want.size(); }));
    CHECK(s.processor.snapshot() == want);
  }

  TEST_CASE("ssl.client-auth = required: refused without a certificate signed by ssl.ca") {
    TlsOptions o = serverPem();
    o.ca = pki().caPem;
    o.clientAuth = ClientAuth::Required;
    LineServer s;
    startTls(s, o);
    {
      // TLS 1.3 finishes the client's side of the handshake before the server checks the
      // certificate: the refusal shows on the first read.
      OpenSslClient none(s.port(), pki().caPem);
      if (none.handshakeOk()) {
        none.write("sneaky\n");
        CHECK(none.readLines(1).empty());
      }
      CHECK(waitFor([&] { return s.stat(Stat::TlsFailed) == 1; }));
    }
    {
      OpenSslClient rogue(s.port(), pki().caPem, pki().roguePem, pki().rogueKey);
      if (rogue.handshakeOk()) {
        rogue.write("sneaky\n");
        CHECK(rogue.readLines(1).empty());
      }
      CHECK(waitFor([&] { return s.stat(Stat::TlsFailed) == 2; }));
    }
    OpenSslClient good(s.port(), pki().caPem, pki().clientPem, pki().clientKey);
    REQUIRE_MESSAGE(good.handshakeOk(), good.error());
    REQUIRE(good.write("welcome\n"));
    CHECK(good.readLines(1) == "OK\n");
    CHECK(s.processor.snapshot() == std::vector<std::string>{"welcome"});
    CHECK(s.log.has("TLS handshake with 127.0.0.1:"));

    // The layer's own client, with its certificate from the same keys.
    TlsOptions co = clientTrustingCa();
    co.certificate = pki().clientPem;
    co.key = pki().clientKey;
    TcpClient client(clientTo(s.port(), co));
    CHECK(roundTrip(client, "from the client") == "");
  }

  TEST_CASE("a PKCS12 key store serves TLS, also when its type says JKS but the file is PKCS12") {
    for (const char* type : {"PKCS12", "JKS"}) {
      CAPTURE(type);
      TlsOptions o;
      o.keystore = pki().serverP12;
      o.keystorePassword = pki().password;
      o.keystoreType = type;
      LineServer s;
      startTls(s, o);
      TcpClient client(clientTo(s.port(), clientTrustingCa()));
      CHECK(roundTrip(client, "p12") == "");
    }
  }

  TEST_CASE("include and exclude protocols") {
    TlsOptions o = serverPem();
    o.excludeProtocols = {"SSLv3", "TLSv1.3"};
    LineServer s;
    startTls(s, o);
    TcpClient any(clientTo(s.port(), clientTrustingCa()));
    CHECK(roundTrip(any, "x") == "");
    CHECK(any.tlsProtocol() == "TLSv1.2");

    TlsOptions only13 = clientTrustingCa();
    only13.includeProtocols = {"TLSv1.3"};
    TcpClient client(clientTo(s.port(), only13));
    const sdk::Result r = client.connect();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("TLS handshake failed") != std::string::npos);
    CHECK(waitFor([&] { return s.stat(Stat::TlsFailed) == 1; }));
    CHECK(client.stats().get(Stat::TlsFailed) == 1);
  }

  TEST_CASE("include and exclude cipher suites (Java's names)") {
    const std::string suite = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
    TlsOptions o = serverPem();
    o.includeProtocols = {"TLSv1.2"};
    o.includeCipherSuites = {suite};
    LineServer s;
    startTls(s, o);
    TcpClient client(clientTo(s.port(), clientTrustingCa()));
    CHECK(roundTrip(client, "x") == "");
    CHECK(client.tlsCipher() == suite);

    TlsOptions without = clientTrustingCa();
    without.excludeCipherSuites = {suite};
    TcpClient refused(clientTo(s.port(), without));
    CHECK_FALSE(refused.connect().ok());
    CHECK(waitFor([&] { return s.stat(Stat::TlsFailed) == 1; }));
  }

  TEST_CASE("clients that reset mid-handshake or never finish it: counted, the listener goes on") {
    ListenerOptions lo;
    lo.handshakeTimeout = milliseconds(300);
    LineServer s;
    startTls(s, serverPem(), lo);
    const std::string hello = clientHello();
    REQUIRE(hello.size() > 20);
    for (int i = 0; i < 20; ++i) {
      RawClient c(s.port());
      // Reset once the server has the connection (a reset before that is a different story).
      REQUIRE(waitFor([&] { return s.stat(Stat::Accepted) == i + 1; }));
      REQUIRE(c.send(std::string_view(hello).substr(0, hello.size() / 2)));
      c.reset();
    }
    CHECK(waitFor([&] { return s.stat(Stat::TlsFailed) == 20; }));
    RawClient silent(s.port());  // connects and never says anything
    CHECK(silent.waitClosed(milliseconds(10000)));
    CHECK(waitFor([&] { return s.stat(Stat::TlsFailed) == 21; }));
    CHECK(s.log.has("TLS handshake with 127.0.0.1:"));  // throttled: the first of them
    OpenSslClient good(s.port(), pki().caPem);
    REQUIRE_MESSAGE(good.handshakeOk(), good.error());
    REQUIRE(good.write("still here\n"));
    CHECK(good.readLines(1) == "OK\n");
    CHECK(waitFor([&] { return s.stat(Stat::Open) == 1; }));
  }

  TEST_CASE("TLS config errors name the key") {
    const std::string p12 = pki().serverP12;
    auto has = [](const std::string& text, const std::string& part) {
      INFO(text);
      return text.find(part) != std::string::npos;
    };
    CHECK(configError({{"ssl", "false"}, {"keystore", "/nonexistent"}}, TlsRole::Server).empty());
    CHECK(has(configError({{"ssl", "true"}}, TlsRole::Server),
              "a1.sources.r1.keystore: is required"));
    CHECK(has(configError({{"ssl", "true"}, {"keystore", pki().jks}}, TlsRole::Server),
              "a1.sources.r1.keystore-type: JKS stores cannot be read without Java"));
    CHECK(has(configError({{"ssl", "true"}, {"keystore", pki().jks}}, TlsRole::Server),
              "keytool -importkeystore"));
    CHECK(has(configError({{"ssl", "true"},
                           {"keystore", p12},
                           {"keystore-type", "PKCS12"},
                           {"keystore-password", "wrong"}},
                          TlsRole::Server),
              "a1.sources.r1.keystore-password: cannot read the PKCS12 store"));
    CHECK(has(configError({{"ssl", "true"}, {"ssl.certificate", pki().serverPem}}, TlsRole::Server),
              "a1.sources.r1.ssl.key: is required with ssl.certificate"));
    CHECK(has(
        configError(
            {{"ssl", "true"}, {"ssl.certificate", pki().serverPem}, {"ssl.key", pki().rogueKey}},
            TlsRole::Server),
        "a1.sources.r1.ssl.key: "));
    CHECK(has(configError({{"ssl", "true"},
                           {"ssl.certificate", pki().serverPem},
                           {"ssl.key", pki().serverKey},
                           {"ssl.client-auth", "required"}},
                          TlsRole::Server),
              "a1.sources.r1.ssl.client-auth: needs ssl.ca"));
    CHECK(has(configError({{"ssl", "true"},
                           {"ssl.certificate", pki().serverPem},
                           {"ssl.key", pki().serverKey},
                           {"include-protocols", "TLSv9"}},
                          TlsRole::Server),
              "a1.sources.r1.include-protocols: unknown protocol 'TLSv9'"));
    CHECK(has(configError({{"ssl", "true"},
                           {"ssl.certificate", pki().serverPem},
                           {"ssl.key", pki().serverKey},
                           {"include-cipher-suites", "TLS_NOPE"}},
                          TlsRole::Server),
              "a1.sources.r1.include-cipher-suites: cipher suite 'TLS_NOPE' is not available"));
    CHECK(has(configError({{"ssl", "true"}, {"truststore", pki().jks}}, TlsRole::Client),
              "a1.sources.r1.truststore-type: JKS stores cannot be read"));
    CHECK(configError({{"ssl", "true"}, {"ssl.ca", pki().caPem}}, TlsRole::Client).empty());

    // A plugin with Flume's other spellings (the HTTP source's) gets errors in them.
    TlsKeyNames http;
    http.enable = "enableSSL";
    http.keystorePassword = "keystorePassword";
    CHECK(has(configError({{"enableSSL", "true"},
                           {"keystore", p12},
                           {"keystore-type", "PKCS12"},
                           {"keystorePassword", "wrong"}},
                          TlsRole::Server, http),
              "a1.sources.r1.keystorePassword: cannot read"));
  }

  TEST_CASE("the TLS schema keys, for plugins to append") {
    const sdk::Schema schema =
        withKeys({sdk::Key("bind").string().req()}, tlsServerKeys(), ipFilterKeys());
    std::vector<std::string> names;
    for (const sdk::Key& k : schema.keys) names.push_back(k.name);
    for (const char* k : {"bind", "ssl", "ssl.certificate", "ssl.key", "ssl.key-password", "ssl.ca",
                          "ssl.client-auth", "keystore", "keystore-password", "keystore-type",
                          "include-protocols", "exclude-protocols", "include-cipher-suites",
                          "exclude-cipher-suites", "ipFilter", "ipFilterRules"})
      CHECK_MESSAGE(std::find(names.begin(), names.end(), k) != names.end(), k);
    for (const sdk::Key& k : schema.keys)
      if (k.name.find("password") != std::string::npos) CHECK_MESSAGE(k.secret, k.name);
    const std::vector<sdk::Key> client = tlsClientKeys();
    CHECK(std::any_of(client.begin(), client.end(),
                      [](const sdk::Key& k) { return k.name == "trust-all-certs"; }));
  }

}  // TEST_SUITE
