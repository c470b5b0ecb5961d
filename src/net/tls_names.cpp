// tls_names: TLS versions and cipher suites as Go and upstream nsqd spell them.

#include <cstdio>

#include "net/tls.hpp"

namespace nsqd::net {

namespace {

struct suite {
  std::uint16_t id;         // IANA number
  const char* openssl;      // OpenSSL's name
  const char* go;           // Go's tls.CipherSuiteName
  bool in_upstream_stats;   // named by upstream nsqd's /stats (prettyConnectionState)
};

// Every suite Go's crypto/tls implements, plus the fallback signal.
constexpr suite suites[] = {
    {0x0005, "RC4-SHA", "TLS_RSA_WITH_RC4_128_SHA", true},
    {0x000a, "DES-CBC3-SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", true},
    {0x002f, "AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", true},
    {0x0035, "AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", true},
    {0x003c, "AES128-SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA256", false},
    {0x009c, "AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", false},
    {0x009d, "AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384", false},
    {0xc007, "ECDHE-ECDSA-RC4-SHA", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", true},
    {0xc009, "ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", true},
    {0xc00a, "ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", true},
    {0xc011, "ECDHE-RSA-RC4-SHA", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", true},
    {0xc012, "ECDHE-RSA-DES-CBC3-SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", true},
    {0xc013, "ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", true},
    {0xc014, "ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", true},
    {0xc023, "ECDHE-ECDSA-AES128-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", false},
    {0xc027, "ECDHE-RSA-AES128-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", false},
    {0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", true},
    {0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false},
    {0xc02f, "ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", true},
    {0xc030, "ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false},
    {0xcca8, "ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false},
    {0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
     false},
    {0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", false},
    {0x1302, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", false},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", false},
    {0x5600, "", "TLS_FALLBACK_SCSV", false},
};

const suite* find(std::uint16_t id) {
  for (const auto& s : suites)
    if (s.id == id) return &s;
  return nullptr;
}

}  // namespace

std::string tls_version_name(std::uint16_t version) {
  switch (version) {
    case tls_v1_0: return "TLS1.0";
    case tls_v1_1: return "TLS1.1";
    case tls_v1_2: return "TLS1.2";
    case tls_v1_3: return "TLS1.3";
    default: return "Unknown " + std::to_string(version);
  }
}

std::string go_cipher_suite_name(std::uint16_t id) {
  if (const suite* s = find(id)) return s->go;
  char text[8];
  std::snprintf(text, sizeof text, "0x%04X", unsigned(id));
  return text;
}

std::string go_cipher_suite_name(std::string_view openssl_name) {
  if (openssl_name.empty()) return {};
  for (const auto& s : suites)
    if (openssl_name == s.openssl) return s.go;
  return {};
}

std::string upstream_stats_cipher_suite(std::uint16_t id) {
  const suite* s = find(id);
  if (s != nullptr && s->in_upstream_stats) return s->go;
  return "Unknown " + std::to_string(id);
}

}  // namespace nsqd::net
