// Caps on HTTP/2 frames that cost the receiver work while carrying nothing,
// with Envoy's default formulas (nghttp2 has no cap of its own for these;
// hardening.md 2). Over a cap the session ends with GOAWAY
// ENHANCE_YOUR_CALM:
//  - WINDOW_UPDATE received: at most 5 + 2 * (streams + 10 * DATA frames
//    sent) over the connection's life (a peer acknowledges what we send, not
//    more; Envoy's max_inbound_window_update_frames_per_data_frame_sent);
//  - PRIORITY received: at most 10 + 100 * streams (Envoy's
//    max_inbound_priority_frames_per_stream).
// `streams`: streams opened either way (HEADERS frames that start one).
// Pure counting; used by HBONE connections and the waypoint's HTTP/2 sessions.
#pragma once

#include <cstdint>

#include <nghttp2/nghttp2.h>

namespace ambit::hbone {

class FloodGuard {
 public:
  // A frame sent: DATA frames and new streams raise the caps.
  void sent(const nghttp2_frame& f) {
    if (f.hd.type == NGHTTP2_DATA) ++data_sent_;
    if (opens(f)) ++streams_;
  }
  // A frame received; false when it breaks a cap (then why() says which).
  bool received(const nghttp2_frame& f) {
    if (opens(f)) ++streams_;
    if (f.hd.type == NGHTTP2_WINDOW_UPDATE && ++window_updates_ > 5 + 2 * (streams_ + 10 * data_sent_)) {
      why_ = "WINDOW_UPDATE flood";
      return false;
    }
    if (f.hd.type == NGHTTP2_PRIORITY && ++priorities_ > 10 + 100 * streams_) {
      why_ = "PRIORITY flood";
      return false;
    }
    return true;
  }
  const char* why() const { return why_; }

 private:
  static bool opens(const nghttp2_frame& f) {
    return f.hd.type == NGHTTP2_HEADERS &&
           (f.headers.cat == NGHTTP2_HCAT_REQUEST || f.headers.cat == NGHTTP2_HCAT_PUSH_RESPONSE);
  }
  uint64_t data_sent_ = 0, streams_ = 0, window_updates_ = 0, priorities_ = 0;
  const char* why_ = "";
};

}  // namespace ambit::hbone
