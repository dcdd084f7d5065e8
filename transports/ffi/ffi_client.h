#pragma once
#include "transports/registry.h"
namespace interop {

// Tiers 1-3: an in-process call. cpp: a direct (non-inlined) C++ call; python:
// CPython embedded through pybind11 calling peers/python/workload.py; ruby:
// CRuby embedded through libruby calling peers/ruby/workload.rb.
// The harness runs these rows in a forked child so a crash fails the row only.
TransportSpec FfiTransport();

// Embedded CRuby must know the outermost stack frame that will ever hold Ruby
// objects (its GC scans the C stack up to it). main() records its own frame
// here before anything else runs; see STACK-NOTES.md "Ruby embedding".
void RecordStackBase(void* address_in_main_frame);

}  // namespace interop
