#!/usr/bin/env python3
"""A minimal gavel gateway client using only the Python standard library.

    python3 gavel_client.py --key-id 1 --secret <64 hex digits> [--addr 127.0.0.1:7878]

Logs on (HMAC-SHA256 of the server's nonce followed by the key id as 8
little-endian bytes), sends one limit order and prints what arrives for a few
seconds. Frames (feeds/gateway/sbe/gavel.xml; little-endian, no padding): u32
frame_length (whole frame, at most 256), the SBE header u16 block_length, u16
template_id, u16 schema_id 0x4756, u16 version 1, u64 sequence, then the body.
Templates this script does not know are skipped by their length.
"""
import argparse
import hashlib
import hmac
import socket
import struct
import sys
import time

SCHEMA_ID = 0x4756
VERSION = 1
HEADER = struct.Struct("<IHHHHQ")  # frame_length, block_length, template, schema, version, sequence
MAX_FRAME = 256

# template id: (name, body layout for struct, field names in wire order)
MESSAGES = {
    1: ("Challenge", "32s", "nonce"),
    2: ("Logon", "Q32s", "key_id signature"),
    3: ("LogonAck", "QBI", "account role heartbeat_ms"),
    4: ("LogonReject", "H", "reason"),
    5: ("Heartbeat", "q", "time_ns"),
    6: ("SessionReject", "QHH", "ref_sequence ref_template reason"),
    7: ("Logout", "H", "reason"),
    10: ("NewOrder", "QIBBBqq", "client_order_id instrument side order_type flags price qty"),
    11: ("CancelOrder", "QI", "client_order_id instrument"),
    20: ("ExecutionReport", "QIBBHqqq", "client_order_id instrument exec_type side reason price qty time_ns"),
    30: ("Subscribe", "I", "channels"),
    32: ("BookLevel", "QIBqq", "md_sequence instrument side price qty"),
    36: ("Trade", "QIBqqq", "md_sequence instrument side price qty time_ns"),
    37: ("MarkPrice", "QIqq", "md_sequence instrument price time_ns"),
    40: ("LiquidationNotice", "QIBBqqq", "liquidation_id instrument stage side price qty time_ns"),
    42: ("PositionUpdate", "Iqq", "instrument position time_ns"),
    50: ("AuctionUpdate", "QIBBqqq", "auction_id instrument code side price remaining time_ns"),
    51: ("LiquidatorTake", "QQqq", "take_id auction_id max_price qty"),
    52: ("TakeReport", "QQBHqq", "take_id auction_id accepted reason price qty"),
}
BY_NAME = {name: (tid, struct.Struct("<" + fmt), fields.split()) for tid, (name, fmt, fields) in MESSAGES.items()}

BUY, SELL = 1, 2
LIMIT, MARKET, IOC, FOK = 1, 2, 3, 4
CHANNEL_MARKET_DATA, CHANNEL_AUCTIONS = 1, 2


def encode(name, sequence, **fields):
    """One frame of message `name` with every field given by keyword."""
    tid, body, names = BY_NAME[name]
    payload = body.pack(*(fields[n] for n in names))
    return HEADER.pack(HEADER.size + body.size, body.size, tid, SCHEMA_ID, VERSION, sequence) + payload


def decode(frame):
    """(sequence, name, fields) of one whole frame; name is None (and fields
    the template id) for a template this script does not know or a frame of
    another schema, which the caller skips."""
    length, block, tid, schema, version, sequence = HEADER.unpack_from(frame)
    known = MESSAGES.get(tid) if (schema, version) == (SCHEMA_ID, VERSION) else None
    if known is None or block < BY_NAME[known[0]][1].size:
        return sequence, None, tid
    _, body, names = BY_NAME[known[0]]
    return sequence, known[0], dict(zip(names, body.unpack_from(frame, HEADER.size)))


def split_frames(buf):
    """Cuts whole frames off the front of bytearray `buf`, yielding each."""
    while len(buf) >= 4:
        (length,) = struct.unpack_from("<I", buf)
        if not HEADER.size <= length <= MAX_FRAME:
            raise ValueError("impossible frame length %d: stream is broken" % length)
        if len(buf) < length:
            return
        frame = bytes(buf[:length])
        del buf[:length]
        yield frame


def sign(secret, nonce, key_id):
    return hmac.new(secret, nonce + struct.pack("<Q", key_id), hashlib.sha256).digest()


def show(name, fields):
    return name + "".join(" %s=%s" % (k, v.hex() if isinstance(v, bytes) else v) for k, v in fields.items())


class Session:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buf = bytearray()
        self.sequence = 0

    def send(self, name, **fields):
        self.sequence += 1
        self.sock.sendall(encode(name, self.sequence, **fields))

    def read(self, timeout):
        """Messages that arrive within `timeout` seconds, as (name, fields)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return []
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data
        out = []
        for frame in split_frames(self.buf):
            _, name, fields = decode(frame)
            if name is None:
                print("skipped template %d (%d bytes)" % (fields, len(frame)))
            else:
                out.append((name, fields))
        return out

    def wait_for(self, names, seconds=5.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for name, fields in self.read(end - time.monotonic()):
                if name in names:
                    return name, fields
                print(show(name, fields))
        raise TimeoutError("no %s within %.0f s" % ("/".join(names), seconds))


def run(args):
    s = Session(args.addr)
    _, challenge = s.wait_for({"Challenge"})
    s.send("Logon", key_id=args.key_id, signature=sign(bytes.fromhex(args.secret), challenge["nonce"], args.key_id))
    name, fields = s.wait_for({"LogonAck", "LogonReject"})
    print(show(name, fields))
    if name == "LogonReject":
        return 1
    side = BUY if args.side == "buy" else SELL
    s.send("NewOrder", client_order_id=1, instrument=args.instrument, side=side, order_type=LIMIT, flags=0,
           price=args.price, qty=args.qty)
    heartbeat = max(fields["heartbeat_ms"], 100) / 1000.0
    end, last_sent = time.monotonic() + args.seconds, time.monotonic()
    while time.monotonic() < end:
        for name, fields in s.read(min(heartbeat, max(end - time.monotonic(), 0.01))):
            print(show(name, fields))
        if time.monotonic() - last_sent >= heartbeat:
            s.send("Heartbeat", time_ns=time.time_ns())
            last_sent = time.monotonic()
    return 0


def encode_test():
    """Fixed frames as hex, one per line (checked by feeds/gateway/tests/python_client.rs)."""
    secret, nonce = bytes(range(32)), bytes(range(100, 132))
    frames = [
        encode("NewOrder", 1, client_order_id=42, instrument=7, side=SELL, order_type=LIMIT, flags=2,
               price=-123456789, qty=5000),
        encode("Logon", 2, key_id=0x0102030405060708, signature=sign(secret, nonce, 0x0102030405060708)),
        encode("Subscribe", 3, channels=CHANNEL_MARKET_DATA | CHANNEL_AUCTIONS),
        encode("LiquidatorTake", 4, take_id=9, auction_id=2**64 - 1, max_price=-5, qty=12),
    ]
    for f in frames:
        print(f.hex())


def decode_test(hex_stream):
    """Every frame of a hex byte stream, one line each (unknown ones skipped)."""
    buf = bytearray(bytes.fromhex(hex_stream))
    for frame in split_frames(buf):
        sequence, name, fields = decode(frame)
        if name is None:
            print("skip %d %d" % (fields, len(frame)))
        else:
            print("%d %s" % (sequence, show(name, fields)))
    if buf:
        print("partial %d" % len(buf))


def main():
    p = argparse.ArgumentParser(description="gavel gateway example client")
    p.add_argument("--addr", default="127.0.0.1:7878")
    p.add_argument("--key-id", type=int)
    p.add_argument("--secret", help="API secret, hex")
    p.add_argument("--instrument", type=int, default=0)
    p.add_argument("--side", choices=["buy", "sell"], default="buy")
    p.add_argument("--price", type=int, default=590000, help="limit price in ticks (the demo: 0.1 USDT a tick)")
    p.add_argument("--qty", type=int, default=1, help="lots")
    p.add_argument("--seconds", type=float, default=3.0, help="how long to print reports")
    p.add_argument("--encode-test", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--decode-test", metavar="HEX", help=argparse.SUPPRESS)
    p.add_argument("--templates-test", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.encode_test:
        return encode_test()
    if args.decode_test is not None:
        return decode_test(args.decode_test)
    if args.templates_test:  # the layouts this script assumes
        for tid, (name, _, fields) in sorted(MESSAGES.items()):
            print(tid, name, BY_NAME[name][1].size, fields)
        return 0
    if args.key_id is None or args.secret is None:
        p.error("--key-id and --secret are required")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
