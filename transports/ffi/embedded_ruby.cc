// CRuby embedded through libruby, calling peers/ruby/workload.rb.
// Ruby may only be called from the thread that started it; the runner calls
// a transport from one thread only, and the ffi rows run in their own child.
#include <ruby.h>
#include <signal.h>

#include <cstring>

#include "common/paths.h"
#include "transports/ffi/batch_arrays.h"
#include "transports/ffi/embedded.h"

namespace interop {
namespace {

struct AddArgs {
  VALUE module;
  ID method;  // add, or echo for the floor
  int64_t x, y;
  int64_t result;
};

struct ScoreArgs {
  VALUE module;
  ID method;  // score, or echo for the floor
  const Request* request;
  double score;
  std::string* label;
  bool echoed;  // echo: the very Array passed came back
};

// A batch: the arrays packed into binary Strings (Ruby's idiom for a block
// of numbers without a gem, unpacked by the callee with String#unpack), the
// models as an Array; one call, the loop in Ruby, an Array of results back.
struct BatchArgs {
  VALUE module;
  ID method;  // add_batch, score_batch, or echo
  const BatchArrays* arrays;
  Reply* reply;
  bool echoed;
};

ID g_add_id, g_score_id, g_echo_id, g_add_batch_id, g_score_batch_id;

VALUE CallBatch(VALUE arg) {
  auto* a = reinterpret_cast<BatchArgs*>(arg);
  const BatchArrays& arrays = *a->arrays;
  const long b = static_cast<long>(arrays.size());
  VALUE first, second;
  if (arrays.op == Op::kAdd) {
    first = rb_str_new(reinterpret_cast<const char*>(arrays.xs.data()), b * 8);
    second = rb_str_new(reinterpret_cast<const char*>(arrays.ys.data()), b * 8);
  } else {
    first = rb_str_new(reinterpret_cast<const char*>(arrays.features.data()),
                       static_cast<long>(arrays.features.size() * 8));
    second = rb_ary_new_capa(b);
    for (std::string_view m : arrays.models) rb_ary_push(second, rb_utf8_str_new(m.data(), static_cast<long>(m.size())));
  }
  VALUE r;
  if (a->method == g_echo_id) {
    r = rb_funcall(a->module, a->method, 2, first, second);
    a->echoed = r == first;
    return Qnil;
  }
  r = arrays.op == Op::kAdd ? rb_funcall(a->module, a->method, 2, first, second)
                            : rb_funcall(a->module, a->method, 3, first, ULL2NUM(arrays.n), second);
  Check_Type(r, T_ARRAY);
  if (RARRAY_LEN(r) != b) rb_raise(rb_eTypeError, "a batch of %ld got %ld results", b, RARRAY_LEN(r));
  Reply& reply = *a->reply;
  for (long i = 0; i < b; ++i) {
    VALUE v = RARRAY_AREF(r, i);
    Reply& item = reply.AddItem();
    if (arrays.op == Op::kAdd) {
      item.result = NUM2LL(v);
      item.kind = ReplyKind::kAdd;
    } else {
      Check_Type(v, T_ARRAY);
      if (RARRAY_LEN(v) != 2) rb_raise(rb_eTypeError, "Workload.score_batch must return [score, label] pairs");
      item.score = NUM2DBL(RARRAY_AREF(v, 0));
      VALUE label = RARRAY_AREF(v, 1);
      StringValue(label);
      item.label.assign(RSTRING_PTR(label), static_cast<std::size_t>(RSTRING_LEN(label)));
      item.kind = ReplyKind::kScore;
    }
  }
  reply.kind = ReplyKind::kBatch;
  return Qnil;
}

VALUE CallAdd(VALUE arg) {
  auto* a = reinterpret_cast<AddArgs*>(arg);
  VALUE r = rb_funcall(a->module, a->method, 2, LL2NUM(a->x), LL2NUM(a->y));
  a->result = NUM2LL(r);  // raises (inside rb_protect) if out of int64 range
  return Qnil;
}

VALUE CallScore(VALUE arg) {
  auto* a = reinterpret_cast<ScoreArgs*>(arg);
  const auto& f = a->request->features;
  // Building the Array of Floats is part of what crossing into Ruby costs.
  VALUE features = rb_ary_new_capa(static_cast<long>(f.size()));
  for (double v : f) rb_ary_push(features, DBL2NUM(v));
  VALUE model = rb_utf8_str_new(a->request->model.data(), static_cast<long>(a->request->model.size()));
  VALUE r = rb_funcall(a->module, a->method, 2, features, model);
  if (a->method == g_echo_id) {
    a->echoed = r == features;
    return Qnil;
  }
  Check_Type(r, T_ARRAY);
  if (RARRAY_LEN(r) != 2) rb_raise(rb_eTypeError, "Workload.score must return [score, label]");
  a->score = NUM2DBL(RARRAY_AREF(r, 0));
  VALUE label = RARRAY_AREF(r, 1);
  StringValue(label);
  a->label->assign(RSTRING_PTR(label), static_cast<std::size_t>(RSTRING_LEN(label)));
  return Qnil;
}

VALUE RequireFile(VALUE path) { return rb_require_string(path); }

VALUE DescribeError(VALUE err) { return rb_funcall(err, rb_intern("full_message"), 0); }

// The pending Ruby exception as text; clears it.
std::string TakeRubyError() {
  VALUE err = rb_errinfo();
  rb_set_errinfo(Qnil);
  int state = 0;
  VALUE msg = rb_protect(DescribeError, err, &state);
  if (state || !RB_TYPE_P(msg, T_STRING)) return "ruby raised an exception";
  return std::string(RSTRING_PTR(msg), static_cast<std::size_t>(RSTRING_LEN(msg)));
}

VALUE g_workload = Qnil;

void StartRubyOnce() {
  static bool started = false;
  if (started) return;
  void* base = RecordedStackBase();
  if (!base) throw TransportError("embedded Ruby needs main() to call RecordStackBase()");
  ruby_init_stack(static_cast<VALUE*>(base));
  if (ruby_setup() != 0) throw TransportError("ruby_setup() failed");
  // Without ruby_options, RubyGems and the prelude are not loaded: Debian's
  // ruby-* gems cannot be required and even core methods written in Ruby fail.
  static char arg0[] = "ruby", arg1[] = "-e", arg2[] = "";
  static char* argv[] = {arg0, arg1, arg2};
  ruby_options(3, argv);
  // Ruby installed its own handlers; the harness's parent decides about signals.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGPIPE, SIG_IGN);
  started = true;

  const std::string path = SourceDir() + "/peers/ruby/workload.rb";
  int state = 0;
  rb_protect(RequireFile, rb_str_new_cstr(path.c_str()), &state);
  if (state) throw TransportError("requiring " + path + ": " + TakeRubyError());
  g_workload = rb_const_get(rb_cObject, rb_intern("Workload"));
  rb_gc_register_address(&g_workload);
  g_add_id = rb_intern("add");
  g_score_id = rb_intern("score");
  g_echo_id = rb_intern("echo");
  g_add_batch_id = rb_intern("add_batch");
  g_score_batch_id = rb_intern("score_batch");
}

// kEcho (the floor) calls Workload.echo with the row's very arguments: the
// crossing, the building of the Array included, without the workload.
class EmbeddedRubyClient final : public Transport {
 public:
  explicit EmbeddedRubyClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint&) override { StartRubyOnce(); }

  void Call(const Request& r, Reply& reply) override {
    reply.id = r.id;  // an in-process call has no wire to carry the id
    int state = 0;
    bool same = false;
    if (r.is_batch()) return CallBatchOf(r, reply);
    if (r.op == Op::kAdd) {
      AddArgs a{g_workload, echo_ ? g_echo_id : g_add_id, r.x, r.y, 0};
      rb_protect(CallAdd, reinterpret_cast<VALUE>(&a), &state);
      reply.result = a.result;
      same = a.result == r.x;
    } else {
      ScoreArgs a{g_workload, echo_ ? g_echo_id : g_score_id, &r, 0, &reply.label, false};
      rb_protect(CallScore, reinterpret_cast<VALUE>(&a), &state);
      reply.score = a.score;
      same = a.echoed;
    }
    if (state) {
      reply.error = "ruby: " + TakeRubyError();
    } else if (!echo_) {
      reply.kind = r.op == Op::kAdd ? ReplyKind::kAdd : ReplyKind::kScore;
    } else if (same) {
      reply.kind = ReplyKind::kEcho;
    } else {
      reply.error = "Workload.echo returned something else than its first argument";
    }
  }

 private:
  void CallBatchOf(const Request& r, Reply& reply) {
    if (std::string bad = arrays_.Gather(r); !bad.empty()) {
      reply.error = std::move(bad);
      return;
    }
    const ID method = echo_ ? g_echo_id : arrays_.op == Op::kAdd ? g_add_batch_id : g_score_batch_id;
    BatchArgs a{g_workload, method, &arrays_, &reply, false};
    int state = 0;
    rb_protect(CallBatch, reinterpret_cast<VALUE>(&a), &state);
    if (state) {
      reply.items.clear();
      reply.kind = ReplyKind::kNone;
      reply.error = "ruby: " + TakeRubyError();
    } else if (echo_) {
      if (a.echoed) reply.kind = ReplyKind::kEcho;
      else reply.error = "Workload.echo returned something else than its first argument";
    }
  }

  bool echo_;
  BatchArrays arrays_;
};

}  // namespace

std::unique_ptr<Transport> MakeEmbeddedRubyClient(ClientMode mode) {
  return std::make_unique<EmbeddedRubyClient>(mode);
}

}  // namespace interop
