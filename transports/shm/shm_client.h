#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 4: a POSIX shared-memory segment with a sequence-number protocol
// (schemas/shm_layout.md). `shm-spin`: both sides busy-poll on their own
// cores. `shm-futex`: spin briefly, then sleep on a futex (an idle side burns
// no CPU).
TransportSpec ShmSpinTransport();
TransportSpec ShmFutexTransport();
}  // namespace interop
