#include "nsq_bench/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

namespace nsqd::nsq_bench {

namespace {
constexpr std::uint64_t half = latency_histogram::sub_buckets / 2;
}

std::size_t latency_histogram::bucket_of(std::uint64_t value) {
  if (value < sub_buckets) return std::size_t(value);
  // value >> shift lands in [half, sub_buckets): 64 linear steps of width 2^shift.
  unsigned shift = unsigned(std::bit_width(value)) - sub_bucket_bits;
  return std::size_t(sub_buckets + (shift - 1) * half + ((value >> shift) - half));
}

std::uint64_t latency_histogram::bucket_low(std::size_t index) {
  if (index < sub_buckets) return index;
  std::size_t j = index - sub_buckets;
  unsigned shift = unsigned(j / half) + 1;
  return (half + j % half) << shift;
}

std::uint64_t latency_histogram::bucket_high(std::size_t index) {
  if (index < sub_buckets) return index;
  unsigned shift = unsigned((index - sub_buckets) / half) + 1;
  return bucket_low(index) + ((std::uint64_t(1) << shift) - 1);
}

void latency_histogram::record(std::uint64_t value) {
  ++_buckets[bucket_of(value)];
  ++_count;
  _min = std::min(_min, value);
  _max = std::max(_max, value);
  _sum += static_cast<long double>(value);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i) _buckets[i] += other._buckets[i];
  _count += other._count;
  _min = std::min(_min, other._min);
  _max = std::max(_max, other._max);
  _sum += other._sum;
}

double latency_histogram::mean() const {
  return _count ? double(_sum / static_cast<long double>(_count)) : 0.0;
}

std::uint64_t latency_histogram::percentile(double q) const {
  if (!(q >= 0.0 && q <= 100.0)) throw std::out_of_range("percentile outside [0, 100]");
  if (_count == 0) return 0;
  if (q == 0.0) return min();
  auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * double(_count)));
  rank = std::clamp<std::uint64_t>(rank, 1, _count);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += _buckets[i];
    if (seen >= rank) {
      std::uint64_t low = bucket_low(i);
      std::uint64_t mid = low + (bucket_high(i) - low) / 2;
      return std::clamp(mid, min(), _max);
    }
  }
  return _max;  // unreachable: the buckets sum to _count
}

}  // namespace nsqd::nsq_bench
