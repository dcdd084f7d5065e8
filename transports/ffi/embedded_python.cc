// CPython embedded through pybind11, calling peers/python/workload.py.
#include <pybind11/embed.h>

#include "common/paths.h"
#include "transports/ffi/batch_arrays.h"
#include "transports/ffi/embedded.h"

namespace py = pybind11;

namespace interop {
namespace {

// Starts the interpreter once per process. program_name must be Debian's
// python3: CPython derives its stdlib and site-packages from it, and the
// python3 first on PATH here is another installation (STACK-NOTES.md).
void StartPythonOnce() {
  if (Py_IsInitialized()) return;
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;  // signals stay the harness's business
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, kPythonInterpreter);
  if (PyStatus_Exception(status)) {
    PyConfig_Clear(&config);
    throw TransportError("cannot configure embedded CPython");
  }
  try {
    py::initialize_interpreter(&config, 0, nullptr, /*add_program_dir_to_path=*/false);
  } catch (const std::exception& e) {
    throw TransportError(std::string("cannot start embedded CPython: ") + e.what());
  }
}

// kEcho (the floor) calls workload.echo with the row's very arguments: the
// crossing, the marshalling of the vector included, without the workload.
class EmbeddedPythonClient final : public Transport {
 public:
  explicit EmbeddedPythonClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint&) override {
    StartPythonOnce();
    try {
      py::module_::import("sys").attr("path").attr("insert")(0, SourceDir() + "/peers/python");
      py::module_ workload = py::module_::import("workload");
      add_ = workload.attr(echo_ ? "echo" : "add");
      score_ = workload.attr(echo_ ? "echo" : "score");
      workload_ = workload;  // the batch functions are looked up at the first batch
    } catch (const py::error_already_set& e) {
      throw TransportError(std::string("importing peers/python/workload.py: ") + e.what());
    }
  }

  void Call(const Request& r, Reply& reply) override {
    reply.id = r.id;  // an in-process call has no wire to carry the id
    try {
      if (r.is_batch()) {
        CallBatch(r, reply);
      } else if (r.op == Op::kAdd) {
        py::object result = add_(r.x, r.y);
        if (echo_) return Echoed(result.cast<int64_t>() == r.x, reply);
        reply.result = result.cast<int64_t>();
        reply.kind = ReplyKind::kAdd;
      } else {
        // Marshalling the vector into a Python list is part of what FFI costs.
        py::list features(r.features.size());
        for (std::size_t i = 0; i < r.features.size(); ++i) {
          PyList_SET_ITEM(features.ptr(), static_cast<Py_ssize_t>(i), PyFloat_FromDouble(r.features[i]));
        }
        py::object result = score_(features, py::str(r.model.data(), r.model.size()));
        if (echo_) return Echoed(result.ptr() == features.ptr(), reply);
        py::tuple pair = result;
        reply.score = pair[0].cast<double>();
        reply.label = pair[1].cast<std::string>();
        reply.kind = ReplyKind::kScore;
      }
    } catch (const py::error_already_set& e) {
      reply.error = std::string("python: ") + e.what();
    } catch (const py::cast_error& e) {
      reply.error = std::string("python reply has the wrong type: ") + e.what();
    }
  }

  void Close() override {
    // The interpreter lives until the process ends (the ffi row's child exits).
    add_ = py::object();
    score_ = py::object();
    add_batch_ = py::object();
    score_batch_ = py::object();
    workload_ = py::object();
  }

 private:
  // One call with the batch's arrays: memoryviews of the gathered int64s or
  // doubles (the buffer protocol: no copy, no Python object per number on
  // the way in), the models as a list of str; the loop runs in Python, and
  // its list of results comes back.
  void CallBatch(const Request& r, Reply& reply) {
    if (std::string bad = arrays_.Gather(r); !bad.empty()) {
      reply.error = std::move(bad);
      return;
    }
    if (!add_batch_) {
      add_batch_ = workload_.attr(echo_ ? "echo" : "add_batch");
      score_batch_ = workload_.attr(echo_ ? "echo" : "score_batch");
    }
    const auto b = static_cast<py::ssize_t>(arrays_.size());
    py::object result;
    py::object first;
    if (arrays_.op == Op::kAdd) {
      first = py::memoryview::from_buffer(arrays_.xs.data(), {b}, {py::ssize_t{8}}, /*readonly=*/true);
      py::object ys = py::memoryview::from_buffer(arrays_.ys.data(), {b}, {py::ssize_t{8}}, true);
      result = add_batch_(first, ys);
    } else {
      const auto total = static_cast<py::ssize_t>(arrays_.features.size());
      first = py::memoryview::from_buffer(arrays_.features.data(), {total}, {py::ssize_t{8}}, true);
      py::list models(b);
      for (py::ssize_t i = 0; i < b; ++i) {
        const std::string_view m = arrays_.models[static_cast<std::size_t>(i)];
        PyList_SET_ITEM(models.ptr(), i, py::str(m.data(), m.size()).release().ptr());
      }
      result = echo_ ? score_batch_(first, models) : score_batch_(first, arrays_.n, models);
    }
    if (echo_) return Echoed(result.ptr() == first.ptr(), reply);
    py::list items = result;
    if (static_cast<py::ssize_t>(items.size()) != b) {
      reply.error = "python returned " + std::to_string(items.size()) + " results for a batch of " + std::to_string(b);
      return;
    }
    reply.kind = ReplyKind::kBatch;
    for (py::handle h : items) {
      Reply& item = reply.AddItem();
      if (arrays_.op == Op::kAdd) {
        item.result = h.cast<int64_t>();
        item.kind = ReplyKind::kAdd;
      } else {
        const py::tuple pair = h.cast<py::tuple>();  // a cast_error, not a crash, for anything else
        if (pair.size() != 2) throw py::cast_error("score_batch must return (score, label) pairs");
        item.score = pair[0].cast<double>();
        item.label = pair[1].cast<std::string>();
        item.kind = ReplyKind::kScore;
      }
    }
  }

  static void Echoed(bool same, Reply& reply) {
    if (same) reply.kind = ReplyKind::kEcho;
    else reply.error = "workload.echo returned something else than its first argument";
  }

  bool echo_;
  py::object add_;
  py::object score_;
  py::object workload_;
  py::object add_batch_;  // looked up at the first batch
  py::object score_batch_;
  BatchArrays arrays_;
};

}  // namespace

std::unique_ptr<Transport> MakeEmbeddedPythonClient(ClientMode mode) {
  return std::make_unique<EmbeddedPythonClient>(mode);
}

}  // namespace interop
