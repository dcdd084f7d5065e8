// Where the processes and threads of one row run: the CPUs they are pinned
// to (-1: not pinned, the scheduler decides, or not ours to place) and the
// label the table shows.
#pragma once

#include <string>

namespace interop {

struct Placement {
  int caller_cpu = -1;    // the thread that makes and times the calls
  int peer_cpu = -1;      // the peer process (-1 also for in-process rows)
  int broker_cpu = -1;    // a process every call passes through (the private redis-server); -1: none or not ours
  int watchdog_cpu = -1;  // the row's watchdog thread: never the caller's core when there is another
  std::string label;      // "same", "split", "none", "-" (in-process)
};

}  // namespace interop
