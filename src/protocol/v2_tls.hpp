#pragma once
// The TLS contexts a V2 connection uses. Either may be null; both outlive every connection
// (the node owns them and shares them with every shard).

#include "net/tls.hpp"

namespace nsqd::protocol {

struct v2_tls {
  const net::tls_context* server = nullptr;  // the IDENTIFY tls_v1 upgrade (--tls-cert, --tls-key)
  const net::tls_context* client = nullptr;  // auth servers over https (--tls-root-ca-file)
};

}  // namespace nsqd::protocol
