#include <zlib.h>

#include <algorithm>
#include <climits>

#include "net/compression.hpp"

namespace nsqd::net {

namespace {

constexpr int raw_window_bits = -15;  // negative: raw DEFLATE, no zlib header or trailer
constexpr std::size_t max_step = UINT_MAX;  // zlib counts in uInt

class deflate_decoder final : public stream_decoder {
 public:
  ~deflate_decoder() override {
    if (_ready) inflateEnd(&_z);
  }
  bool init() noexcept {
    _ready = inflateInit2(&_z, raw_window_bits) == Z_OK;
    return _ready;
  }

  std::ptrdiff_t read(char* dst, std::size_t cap) override {
    if (_state != need_input) return _state;
    // (zlib is called even without input: it may hold output that did not fit last time)
    const std::size_t in = std::min(input_size(), max_step);
    _z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input()));
    _z.avail_in = uInt(in);
    _z.next_out = reinterpret_cast<Bytef*>(dst);
    _z.avail_out = uInt(std::min(cap, max_step));
    const int rc = inflate(&_z, Z_SYNC_FLUSH);
    const std::size_t used = in - _z.avail_in;
    const std::size_t produced = std::min(cap, max_step) - _z.avail_out;
    consume_input(used);
    if (rc == Z_STREAM_END) {
      _state = end_of_stream;  // what came before the end still counts
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      _state = corrupt;
      return corrupt;
    }
    if (produced > 0) return std::ptrdiff_t(produced);
    return _state;  // need_input when the input held no complete output yet
  }

 private:
  z_stream _z{};
  bool _ready = false;
  std::ptrdiff_t _state = need_input;
};

class deflate_encoder final : public stream_encoder {
 public:
  ~deflate_encoder() override {
    if (_ready) deflateEnd(&_z);
  }
  bool init(int level) noexcept {
    _ready = deflateInit2(&_z, level, Z_DEFLATED, raw_window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    return _ready;
  }

  void encode(std::string_view data, std::string& out) override {
    if (data.empty()) return;
    while (!data.empty()) {
      const std::size_t step = std::min(data.size(), max_step);
      _z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      _z.avail_in = uInt(step);
      data.remove_prefix(step);
      // Z_SYNC_FLUSH after the last piece only; zlib wants the same flush mode until done.
      const int flush = data.empty() ? Z_SYNC_FLUSH : Z_NO_FLUSH;
      do {
        const std::size_t at = out.size();
        const std::size_t room = deflateBound(&_z, _z.avail_in) + 16;
        out.resize(at + room);
        _z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
        _z.avail_out = uInt(std::min(room, max_step));
        deflate(&_z, flush);  // Z_OK or Z_BUF_ERROR (no progress possible): both fine here
        out.resize(at + (std::min(room, max_step) - _z.avail_out));
      } while (_z.avail_in > 0 || _z.avail_out == 0);
    }
  }

 private:
  z_stream _z{};
  bool _ready = false;
};

}  // namespace

std::unique_ptr<stream_decoder> make_deflate_decoder() {
  auto d = std::make_unique<deflate_decoder>();
  if (!d->init()) return nullptr;
  return d;
}

std::unique_ptr<stream_encoder> make_deflate_encoder(int level) {
  auto e = std::make_unique<deflate_encoder>();
  if (!e->init(level)) return nullptr;
  return e;
}

}  // namespace nsqd::net
