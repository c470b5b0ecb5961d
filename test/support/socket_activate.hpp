#pragma once
// systemd-socket-activate (Debian's systemd package) for tests of passed sockets, and the
// Boost.Test precondition that skips them where it is missing:
//   BOOST_AUTO_TEST_CASE(x, *boost::unit_test::precondition(has_socket_activate)) { ... }

#include <unistd.h>

#include <boost/test/unit_test.hpp>

namespace nsqd::test {

inline constexpr const char* socket_activate = "/usr/bin/systemd-socket-activate";

inline boost::test_tools::assertion_result has_socket_activate(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(::access(socket_activate, X_OK) == 0);
  if (!ok) ok.message() << "SKIPPED: no " << socket_activate << " (Debian's systemd package)";
  return ok;
}

}  // namespace nsqd::test
