// The node-agent protocol's framing: one protobuf message per SOCK_SEQPACKET
// packet, with at most one file descriptor (SCM_RIGHTS) riding along.
#pragma once

#include <google/protobuf/message_lite.h>

#include "common/base/result.h"

namespace ambit::zds {

inline constexpr std::size_t kMaxPacket = 64 * 1024;

// Sends `msg` as one packet, with `attach_fd` (if >= 0) as SCM_RIGHTS.
Status send(int sock, const google::protobuf::MessageLite& msg, int attach_fd = -1);

// Receives one packet within `timeout_ms` (< 0: no limit) into `msg`. A
// received descriptor goes to `*fd` (the caller owns it; -1 if none); with
// `fd` null a received descriptor is closed. kUnavailable: the peer closed;
// kDeadlineExceeded: nothing arrived in time.
Status receive(int sock, google::protobuf::MessageLite& msg, int* fd, int timeout_ms);

}  // namespace ambit::zds
