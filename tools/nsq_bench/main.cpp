// nsq_bench: a load generator for any nsqd (ours or upstream). See README.md.

#include <cstdio>
#include <exception>

#include "nsq_bench/options.hpp"
#include "nsq_bench/report.hpp"
#include "nsq_bench/runner.hpp"

int main(int argc, char** argv) {
  using namespace nsqd::nsq_bench;
  bench_options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nsq_bench: %s\n\n%s", e.what(), usage().c_str());
    return 2;
  }
  if (o.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  try {
    bench_summary s = run(o);
    std::fputs((o.json ? format_json(o, s) : format_text(o, s)).c_str(), stdout);
    return exit_code(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nsq_bench: %s\n", e.what());
    return 1;
  }
}
