#!/usr/bin/python3
"""An independent HBONE server (python3-h2 over Python's ssl) for interop tests
of Ambit's HBONE client: answers each CONNECT with 200 and echoes its bytes.
Prints "LISTENING <port>" once bound, then "CONNECT <authority> early_data=<0|1>"
per request (early_data: DATA arrived before the 200 was sent). It delays each
200 by 100 ms so a client that sends early would be caught. Exits after
--requests requests or --timeout seconds."""
import argparse
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events

p = argparse.ArgumentParser()
p.add_argument("--ca", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--requests", type=int, default=1)
p.add_argument("--timeout", type=float, default=30)
args = p.parse_args()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(args.cert, args.key)
ctx.load_verify_locations(args.ca)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.set_alpn_protocols(["h2"])
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(4)
print(f"LISTENING {lsock.getsockname()[1]}", flush=True)
end = time.time() + args.timeout
lsock.settimeout(args.timeout)
raw, _ = lsock.accept()
s = ctx.wrap_socket(raw, server_side=True)
c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, validate_inbound_headers=False))
c.initiate_connection()
s.sendall(c.data_to_send())
pending = {}   # stream id -> (time to respond, authority)
early = {}
answered = set()
done = 0
s.settimeout(0.02)
while time.time() < end and done < args.requests:
    try:
        data = s.recv(65536)
        if not data:
            break
        for e in c.receive_data(data):
            if isinstance(e, h2.events.RequestReceived):
                h = dict(e.headers)
                pending[e.stream_id] = (time.time() + 0.1, h.get(b":authority", b"").decode())
                early[e.stream_id] = 0
            elif isinstance(e, h2.events.DataReceived):
                c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                if e.stream_id not in answered:
                    early[e.stream_id] = 1
                else:
                    c.send_data(e.stream_id, e.data)
            elif isinstance(e, h2.events.StreamEnded):
                if e.stream_id in answered:
                    c.end_stream(e.stream_id)
                    done += 1
    except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
        pass
    for sid, (when, authority) in list(pending.items()):
        if time.time() >= when:
            c.send_headers(sid, [(":status", "200")])
            answered.add(sid)
            del pending[sid]
            print(f"CONNECT {authority} early_data={early[sid]}", flush=True)
    out = c.data_to_send()
    if out:
        s.sendall(out)
sys.exit(0)
