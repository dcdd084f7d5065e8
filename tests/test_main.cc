// main() for the test binaries: the same process setup as bench's main().
#include <gtest/gtest.h>

#include "bench/process_guard.h"
#include "transports/ffi/ffi_client.h"

int main(int argc, char** argv) {
  int stack_base_marker = 0;
  interop::RecordStackBase(&stack_base_marker);
  interop::InstallProcessGuard();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
