#!/usr/bin/python3
"""An independent HBONE client (python3-h2 over Python's ssl) for interop and
abuse tests against Ambit's HBONE server. One scenario per run; prints one
line "RESULT <key=value ...>" and exits 0 unless the scenario could not run.
Bounded: every socket operation has a timeout."""
import argparse
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--ca", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--scenario", required=True)
p.add_argument("--authority", default="198.18.0.2:8080")
args = p.parse_args()


def connect():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # SPIFFE: the identity is a URI SAN, checked below
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((args.host, args.port), timeout=10)
    s = ctx.wrap_socket(raw)
    assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
    c = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                         validate_inbound_headers=False))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    return s, c


def pump(s, c, until, deadline=10.0):
    """Reads events until until(events_so_far) is true, the peer closes, or the deadline."""
    events = []
    end = time.time() + deadline
    closed = False
    while time.time() < end and not until(events):
        try:
            s.settimeout(max(0.05, end - time.time()))
            data = s.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except (ConnectionError, ssl.SSLError, OSError):
            closed = True
            break
        if not data:
            closed = True
            break
        try:
            events.extend(c.receive_data(data))
        except Exception as e:  # noqa: BLE001 - a protocol error from the peer ends the test
            events.append(("protocol_error", str(e)))
            closed = True
            break
        out = c.data_to_send()
        if out:
            try:
                s.sendall(out)
            except OSError:
                closed = True
                break
    return events, closed


def status_of(events, sid):
    for e in events:
        if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid:
            return int(dict(e.headers)[b":status"])
    return 0


def reset_of(events, sid):
    return any(isinstance(e, h2.events.StreamReset) and e.stream_id == sid for e in events)


def goaway(events):
    return any(isinstance(e, h2.events.ConnectionTerminated) for e in events)


def request(c, headers, end_stream=False):
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, headers, end_stream=end_stream)
    return sid


def scenario_connect():
    s, c = connect()
    sid = request(c, [(":method", "CONNECT"), (":authority", args.authority),
                      ("forwarded", 'for="198.18.0.1"')])
    s.sendall(c.data_to_send())
    ev, _ = pump(s, c, lambda ev: status_of(ev, sid) != 0)
    st = status_of(ev, sid)
    got = b""
    if st == 200:
        payload = b"interop " * 1000
        c.send_data(sid, payload, end_stream=True)
        s.sendall(c.data_to_send())
        ev, _ = pump(s, c, lambda evs: any(isinstance(e, h2.events.StreamEnded) and e.stream_id == sid
                                           for e in evs))
        got = b"".join(e.data for e in ev if isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
        print(f"RESULT status={st} echoed={int(got == payload)}")
    else:
        print(f"RESULT status={st} echoed=0")


def scenario_status(headers):
    s, c = connect()
    sid = request(c, headers, end_stream=False)
    s.sendall(c.data_to_send())
    ev, closed = pump(s, c, lambda ev: status_of(ev, sid) != 0 or reset_of(ev, sid))
    print(f"RESULT status={status_of(ev, sid)} reset={int(reset_of(ev, sid))} closed={int(closed)}")


def scenario_rapid_reset():
    s, c = connect()
    sent = 0
    closed = False
    for _ in range(5000):
        try:
            sid = request(c, [(":method", "CONNECT"), (":authority", args.authority)])
            c.reset_stream(sid)
            s.sendall(c.data_to_send())
            sent += 1
        except Exception:  # noqa: BLE001 - the server closed on us, which is the expected outcome
            closed = True
            break
    ev, closed2 = pump(s, c, goaway, deadline=5.0)
    print(f"RESULT streams={sent} goaway={int(goaway(ev))} closed={int(closed or closed2 or goaway(ev))}")


def scenario_header_flood():
    s, c = connect()
    headers = [(":method", "CONNECT"), (":authority", args.authority)]
    headers += [(f"x-flood-{i}", "v" * 50) for i in range(300)]
    sid = request(c, headers)
    s.sendall(c.data_to_send())
    ev, closed = pump(s, c, lambda ev: status_of(ev, sid) != 0 or reset_of(ev, sid) or goaway(ev))
    print(f"RESULT status={status_of(ev, sid)} reset={int(reset_of(ev, sid))} closed={int(closed or goaway(ev))}")


def frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def scenario_continuation_flood():
    s, c = connect()
    s.sendall(c.data_to_send())
    # HEADERS without END_HEADERS, then CONTINUATION frames that never end.
    enc = c.encoder.encode([(":method", "CONNECT"), (":authority", args.authority)])
    out = frame(0x1, 0x0, 1, enc)
    for i in range(2000):
        out += frame(0x9, 0x0, 1, c.encoder.encode([(f"x-c-{i}", "v" * 100)]))
    closed = False
    try:
        s.sendall(out)
    except OSError:
        closed = True
    ev, closed2 = pump(s, c, goaway, deadline=5.0)
    print(f"RESULT closed={int(closed or closed2 or goaway(ev))}")


def scenario_flood(one_frame, batches):
    """Sends the frame in batches of 1000 and never reads the acks: more than
    socket buffers hold, so unsent acks pile up at the server."""
    s, c = connect()
    s.sendall(c.data_to_send())
    closed = False
    s.settimeout(2)
    try:
        for _ in range(batches):
            s.sendall(one_frame * 1000)
    except (OSError, ssl.SSLError, TimeoutError):
        closed = True
    ev, closed2 = pump(s, c, goaway, deadline=5.0)
    print(f"RESULT closed={int(closed or closed2 or goaway(ev))}")


scenarios = {
    "connect": scenario_connect,
    "get": lambda: scenario_status([(":method", "GET"), (":scheme", "https"), (":path", "/"),
                                    (":authority", args.authority)]),
    "bad_authority": lambda: scenario_status([(":method", "CONNECT"), (":authority", "backend.demo:80")]),
    "rapid_reset": scenario_rapid_reset,
    "header_flood": scenario_header_flood,
    "continuation_flood": scenario_continuation_flood,
    "ping_flood": lambda: scenario_flood(frame(0x6, 0x0, 0, b"12345678"), 3000),  # ~50 MB
    "settings_flood": lambda: scenario_flood(frame(0x4, 0x0, 0, b""), 5000),
    # Frames that ask for no answer: a cap must end them (Envoy's formulas).
    "window_update_flood": lambda: scenario_flood(frame(0x8, 0x0, 0, (1).to_bytes(4, "big")), 5),
    "priority_flood": lambda: scenario_flood(frame(0x2, 0x0, 3, (0).to_bytes(4, "big") + bytes([15])), 5),
}
scenarios[args.scenario]()
