// nghttp2 glue shared by HBONE connections and the waypoint's HTTP/2
// sessions: their setup, the body side of a data provider, their output.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <nghttp2/nghttp2.h>

namespace ambit::hbone {

// A header field for nghttp2's submit calls (which copy it).
inline nghttp2_nv nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

// A new session (server or client) whose callbacks are C's static members
// onBeginHeaders, onHeader, onFrameRecv, onDataChunk, onStreamClose (and
// onFrameSend when C has one), with the caps every session here has: queued
// PING/SETTINGS acks (1000), SETTINGS entries (32), CONTINUATION frames (8).
// `tune` sets more options. 0, or nghttp2's error code.
template <typename C, typename Tune>
int newSession(nghttp2_session** session, bool server, void* user_data, Tune&& tune) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (int rv = nghttp2_session_callbacks_new(&cbs); rv != 0) return rv;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &C::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &C::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &C::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &C::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &C::onStreamClose);
  if constexpr (requires { &C::onFrameSend; }) {
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &C::onFrameSend);
  }
  nghttp2_option* opt = nullptr;
  if (int rv = nghttp2_option_new(&opt); rv != 0) {
    nghttp2_session_callbacks_del(cbs);
    return rv;
  }
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_option_set_max_continuations(opt, 8);
  tune(opt);
  int rv = server ? nghttp2_session_server_new2(session, cbs, user_data, opt)
                  : nghttp2_session_client_new2(session, cbs, user_data, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) *session = nullptr;
  return rv;
}

// The body side of a data provider: bytes queued in `out` (from `off`) go out as
// DATA within what nghttp2 asks for; END_STREAM once `eof` and all is out;
// with nothing queued the source defers (resume it when more is queued).

// Appends `data` to such a queue, first dropping what already went out when
// that is at least half of it (so the queue neither grows without bound nor
// moves its bytes on every append).
inline void enqueue(std::string& out, std::size_t& off, std::string_view data) {
  if (off > 0 && off >= out.size() / 2) {
    out.erase(0, off);
    off = 0;
  }
  out.append(data);
}

// nghttp2's read_callback body. `took` is set when bytes left the queue (a
// writer waiting for room can go on).
inline ssize_t takeQueued(std::string& out, std::size_t& off, bool eof, bool& deferred, uint8_t* buf,
                          std::size_t length, uint32_t* data_flags, bool& took) {
  std::size_t n = std::min(length, out.size() - off);
  took = n > 0;
  if (n > 0) {
    std::memcpy(buf, out.data() + off, n);
    off += n;
    if (off == out.size()) {
      out.clear();
      off = 0;
    }
  }
  if (off == out.size() && eof) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  if (n == 0) {
    deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(n);
}

// Appends what nghttp2 has to send to `out`, up to about `batch` bytes.
// 0, or nghttp2's error code.
inline int takeOutput(nghttp2_session* session, std::string& out, std::size_t batch) {
  while (out.size() < batch) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) return static_cast<int>(n);
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace ambit::hbone
