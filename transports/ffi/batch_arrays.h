// A batch for the ffi tier as arrays: the calls' inputs gathered into
// contiguous buffers (what an FFI passes across the boundary in one call),
// the callee's results scattered back into the reply's items. Shared by the
// C++, Python and Ruby callees; reused from call to call, so gathering costs
// copies, not allocations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "transports/transport.h"

namespace interop {

struct BatchArrays {
  Op op = Op::kAdd;
  std::size_t n = 0;                    // score: features per call
  std::vector<int64_t> xs, ys;          // add
  std::vector<double> features;         // score: item i at [i*n, (i+1)*n)
  std::vector<std::string_view> models; // score

  // Gathers the batch's items; the reason a batch cannot be passed as
  // arrays (items of mixed ops or feature counts), or "".
  std::string Gather(const Request& batch);
  std::size_t size() const { return op == Op::kAdd ? xs.size() : models.size(); }
};

}  // namespace interop
