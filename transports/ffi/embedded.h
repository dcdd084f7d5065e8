// Factories for the in-process callees of the ffi tier (one file each).
#pragma once
#include <memory>
#include "transports/transport.h"
namespace interop {
// kEcho: the floor, calling the language's echo(value, ...) instead of the workload.
std::unique_ptr<Transport> MakeNativeCallClient(ClientMode mode);
std::unique_ptr<Transport> MakeEmbeddedPythonClient(ClientMode mode);
std::unique_ptr<Transport> MakeEmbeddedRubyClient(ClientMode mode);
void* RecordedStackBase();
}  // namespace interop
