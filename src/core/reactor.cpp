#include "core/reactor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>

#include "core/cross_shard.hpp"
#include "core/io.hpp"

namespace nsqd::core {

namespace {

constexpr unsigned reap_batch = 256;

std::system_error setup_error(int err) {
  std::string what = "io_uring_setup failed: ";
  what += std::strerror(err);
  if (err == EPERM || err == EACCES)
    what += " (io_uring is disabled by kernel.io_uring_disabled or forbidden by a seccomp filter)";
  else if (err == ENOSYS)
    what += " (this kernel has no io_uring)";
  else if (err == ENOMEM)
    what += " (not enough locked memory for the ring: raise RLIMIT_MEMLOCK)";
  return std::system_error(err, std::system_category(), what);
}

}  // namespace

reactor::reactor(const reactor_options& opts, const logger& log)
    : _shard_id(opts.shard_id), _task_quota(std::max(1u, opts.task_quota)), _log(log) {
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
            IORING_SETUP_CQSIZE;
  p.cq_entries = opts.sq_entries * 4;
  int rc = io_uring_queue_init_params(opts.sq_entries, &_ring, &p);
  if (rc == -EINVAL) {
    _log.warn("shard ", _shard_id,
              ": io_uring refused SINGLE_ISSUER|DEFER_TASKRUN; falling back to a plain ring");
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = opts.sq_entries * 4;
    rc = io_uring_queue_init_params(opts.sq_entries, &_ring, &p);
  }
  if (rc < 0) throw setup_error(-rc);
  if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
    io_uring_queue_exit(&_ring);
    throw std::system_error(ENOTSUP, std::system_category(),
                            "io_uring lacks EXT_ARG or NODROP (Linux 5.11 or newer is needed)");
  }
  _timers.reserve(64);
}

reactor::~reactor() {
  // Give pending orphans (e.g. multishot accepts dropped while armed) their final CQEs.
  for (orphan* o : _orphans) o->cancel(*this);
  for (int i = 0; i < 1000 && !_orphans.empty(); ++i) {
    io_uring_submit_and_get_events(&_ring);
    reap();
    sweep_orphans();
    if (!_orphans.empty()) {
      __kernel_timespec ts{0, 1'000'000};
      io_uring_cqe* c = nullptr;
      io_uring_submit_and_wait_timeout(&_ring, &c, 1, &ts, nullptr);
    }
  }
  for (orphan* o : _orphans) delete o;  // only if the kernel never answered: give up on them
  io_uring_queue_exit(&_ring);
}

io_uring_sqe* reactor::sqe(unsigned count) {
  if (io_uring_sq_space_left(&_ring) < count) io_uring_submit(&_ring);
  io_uring_sqe* s = io_uring_get_sqe(&_ring);
  while (!s) {  // the kernel took none (CQ backlog): let it catch up
    io_uring_submit_and_get_events(&_ring);
    s = io_uring_get_sqe(&_ring);
  }
  return s;
}

void reactor::adopt(orphan* o) { _orphans.push_back(o); }

void reactor::run_until_stopped() {
  static constexpr bool never = false;
  _stop = false;
  loop(never);
}

void reactor::loop(const bool& done) {
  while (!done && !_stop) {
    ++_counters.loop_turns;
    size_t n = std::min(_ready.size(), size_t(_task_quota));
    for (size_t i = 0; i < n; ++i) {
      std::coroutine_handle<> h = _ready.front();
      _ready.pop_front();
      h.resume();
      if (done) break;
    }
    _counters.resumes += n;
    if (done || _stop) break;
    if (_hub) {
      _hub->poll(_shard_id);
      if (_stop) break;
      _hub->flush(*this);
    }
    turn(_ready.empty());
    reap();
    _turn_time = clock::now();
    fire_timers();
    if (!_orphans.empty()) sweep_orphans();
  }
  // Hand over what other shards are owed before this loop stops turning.
  if (_hub) {
    _hub->flush(*this);
    io_uring_submit(&_ring);
  }
}

void reactor::turn(bool may_sleep) {
  ++_counters.enters;
  int rc;
  if (!may_sleep) {
    rc = io_uring_submit_and_get_events(&_ring);
  } else if (!_timers.empty()) {
    auto wait = _timers.front()->deadline - clock::now();
    if (wait <= clock::duration::zero()) {
      rc = io_uring_submit_and_get_events(&_ring);
    } else {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      __kernel_timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
      io_uring_cqe* c = nullptr;
      rc = io_uring_submit_and_wait_timeout(&_ring, &c, 1, &ts, nullptr);
    }
  } else {
    rc = io_uring_submit_and_wait(&_ring, 1);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
    throw std::system_error(-rc, std::system_category(), "io_uring_enter");
}

void reactor::reap() {
  io_uring_cqe* cqes[reap_batch];
  struct item {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
  } items[reap_batch];
  for (;;) {
    unsigned n = io_uring_peek_batch_cqe(&_ring, cqes, reap_batch);
    if (n == 0) return;
    for (unsigned i = 0; i < n; ++i) items[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    io_uring_cq_advance(&_ring, n);
    _counters.cqes += n;
    for (unsigned i = 0; i < n; ++i) {
      if (items[i].user_data == 0) continue;  // wake-ups and fire-and-forget SQEs
      auto* sink = reinterpret_cast<completion_sink*>(items[i].user_data & ~uint64_t(7));
      sink->on_cqe(items[i].res, items[i].flags, (items[i].user_data & 1) != 0);
    }
    if (n < reap_batch) return;
  }
}

// ---- timers: a binary min-heap of intrusive entries ------------------------------------------

void reactor::arm(timer_entry& t) {
  if (t.armed()) disarm(t);
  t._index = _timers.size();
  _timers.push_back(&t);
  heap_up(t._index);
}

void reactor::disarm(timer_entry& t) noexcept {
  if (!t.armed()) return;
  size_t i = t._index;
  size_t last = _timers.size() - 1;
  if (i != last) heap_swap(i, last);
  _timers.pop_back();
  t._index = timer_entry::npos;
  if (i < _timers.size()) {
    heap_down(i);
    heap_up(i);
  }
}

void reactor::fire_timers() {
  if (_timers.empty()) return;
  auto now = clock::now();
  while (!_timers.empty() && _timers.front()->deadline <= now) {
    timer_entry* t = _timers.front();
    disarm(*t);
    t->fire();
  }
}

void reactor::heap_swap(size_t a, size_t b) noexcept {
  std::swap(_timers[a], _timers[b]);
  _timers[a]->_index = a;
  _timers[b]->_index = b;
}

void reactor::heap_up(size_t i) noexcept {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!(_timers[i]->deadline < _timers[parent]->deadline)) break;
    heap_swap(i, parent);
    i = parent;
  }
}

void reactor::heap_down(size_t i) noexcept {
  size_t n = _timers.size();
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && _timers[l]->deadline < _timers[m]->deadline) m = l;
    if (r < n && _timers[r]->deadline < _timers[m]->deadline) m = r;
    if (m == i) return;
    heap_swap(i, m);
    i = m;
  }
}

void reactor::sweep_orphans() {
  auto done = [](orphan* o) {
    if (!o->done()) return false;
    delete o;
    return true;
  };
  _orphans.erase(std::remove_if(_orphans.begin(), _orphans.end(), done), _orphans.end());
}

// ---- accept_stream ----------------------------------------------------------------------------

accept_stream::~accept_stream() {
  if (!_state) return;
  for (int fd : _state->_ready) ::close(fd);
  _state->_ready.clear();
  if (_state->done()) {
    delete _state;
    return;
  }
  _state->_orphaned = true;
  _state->cancel(*_state->_shard);
  _state->_shard->adopt(_state);
}

accept_stream::state::~state() {
  for (int fd : _ready) ::close(fd);
}

void accept_stream::state::arm() {
  io_uring_sqe* s = _shard->sqe();
  io_uring_prep_multishot_accept(s, _fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, reinterpret_cast<uintptr_t>(static_cast<completion_sink*>(this)));
  _armed = true;
  _cancel_sent = false;
}

void accept_stream::state::on_cqe(int32_t res, uint32_t flags, bool secondary) noexcept {
  if (secondary) {
    --_secondary;
    return;
  }
  bool more = (flags & IORING_CQE_F_MORE) != 0;
  if (!more) _armed = false;
  if (_orphaned) {
    if (res >= 0) ::close(res);
    return;
  }
  if (res >= 0 || !(res == -ECANCELED && _cancel_sent)) _ready.push_back(res);
  if (!_ready.empty() || !_armed) wake();
}

void accept_stream::state::wake() noexcept {
  if (!_waiter) return;
  cancel_source::remove(this);
  _shard->schedule(std::exchange(_waiter, {}));
}

void accept_stream::state::on_cancel() noexcept {
  cancel(*_shard);
  if (!_armed) wake();
}

void accept_stream::state::cancel(reactor& r) noexcept {
  if (!_armed || _cancel_sent) return;
  io_uring_sqe* s = r.sqe();
  uint64_t ud = reinterpret_cast<uintptr_t>(static_cast<completion_sink*>(this));
  io_uring_prep_cancel64(s, ud, 0);
  io_uring_sqe_set_data64(s, ud | 1);
  ++_secondary;
  _cancel_sent = true;
}

}  // namespace nsqd::core
