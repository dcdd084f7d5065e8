// Makes sure no child of the harness outlives it, whatever way it ends.
//  - Every child (peer or ffi row) is registered here while it lives.
//  - SIGINT/SIGTERM/SIGHUP: the handler SIGKILLs every registered process
//    group (async-signal-safe), which unblocks any call waiting on a peer, and
//    sets a flag; the harness then unwinds normally: the cut row is marked
//    interrupted, the rows finished so far are written to every output, and
//    RAII removes the temp dir and reaps the children. A repeated signal
//    kills again (whatever started since) but never skips the results or the
//    cleanup: nothing waits for anything graceful once the first arrived.
//  - Harness killed outright (SIGKILL): children were started with
//    PR_SET_PDEATHSIG, so the kernel kills them; the temp dir is removed by the
//    next run (RemoveStaleTempDirs).
#pragma once

#include <sys/types.h>

#include <string>

namespace interop {

// Installs the handlers (and ignores SIGPIPE). Call once, early in main().
void InstallProcessGuard();

// Registers / unregisters a child's process group.
void GuardProcessGroup(pid_t pgid);
void UnguardProcessGroup(pid_t pgid);

// True once SIGINT/SIGTERM/SIGHUP arrived; the first signal's number
// (0 if none), and the exit status to use then (128 + it).
bool Interrupted();
int InterruptSignal();
int InterruptExitCode();
// Readable once a stop signal has arrived (an eventfd the handler writes; -1
// before InstallProcessGuard): waits that poll can include it.
int InterruptWakeFd();
// "SIGINT", "SIGTERM", ...
std::string SignalName(int sig);

// In a freshly forked child: own process group, die with the parent.
// Returns false if the parent is already gone.
bool BecomeGuardedChild(pid_t parent);

}  // namespace interop
