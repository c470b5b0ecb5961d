#pragma once
// End-to-end processing latency percentiles (SPEC D.10): the targeted-quantile stream upstream
// takes from bmizerany/perks, the two-stream sliding window each channel keeps, and the
// mergeable summaries that /stats, /metrics and statsd read.
//
// Ownership: each channel part owns one `latency_window` (only when
// --e2e-processing-latency-percentile is set) on its shard. A stats snapshot copies the
// window's compressed samples into a `latency_summary`, a plain value that crosses shards and
// is merged by concatenation (channel parts over shards, channels into their topic);
// `evaluate` turns the merged summary into the numbers /stats shows.

#include <chrono>
#include <cstdint>
#include <vector>

namespace nsqd::broker {

// One entry of a stream's summary: an observed value, how many observations it stands for
// (width) and the uncertainty of its rank (delta). Widths are whole numbers.
struct quantile_sample {
  double value = 0;
  double width = 0;
  double delta = 0;
};

// A CKMS stream biased towards quantiles known in advance ("targeted"; Cormode, Korn,
// Muthukrishnan, Srivastava 2005), as upstream's perks NewTargeted with epsilon 0.01: rank
// error of a targeted quantile q stays within about epsilon * n. Observations collect in a
// buffer of 500 that is sorted and merged into the summary when full (or on query), then the
// summary is compressed. Not thread-safe; belongs to whoever made it.
class quantile_stream {
 public:
  static constexpr double epsilon = 0.01;
  static constexpr std::size_t buffer_size = 500;

  // `targets`: the quantiles (each in (0,1]) that queries will ask for.
  explicit quantile_stream(std::vector<double> targets);

  void insert(double value);
  // Adds samples of another stream (as `samples()` returned them; any order).
  void merge(std::vector<quantile_sample> samples);
  // The value at quantile q (one of the targets); 0 when the stream is empty. With fewer
  // observations than one buffer and nothing merged, the exact value from the sorted buffer.
  double query(double q);
  // Observations inserted or merged (sum of widths) since the last reset.
  std::uint64_t count() const noexcept;
  // This stream's summary for merging elsewhere: the raw buffer while nothing was ever
  // flushed, else the flushed and compressed summary (so it may compress the stream).
  std::vector<quantile_sample> samples();
  void reset();

 private:
  double invariant(double rank) const;  // allowed rank error at `rank`
  void flush();
  void merge_sorted(const std::vector<quantile_sample>& sorted);
  void compress();

  std::vector<double> _targets;
  std::vector<quantile_sample> _buffer;   // unmerged observations
  bool _sorted = true;                    // _buffer is sorted
  std::vector<quantile_sample> _summary;  // sorted by value
  double _n = 0;                          // sum of widths in _summary
};

// What a stats snapshot carries of one or more latency windows: each stream's samples.
// `percentiles` empty: there is no window (percentiles not configured, or a topic without
// channels), which /stats shows as {"count":0,"percentiles":null}.
struct latency_summary {
  std::vector<double> percentiles;                  // as configured (flag order)
  std::vector<std::vector<quantile_sample>> streams;

  // Adds another part (another shard's part of the channel, or a channel of the topic).
  void add(latency_summary&& other);
};

// The numbers /stats shows: observations in the window, and the value (ns) at each quantile,
// in configuration order. `percentiles` empty means "no window" (JSON null).
struct latency_result {
  struct entry {
    double quantile = 0;
    double value = 0;
  };
  std::uint64_t count = 0;
  std::vector<entry> percentiles;
};

// Merges every stream of `s` into one targeted stream and queries each configured quantile.
latency_result evaluate(const latency_summary& s);

// One channel part's latency window: two streams each covering window/2. Observations go into
// the current stream; every window/2 (counted from construction) the other stream is reset
// and becomes current, so a summary covers the last window/2 to window. Times are Unix ns
// passed in by the caller (tests inject them).
class latency_window {
 public:
  latency_window(std::chrono::nanoseconds window, std::vector<double> percentiles,
                 std::int64_t now_ns);

  // A message published at `published_ns` was finished at `now_ns`.
  void record(std::int64_t published_ns, std::int64_t now_ns);
  // Both streams as of `now_ns` (moving the window first, as upstream does on reads).
  latency_summary summary(std::int64_t now_ns);

  const std::vector<double>& percentiles() const noexcept { return _percentiles; }

 private:
  void advance(std::int64_t now_ns);

  std::vector<double> _percentiles;
  std::int64_t _half_ns;        // window/2, at least 1
  std::int64_t _last_move_ns;   // start of the current stream's half-window
  unsigned _current = 0;
  quantile_stream _streams[2];
};

}  // namespace nsqd::broker
