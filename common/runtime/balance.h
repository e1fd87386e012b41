// Where a newly accepted connection goes: the worker with the fewest live
// connections. The kernel's SO_REUSEPORT hash spreads many short connections
// well but not a few long ones: two pooled HBONE connections, each carrying
// hundreds of streams, land on the same worker half the time, and that worker
// then does the whole node's work while the other idles (Envoy's "exact"
// connection balancer exists for the same reason).
#pragma once

#include <cstddef>
#include <span>

namespace ambit::runtime {

// The index of the smallest entry of `live`; `accepting` (the worker that took
// the connection off the listen queue) wins a tie, so a balanced pool never
// hands a connection over. An `accepting` out of range falls back to the first
// smallest. `live` must not be empty.
inline std::size_t leastLoaded(std::span<const std::size_t> live, std::size_t accepting) {
  std::size_t best = accepting < live.size() ? accepting : 0;
  for (std::size_t i = 0; i < live.size(); ++i) {
    if (live[i] < live[best]) best = i;
  }
  return best;
}

}  // namespace ambit::runtime
