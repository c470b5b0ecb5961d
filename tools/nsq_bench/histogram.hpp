#pragma once
// latency_histogram: an HDR-style log-linear histogram of non-negative integers (nanoseconds).
//
// Values below 128 have a bucket each; above, every power-of-two range [2^e, 2^(e+1)) is split
// into 64 equal buckets, so a bucket is at most 1/64 (1.6%) of its lower bound wide. A
// percentile is reported as its bucket's midpoint, clamped to the exact min and max seen:
// within 0.8% of the true order statistic. The whole uint64 range is covered; 3776 counters
// (30 KiB) per histogram. One owner records; merge() combines finished histograms.

#include <array>
#include <cstddef>
#include <cstdint>

namespace nsqd::nsq_bench {

class latency_histogram {
 public:
  static constexpr unsigned sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_buckets = 1u << sub_bucket_bits;  // 128
  static constexpr std::size_t bucket_count =
      sub_buckets + (64 - sub_bucket_bits) * (sub_buckets / 2);

  void record(std::uint64_t value);
  void merge(const latency_histogram& other);

  std::uint64_t count() const { return _count; }
  std::uint64_t min() const { return _count ? _min : 0; }
  std::uint64_t max() const { return _max; }
  double mean() const;  // exact (long double sum); 0 when empty

  // The value at percentile `q` in [0, 100] (0 when empty): the first bucket by which
  // ceil(q% of count) values are counted; percentile(0) is min(). Throws std::out_of_range
  // for q outside [0, 100] (or NaN).
  std::uint64_t percentile(double q) const;

  // Bucket arithmetic, public for tests.
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_low(std::size_t index);   // smallest value in the bucket
  static std::uint64_t bucket_high(std::size_t index);  // largest value in the bucket

 private:
  std::array<std::uint64_t, bucket_count> _buckets{};
  std::uint64_t _count = 0;
  std::uint64_t _min = UINT64_MAX;
  std::uint64_t _max = 0;
  long double _sum = 0;
};

}  // namespace nsqd::nsq_bench
