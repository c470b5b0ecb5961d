#pragma once
// Cancellation, in Seastar's abort_source spirit.
//
// A cancel_source is owned by whoever may stop a piece of work: a task_group owns one for its
// children, a cross-shard call owns one for the remote side. Operations in flight register a
// cancel_callback while they wait; request() runs each callback once, on the source's shard.
// Callbacks never resume coroutines inline: they submit an io_uring cancel or schedule the
// waiter on the run queue. Everything here lives on one shard; nothing is thread-safe.

#include <cassert>

namespace nsqd::core {

class cancel_source;

// Intrusive list node: an operation that wants to hear about cancellation while it waits.
class cancel_callback {
 public:
  virtual void on_cancel() noexcept = 0;

 protected:
  ~cancel_callback() = default;

 private:
  friend class cancel_source;
  cancel_callback* _prev = nullptr;
  cancel_callback* _next = nullptr;
  cancel_source* _source = nullptr;
};

class cancel_source {
 public:
  // A source with a parent is cancelled when its parent is (task groups nest this way).
  explicit cancel_source(cancel_source* parent = nullptr) : _link(this) {
    if (parent) {
      if (parent->cancelled())
        _cancelled = true;
      else
        parent->add(&_link);
    }
  }
  cancel_source(const cancel_source&) = delete;
  cancel_source& operator=(const cancel_source&) = delete;
  ~cancel_source() {
    remove(&_link);  // from the parent, if linked
    assert(_head == nullptr && "cancel_source destroyed with operations still registered");
  }

  bool cancelled() const noexcept { return _cancelled; }

  // Marks the source cancelled and runs every registered callback once (removing it first).
  void request() noexcept {
    if (_cancelled) return;
    _cancelled = true;
    while (_head) {
      cancel_callback* cb = _head;
      unlink(cb);
      cb->on_cancel();
    }
  }

  // Registers cb. If already cancelled, cb runs at once.
  void add(cancel_callback* cb) noexcept {
    if (_cancelled) {
      cb->on_cancel();
      return;
    }
    cb->_source = this;
    cb->_prev = nullptr;
    cb->_next = _head;
    if (_head) _head->_prev = cb;
    _head = cb;
  }

  // Unregisters cb from whatever source holds it; harmless if it holds none.
  static void remove(cancel_callback* cb) noexcept {
    if (cb->_source) cb->_source->unlink(cb);
  }

 private:
  struct parent_link final : cancel_callback {
    explicit parent_link(cancel_source* self) : _self(self) {}
    void on_cancel() noexcept override { _self->request(); }
    cancel_source* _self;
  };

  void unlink(cancel_callback* cb) noexcept {
    if (cb->_prev)
      cb->_prev->_next = cb->_next;
    else
      _head = cb->_next;
    if (cb->_next) cb->_next->_prev = cb->_prev;
    cb->_prev = cb->_next = nullptr;
    cb->_source = nullptr;
  }

  bool _cancelled = false;
  cancel_callback* _head = nullptr;
  parent_link _link;
};

}  // namespace nsqd::core
