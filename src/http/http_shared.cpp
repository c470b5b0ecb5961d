#include "http/http_shared.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace nsqd::http {

http_shared::http_shared(config::runtime_settings& settings_, int tcp, int http, int https)
    : start_time(process_start_time()),
      tcp_port(tcp),
      http_port(http),
      https_port(https),
      settings(settings_) {}

int configured_port(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return -1;
  const std::string_view digits = address.substr(colon + 1);
  int port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || end != digits.data() + digits.size() || port <= 0 || port > 65535)
    return -1;
  return port;
}

std::chrono::system_clock::time_point process_start_time() {
  const auto now = std::chrono::system_clock::now();
  // /proc/self/stat field 22: start time in clock ticks after boot; /proc/stat "btime": boot
  // time in unix seconds. The command name (field 2) may hold spaces: skip past its ')'.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return now;
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) return now;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  unsigned long long ticks = 0;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) ticks = std::strtoull(field.c_str(), nullptr, 10);
  std::ifstream proc_stat("/proc/stat");
  long long boot = 0;
  while (std::getline(proc_stat, line))
    if (line.starts_with("btime ")) boot = std::atoll(line.c_str() + 6);
  const long hz = ::sysconf(_SC_CLK_TCK);
  if (ticks == 0 || boot == 0 || hz <= 0) return now;
  const auto since_boot = std::chrono::nanoseconds(
      static_cast<std::int64_t>(ticks / static_cast<unsigned long long>(hz)) * 1'000'000'000 +
      static_cast<std::int64_t>(ticks % static_cast<unsigned long long>(hz)) * 1'000'000'000 / hz);
  const auto start = std::chrono::system_clock::time_point(std::chrono::seconds(boot)) +
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(since_boot);
  return start > now ? now : start;
}

}  // namespace nsqd::http
