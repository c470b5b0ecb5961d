#include "core/cross_shard.hpp"

#include <liburing.h>

namespace nsqd::core {

using detail::cross_item;

cross_shard_hub::cross_shard_hub(unsigned shards) : _shards(shards) {
  _rings.reserve(size_t(shards) * shards);
  for (unsigned i = 0; i < shards * shards; ++i)
    _rings.push_back(std::make_unique<detail::spsc_ring>());
  for (unsigned i = 0; i < shards; ++i) {
    auto st = std::make_unique<per_shard>();
    st->overflow.resize(shards);
    st->needs_wake.assign(shards, false);
    _state.push_back(std::move(st));
  }
}

cross_shard_hub::~cross_shard_hub() = default;

void cross_shard_hub::attach(unsigned shard, reactor& r) noexcept {
  _state[shard]->reactor_ptr = &r;
  // A new ring owes no wake-up; a previous run may have stopped with the flag still set.
  _state[shard]->wake_requested.store(false, std::memory_order_relaxed);
  r.attach(this);
}

void cross_shard_hub::post(unsigned from, unsigned to, cross_item item) {
  per_shard& me = *_state[from];
  auto& pending = me.overflow[to];
  if (!pending.empty() || !ring(from, to).push(item)) pending.push_back(item);
  me.needs_wake[to] = true;
}

void cross_shard_hub::flush(reactor& r) {
  unsigned from = r.shard_id();
  per_shard& me = *_state[from];
  for (unsigned to = 0; to < _shards; ++to) {
    if (!me.needs_wake[to]) continue;
    auto& pending = me.overflow[to];
    detail::spsc_ring& q = ring(from, to);
    while (!pending.empty() && q.push(pending.front())) pending.pop_front();
    if (!pending.empty()) {
      // Full: the consumer wakes us once it has drained. Look again after raising the flag,
      // in case it drained before it could see the flag (pairs with the fence in poll).
      q.producer_waiting.store(true, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      while (!pending.empty() && q.push(pending.front())) pending.pop_front();
    }
    me.needs_wake[to] = !pending.empty();  // try the rest next turn
    wake(r, to);
  }
}

void cross_shard_hub::wake(reactor& r, unsigned to) {
  per_shard& target = *_state[to];
  if (target.wake_requested.exchange(true, std::memory_order_seq_cst)) return;
  io_uring_sqe* s = r.sqe();
  io_uring_prep_msg_ring(s, target.reactor_ptr->ring_fd(), 0, 0, 0);
  io_uring_sqe_set_data64(s, 0);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void cross_shard_hub::poll(unsigned me) {
  per_shard& st = *_state[me];
  // Clear before draining: a sender that pushes after our drain sees `false` and wakes us.
  if (st.wake_requested.load(std::memory_order_relaxed))
    st.wake_requested.store(false, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (unsigned from = 0; from < _shards; ++from) {
    if (from == me) continue;
    detail::spsc_ring& q = ring(from, me);
    cross_item item;
    while (q.pop(item)) handle(me, item);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the fence in flush
    if (q.producer_waiting.load(std::memory_order_relaxed) &&
        q.producer_waiting.exchange(false, std::memory_order_seq_cst))
      wake(*st.reactor_ptr, from);
  }
}

void cross_shard_hub::handle(unsigned me, cross_item item) {
  detail::cross_call* call = item.call;
  switch (item.kind) {
    case cross_item::start:
      call->start_on_target(*_state[me]->reactor_ptr);
      break;
    case cross_item::done:
      call->on_result();
      break;
    case cross_item::cancel:
      call->remote_cancel.request();
      post(me, call->origin, {cross_item::cancel_ack, call});
      break;
    case cross_item::cancel_ack:
      call->on_cancel_ack();
      break;
  }
}

}  // namespace nsqd::core
