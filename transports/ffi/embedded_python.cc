// CPython embedded through pybind11, calling peers/python/workload.py.
#include <pybind11/embed.h>

#include "common/paths.h"
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
    } catch (const py::error_already_set& e) {
      throw TransportError(std::string("importing peers/python/workload.py: ") + e.what());
    }
  }

  void Call(const Request& r, Reply& reply) override {
    reply.id = r.id;  // an in-process call has no wire to carry the id
    try {
      if (r.op == Op::kAdd) {
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
  }

 private:
  static void Echoed(bool same, Reply& reply) {
    if (same) reply.kind = ReplyKind::kEcho;
    else reply.error = "workload.echo returned something else than its first argument";
  }

  bool echo_;
  py::object add_;
  py::object score_;
};

}  // namespace

std::unique_ptr<Transport> MakeEmbeddedPythonClient(ClientMode mode) {
  return std::make_unique<EmbeddedPythonClient>(mode);
}

}  // namespace interop
