// tls_context: building an SSL_CTX from nsqd's options, failing as upstream's buildTLSConfig.
//
// Texts, as Go's tls.LoadX509KeyPair and nsqd put them:
//   open PATH: no such file or directory   (any open failure: Go's errno text)
//   read PATH: is a directory
//   tls: failed to find any PEM data in certificate input
//   tls: failed to find certificate PEM data in certificate input, but did find a private
//        key; PEM inputs may have been switched
//   tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM
//        blocks of the following types: [A B]
//   tls: failed to find any PEM data in key input
//   tls: found a certificate rather than a key in the PEM for the private key
//   tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after
//        skipping PEM blocks of the following types: [A B]
//   tls: failed to parse private key
//   tls: private key type does not match public key type
//   tls: private key does not match public key
//   tls: unknown public key algorithm
//   failed to append certificate to pool   (a root CA file without one usable certificate)
// Differences, where OpenSSL decides: a certificate OpenSSL cannot parse is "x509: malformed
// certificate" (Go has a text per defect); a PEM block with broken base64 ends the walk
// through the file (Go skips it and looks further); what OpenSSL itself refuses when the
// pair is installed (a key too weak for the security level) is "tls: <OpenSSL's reason>".
// Like Go's loader, nothing here looks at validity dates: an expired certificate loads, and
// peers refuse it during the handshake.

#include <fcntl.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "go/go_syntax.hpp"
#include "net/tls.hpp"
#include "net/tls_errors.hpp"

namespace nsqd::net {

namespace {

// A failure's cause; the public builders add their prefix.
struct cause_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& cause) { throw cause_error(cause); }

struct x509_free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct pkey_free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// os.ReadFile, with Go's error texts.
std::string read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open " + path + ": " + go::errno_text(errno));
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail("read " + path + ": " + go::errno_text(err));
    }
    if (n == 0) break;
    text.append(buf, std::size_t(n));
  }
  ::close(fd);
  return text;
}

struct pem_block {
  std::string type;
  bool has_headers = false;
  std::string der;
};

// Every PEM block in `text`, as Go's pem.Decode walks them (text between blocks ignored).
std::vector<pem_block> pem_blocks(const std::string& text) {
  std::vector<pem_block> blocks;
  BIO* bio = BIO_new_mem_buf(text.data(), int(text.size()));
  if (bio == nullptr) fail(tls_detail::openssl_error_text("out of memory"));
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) break;
    blocks.push_back({name, header != nullptr && header[0] != '\0',
                      std::string(reinterpret_cast<const char*>(data), std::size_t(len))});
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  BIO_free(bio);
  ERR_clear_error();  // the walk ends on "no start line"
  return blocks;
}

std::string go_list(const std::vector<std::string>& items) {  // fmt's %v of a []string
  std::string out = "[";
  for (const auto& s : items) out += (out.size() > 1 ? " " : "") + s;
  return out + "]";
}

x509_ptr parse_certificate(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  x509_ptr cert(d2i_X509(nullptr, &p, long(der.size())));
  if (!cert) fail("x509: malformed certificate");
  return cert;
}

struct key_pair {
  std::vector<x509_ptr> chain;  // the certificate first
  pkey_ptr key;
};

// tls.LoadX509KeyPair.
key_pair load_key_pair(const std::string& cert_file, const std::string& key_file) {
  const std::string cert_text = read_whole_file(cert_file);
  const std::string key_text = read_whole_file(key_file);

  key_pair pair;
  std::vector<std::string> skipped;
  std::vector<std::string> chain_der;
  for (auto& b : pem_blocks(cert_text)) {
    if (b.type == "CERTIFICATE")
      chain_der.push_back(std::move(b.der));
    else
      skipped.push_back(b.type);
  }
  if (chain_der.empty()) {
    if (skipped.empty()) fail("tls: failed to find any PEM data in certificate input");
    if (skipped.size() == 1 && skipped[0].ends_with("PRIVATE KEY"))
      fail("tls: failed to find certificate PEM data in certificate input, but did find a "
           "private key; PEM inputs may have been switched");
    fail("tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping "
         "PEM blocks of the following types: " + go_list(skipped));
  }

  skipped.clear();
  const pem_block* key_block = nullptr;
  const auto key_blocks = pem_blocks(key_text);
  for (const auto& b : key_blocks) {
    if (b.type == "PRIVATE KEY" || b.type.ends_with(" PRIVATE KEY")) {
      key_block = &b;
      break;
    }
    skipped.push_back(b.type);
  }
  if (key_block == nullptr) {
    if (skipped.empty()) fail("tls: failed to find any PEM data in key input");
    if (skipped.size() == 1 && skipped[0] == "CERTIFICATE")
      fail("tls: found a certificate rather than a key in the PEM for the private key");
    fail("tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input "
         "after skipping PEM blocks of the following types: " + go_list(skipped));
  }

  for (const auto& der : chain_der) pair.chain.push_back(parse_certificate(der));
  const auto* p = reinterpret_cast<const unsigned char*>(key_block->der.data());
  pair.key.reset(d2i_AutoPrivateKey(nullptr, &p, long(key_block->der.size())));
  ERR_clear_error();
  const auto go_key_type = [](int id) {
    return id == EVP_PKEY_RSA || id == EVP_PKEY_EC || id == EVP_PKEY_ED25519;
  };
  if (!pair.key || !go_key_type(EVP_PKEY_get_base_id(pair.key.get())))
    fail("tls: failed to parse private key");

  EVP_PKEY* pub = X509_get0_pubkey(pair.chain.front().get());
  ERR_clear_error();
  if (pub == nullptr || !go_key_type(EVP_PKEY_get_base_id(pub)))
    fail("tls: unknown public key algorithm");
  if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_get_base_id(pair.key.get()))
    fail("tls: private key type does not match public key type");
  if (EVP_PKEY_eq(pub, pair.key.get()) != 1) {
    ERR_clear_error();
    fail("tls: private key does not match public key");
  }
  return pair;
}

void use_key_pair(SSL_CTX* ctx, const key_pair& pair) {
  bool ok = SSL_CTX_use_certificate(ctx, pair.chain.front().get()) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, pair.key.get()) == 1;
  for (std::size_t i = 1; ok && i < pair.chain.size(); ++i)
    ok = SSL_CTX_add1_chain_cert(ctx, pair.chain[i].get()) == 1;
  if (!ok) fail(tls_detail::openssl_error_text("certificate refused"));
}

// x509.CertPool.AppendCertsFromPEM into the context's trust store; for a server, the
// subjects also go out in CertificateRequest as the acceptable authorities (as Go does).
void trust_root_cas(SSL_CTX* ctx, const std::string& path, bool server) {
  const std::string text = read_whole_file(path);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  bool any = false;
  for (const auto& b : pem_blocks(text)) {
    if (b.type != "CERTIFICATE" || b.has_headers) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(b.der.data());
    x509_ptr cert(d2i_X509(nullptr, &p, long(b.der.size())));
    if (!cert || X509_STORE_add_cert(store, cert.get()) != 1) {
      ERR_clear_error();  // unparsable ones are skipped, as Go does; duplicates too
      continue;
    }
    any = true;
    if (names != nullptr)
      sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(cert.get())));
  }
  if (server && names != nullptr)
    SSL_CTX_set_client_CA_list(ctx, names);  // takes the stack
  else
    sk_X509_NAME_pop_free(names, X509_NAME_free);
  if (!any) fail("failed to append certificate to pool");
}

// Go's crypto/tls defaults, as far as OpenSSL names them (tls.hpp says which).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA";
constexpr const char* tls13_ciphers =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* groups = "X25519:P-256:P-384:P-521";

std::shared_ptr<SSL_CTX> new_context(bool server, std::uint16_t min_version,
                                     std::uint16_t max_version) {
  if (min_version < tls_v1_0 || min_version > tls_v1_3)
    fail("unsupported TLS version " + std::to_string(min_version));
  if (max_version != 0 && (max_version < min_version || max_version > tls_v1_3))
    fail("unsupported TLS version " + std::to_string(max_version));
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()),
                               [](SSL_CTX* c) { SSL_CTX_free(c); });
  if (!ctx) fail(tls_detail::openssl_error_text("out of memory"));
  SSL_CTX* c = ctx.get();
  // OpenSSL 3 refuses TLS 1.0/1.1 (their SHA-1 signatures) above security level 0; Go allows
  // them when asked to, and so does nsqd's default --tls-min-version=tls1.0.
  SSL_CTX_set_security_level(c, min_version < tls_v1_2 ? 0 : 1);
  const bool ok = SSL_CTX_set_min_proto_version(c, min_version) == 1 &&
                  SSL_CTX_set_max_proto_version(c, max_version) == 1 &&
                  SSL_CTX_set_cipher_list(c, tls12_ciphers) == 1 &&
                  SSL_CTX_set_ciphersuites(c, tls13_ciphers) == 1 &&
                  SSL_CTX_set1_groups_list(c, groups) == 1;
  if (!ok) fail(tls_detail::openssl_error_text("bad defaults"));
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                             SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_COMPRESSION);
  // Idle sessions give their 34 KB of record buffers back.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  if (server) {
    // Resumption by stateless tickets only (one per handshake, as Go sends): no cache that
    // grows with the number of handshakes.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 1);
    static constexpr unsigned char sid_ctx[] = "nsqd";
    SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
  }
  return ctx;
}

int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

// The root CA file's certificates, or else (when `system_otherwise`) the system's roots.
void trust(SSL_CTX* ctx, const std::string& root_ca_file, bool server, bool system_otherwise) {
  if (!root_ca_file.empty())
    trust_root_cas(ctx, root_ca_file, server);
  else if (system_otherwise)
    SSL_CTX_set_default_verify_paths(ctx);
}

// Runs `build`, turning a failure's cause into tls_error(prefix, cause); leaves this thread's
// OpenSSL error queue empty either way.
template <class Build>
std::shared_ptr<SSL_CTX> build_or_throw(const char* prefix, Build build) {
  try {
    auto ctx = build();
    ERR_clear_error();
    return ctx;
  } catch (const cause_error& e) {
    ERR_clear_error();
    throw tls_error(prefix, e.what());
  }
}

}  // namespace

tls_client_auth parse_tls_client_auth_policy(std::string_view flag) noexcept {
  if (flag == "require") return tls_client_auth::require;
  if (flag == "require-verify") return tls_client_auth::require_verify;
  return tls_client_auth::none;
}

tls_context tls_context::server(const tls_server_options& o) {
  return tls_context(build_or_throw("failed to build TLS config", [&] {
    auto ctx = new_context(true, o.min_version, 0);
    use_key_pair(ctx.get(), load_key_pair(o.cert_file, o.key_file));
    const int ask = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    if (o.client_auth == tls_client_auth::none)
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    else if (o.client_auth == tls_client_auth::require)
      SSL_CTX_set_verify(ctx.get(), ask, accept_any_certificate);  // any certificate will do
    else
      SSL_CTX_set_verify(ctx.get(), ask, nullptr);
    trust(ctx.get(), o.root_ca_file, true, o.client_auth == tls_client_auth::require_verify);
    return ctx;
  }), true);
}

tls_context tls_context::client(const tls_client_options& o) {
  return tls_context(build_or_throw("failed to build client TLS config", [&] {
    auto ctx = new_context(false, o.min_version, o.max_version);
    if (!o.cert_file.empty() || !o.key_file.empty())
      use_key_pair(ctx.get(), load_key_pair(o.cert_file, o.key_file));
    SSL_CTX_set_verify(ctx.get(), o.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    trust(ctx.get(), o.root_ca_file, false, o.verify_peer);
    return ctx;
  }), false);
}

}  // namespace nsqd::net
