// Factories for the in-process callees of the ffi tier (one file each).
#pragma once
#include <memory>
#include "transports/transport.h"
namespace interop {
std::unique_ptr<Transport> MakeNativeCallClient();
std::unique_ptr<Transport> MakeEmbeddedPythonClient();
std::unique_ptr<Transport> MakeEmbeddedRubyClient();
void* RecordedStackBase();
}  // namespace interop
