#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 7: file handoff in a private dir, write-temp-then-rename, JSON.
// `file-inotify`: woken by inotify. `file-poll`: the directory is checked every 1 ms.
TransportSpec FileInotifyTransport();
TransportSpec FilePollTransport();
}  // namespace interop
