#include "broker/quantile.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nsqd::broker {

namespace {

bool by_value(const quantile_sample& a, const quantile_sample& b) { return a.value < b.value; }

}  // namespace

// ---- quantile_stream --------------------------------------------------------------------------

quantile_stream::quantile_stream(std::vector<double> targets) : _targets(std::move(targets)) {
  _buffer.reserve(buffer_size);
}

double quantile_stream::invariant(double rank) const {
  // The smallest error any target allows at this rank; 1.0 as a target divides by zero above
  // its rank (an infinite allowance, ignored), as upstream.
  double m = std::numeric_limits<double>::max();
  for (double q : _targets) {
    double f = q * _n <= rank ? 2 * epsilon * rank / q : 2 * epsilon * (_n - rank) / (1 - q);
    if (f < m) m = f;
  }
  return m;
}

void quantile_stream::insert(double value) {
  _buffer.push_back({value, 1, 0});
  _sorted = false;
  if (_buffer.size() == buffer_size) {
    flush();
    compress();
  }
}

void quantile_stream::merge(std::vector<quantile_sample> samples) {
  std::sort(samples.begin(), samples.end(), by_value);
  merge_sorted(samples);
}

void quantile_stream::merge_sorted(const std::vector<quantile_sample>& sorted) {
  // One pass over the summary. A sample landing before an existing entry gets a delta from the
  // rank reached so far; one beyond the last entry is exact (delta 0). `rank` counts only the
  // entries already in the summary, as upstream's does.
  std::vector<quantile_sample> out;
  out.reserve(_summary.size() + sorted.size());
  double rank = 0;
  std::size_t j = 0;
  for (const quantile_sample& s : sorted) {
    while (j < _summary.size() && !(_summary[j].value > s.value)) {
      rank += _summary[j].width;
      out.push_back(_summary[j++]);
    }
    if (j < _summary.size())
      out.push_back({s.value, s.width, std::floor(invariant(rank)) - 1});
    else
      out.push_back({s.value, s.width, 0});
    _n += s.width;
  }
  out.insert(out.end(), _summary.begin() + std::ptrdiff_t(j), _summary.end());
  _summary = std::move(out);
}

void quantile_stream::compress() {
  if (_summary.size() < 2) return;
  // From the top down, fold an entry into the one above it while the error allows.
  std::vector<quantile_sample> kept;  // reversed
  kept.reserve(_summary.size());
  kept.push_back(_summary.back());
  double rank = _n - 1 - _summary.back().width;
  for (std::size_t i = _summary.size() - 1; i-- > 0;) {
    const quantile_sample& c = _summary[i];
    quantile_sample& x = kept.back();
    if (c.width + x.width + x.delta <= invariant(rank))
      x.width += c.width;
    else
      kept.push_back(c);
    rank -= c.width;
  }
  _summary.assign(kept.rbegin(), kept.rend());
}

void quantile_stream::flush() {
  if (!_sorted) {
    std::sort(_buffer.begin(), _buffer.end(), by_value);
    _sorted = true;
  }
  merge_sorted(_buffer);
  _buffer.clear();
}

double quantile_stream::query(double q) {
  if (_summary.empty()) {
    if (_buffer.empty()) return 0;
    if (!_sorted) {
      std::sort(_buffer.begin(), _buffer.end(), by_value);
      _sorted = true;
    }
    auto i = std::size_t(double(_buffer.size()) * q);
    if (i > 0) --i;
    return _buffer[std::min(i, _buffer.size() - 1)].value;
  }
  flush();
  double t = std::ceil(q * _n);
  t += std::ceil(invariant(t) / 2);
  const quantile_sample* p = &_summary[0];
  double rank = 0;
  for (std::size_t i = 1; i < _summary.size(); ++i) {
    const quantile_sample& c = _summary[i];
    if (rank + c.width + c.delta > t) return p->value;
    rank += p->width;
    p = &c;
  }
  return p->value;
}

std::uint64_t quantile_stream::count() const noexcept {
  return _buffer.size() + std::uint64_t(_n);
}

std::vector<quantile_sample> quantile_stream::samples() {
  if (_summary.empty()) return _buffer;
  flush();
  compress();
  return _summary;
}

void quantile_stream::reset() {
  _buffer.clear();
  _sorted = true;
  _summary.clear();
  _n = 0;
}

// ---- summaries --------------------------------------------------------------------------------

void latency_summary::add(latency_summary&& other) {
  if (percentiles.empty()) percentiles = std::move(other.percentiles);
  for (auto& s : other.streams)
    if (!s.empty()) streams.push_back(std::move(s));
}

latency_result evaluate(const latency_summary& s) {
  latency_result out;
  if (s.percentiles.empty()) return out;
  quantile_stream merged(s.percentiles);
  for (const auto& part : s.streams) merged.merge(part);
  out.count = merged.count();
  for (double q : s.percentiles) out.percentiles.push_back({q, merged.query(q)});
  return out;
}

// ---- latency_window ---------------------------------------------------------------------------

latency_window::latency_window(std::chrono::nanoseconds window, std::vector<double> percentiles,
                               std::int64_t now_ns)
    : _percentiles(std::move(percentiles)),
      _half_ns(std::max<std::int64_t>(1, window.count() / 2)),
      _last_move_ns(now_ns),
      _streams{quantile_stream(_percentiles), quantile_stream(_percentiles)} {}

void latency_window::advance(std::int64_t now_ns) {
  // Upstream moves one half-window at a time while now > last move + window/2; each move
  // makes the older stream current and resets it.
  if (now_ns <= _last_move_ns) return;
  std::int64_t moves = (now_ns - _last_move_ns - 1) / _half_ns;
  if (moves == 0) return;
  if (moves >= 2) {
    _streams[0].reset();
    _streams[1].reset();
  } else {
    _streams[_current ^ 1].reset();
  }
  _current ^= unsigned(moves & 1);
  _last_move_ns += moves * _half_ns;
}

void latency_window::record(std::int64_t published_ns, std::int64_t now_ns) {
  advance(now_ns);
  _streams[_current].insert(double(now_ns - published_ns));
}

latency_summary latency_window::summary(std::int64_t now_ns) {
  advance(now_ns);
  latency_summary out;
  out.percentiles = _percentiles;
  for (quantile_stream& s : _streams) {
    std::vector<quantile_sample> samples = s.samples();
    if (!samples.empty()) out.streams.push_back(std::move(samples));
  }
  return out;
}

}  // namespace nsqd::broker
