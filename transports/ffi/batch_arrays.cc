#include "transports/ffi/batch_arrays.h"

namespace interop {

std::string BatchArrays::Gather(const Request& batch) {
  op = batch.items.front().op;
  n = op == Op::kScore ? batch.items.front().features.size() : 0;
  xs.clear();
  ys.clear();
  features.clear();
  models.clear();
  for (const Request& item : batch.items) {
    if (item.op != op) return "an ffi batch passes one op's arrays: its items mix add and score";
    if (op == Op::kAdd) {
      xs.push_back(item.x);
      ys.push_back(item.y);
    } else {
      if (item.features.size() != n) return "an ffi batch passes one matrix: its items' feature counts differ";
      features.insert(features.end(), item.features.begin(), item.features.end());
      models.push_back(item.model);
    }
  }
  return {};
}

}  // namespace interop
