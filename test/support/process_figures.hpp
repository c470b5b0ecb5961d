#pragma once
// What a test reads of a running process from /proc (descriptors, resident memory, CPU time),
// and polling until a condition holds.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include "test/support/wire_client.hpp"  // deadline

namespace nsqd::test {

// Descriptors process `pid` holds now.
inline std::size_t descriptors_of(pid_t pid) {
  const auto dir = std::filesystem::path("/proc") / std::to_string(pid) / "fd";
  return std::size_t(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}

// VmRSS of the process, in kB (0 if unreadable).
inline long resident_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return 0;
}

// The CPU time (user + system) the process has used so far, in clock ticks.
inline long cpu_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

// Polls `done` every 50 ms until it holds or `limit` passes; whether it held.
template <class Done>
bool within(std::chrono::milliseconds limit, Done done) {
  for (deadline d(limit);; std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    if (done()) return true;
    if (d.passed()) return false;
  }
}

}  // namespace nsqd::test
