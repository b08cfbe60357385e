#!/usr/bin/env python3
"""Minimal SMPP 3.4 sink (SMSC simulator) for benchmarking, standard library only.

It accepts ESME binds on 127.0.0.1, answers:
  bind_transmitter/receiver/transceiver -> *_resp (status 0)
  submit_sm     -> submit_sm_resp with a fresh message id
  enquire_link  -> enquire_link_resp
  unbind        -> unbind_resp, then closes
  deliver_sm_resp / generic_nack are swallowed; anything else gets generic_nack.
If a submit_sm asks for a delivery receipt (registered_delivery & 1) and
--dlr is given, it sends back a deliver_sm carrying a "stat:DELIVRD" receipt.

It counts submit_sm PDUs and, on SIGTERM/SIGINT (or every --stats-every
seconds), writes {"submits": N, "dlrs_sent": M, "binds": B} to --stats-file.

Usage: smpp_sink.py --port 2775 [--dlr] [--stats-file PATH]
"""
import argparse
import asyncio
import json
import signal
import struct
import time

BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
GENERIC_NACK = 0x80000000
RESP = 0x80000000
ESME_RINVCMDID = 0x00000003

HEADER = struct.Struct(">IIII")
MAX_PDU = 64 * 1024

stats = {"submits": 0, "dlrs_sent": 0, "binds": 0, "connections": 0}


def pdu(command_id, status, seq, body=b""):
    return HEADER.pack(HEADER.size + len(body), command_id, status, seq) + body


def cstring(buf, pos):
    end = buf.index(b"\x00", pos)
    return buf[pos:end], end + 1


def parse_submit(body):
    """Return (source_addr, dest_addr, registered_delivery, short_message)."""
    pos = 0
    _service_type, pos = cstring(body, pos)
    src_ton, src_npi = body[pos], body[pos + 1]
    pos += 2
    src, pos = cstring(body, pos)
    dst_ton, dst_npi = body[pos], body[pos + 1]
    pos += 2
    dst, pos = cstring(body, pos)
    pos += 3  # esm_class, protocol_id, priority_flag
    _sched, pos = cstring(body, pos)
    _validity, pos = cstring(body, pos)
    registered_delivery = body[pos]
    pos += 4  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    sm_length = body[pos]
    pos += 1
    sm = body[pos:pos + sm_length]
    return (src_ton, src_npi, src), (dst_ton, dst_npi, dst), registered_delivery, sm


def receipt(msg_id, src, dst, text):
    stamp = time.strftime("%y%m%d%H%M").encode()
    sm = (b"id:" + msg_id + b" sub:001 dlvrd:001 submit date:" + stamp +
          b" done date:" + stamp + b" stat:DELIVRD err:000 text:" + text[:20])
    # The receipt goes from the original recipient back to the original sender.
    body = (b"\x00" + bytes([dst[0], dst[1]]) + dst[2] + b"\x00" +
            bytes([src[0], src[1]]) + src[2] + b"\x00" +
            b"\x04\x00\x00" + b"\x00" + b"\x00" + b"\x00\x00\x00\x00" +
            bytes([len(sm)]) + sm)
    return body


class Session:
    def __init__(self, reader, writer, args):
        self.reader = reader
        self.writer = writer
        self.args = args
        self.out_seq = 0

    def next_seq(self):
        self.out_seq = (self.out_seq % 0x7FFFFFFF) + 1
        return self.out_seq

    async def run(self):
        stats["connections"] += 1
        try:
            while True:
                head = await self.reader.readexactly(HEADER.size)
                length, command_id, _status, seq = HEADER.unpack(head)
                if length < HEADER.size or length > MAX_PDU:
                    break
                body = await self.reader.readexactly(length - HEADER.size)
                if not self.handle(command_id, seq, body):
                    break
                if self.writer.transport.get_write_buffer_size() > 1 << 20:
                    await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writer.close()

    def handle(self, command_id, seq, body):
        w = self.writer
        if command_id in (BIND_TRANSCEIVER, BIND_TRANSMITTER, BIND_RECEIVER):
            stats["binds"] += 1
            w.write(pdu(command_id | RESP, 0, seq, b"benchsink\x00"))
        elif command_id == SUBMIT_SM:
            stats["submits"] += 1
            msg_id = b"%x" % stats["submits"]
            w.write(pdu(SUBMIT_SM | RESP, 0, seq, msg_id + b"\x00"))
            if self.args.dlr:
                try:
                    src, dst, reg, sm = parse_submit(body)
                except (ValueError, IndexError):
                    return True
                if reg & 0x01:
                    stats["dlrs_sent"] += 1
                    w.write(pdu(DELIVER_SM, 0, self.next_seq(), receipt(msg_id, src, dst, sm)))
        elif command_id == ENQUIRE_LINK:
            w.write(pdu(ENQUIRE_LINK | RESP, 0, seq))
        elif command_id == UNBIND:
            w.write(pdu(UNBIND | RESP, 0, seq))
            return False
        elif command_id & RESP:
            pass  # deliver_sm_resp, enquire_link_resp, generic_nack
        else:
            w.write(pdu(GENERIC_NACK, ESME_RINVCMDID, seq))
        return True


def write_stats(path):
    if path:
        with open(path, "w") as f:
            json.dump(stats, f)
            f.write("\n")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2775)
    ap.add_argument("--dlr", action="store_true", help="send delivery receipts when asked for")
    ap.add_argument("--stats-file", default="")
    ap.add_argument("--stats-every", type=float, default=1.0)
    args = ap.parse_args()

    async def on_conn(reader, writer):
        await Session(reader, writer, args).run()

    server = await asyncio.start_server(on_conn, args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smpp_sink listening on {args.host}:{args.port}", flush=True)
    async with server:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.stats_every)
            except asyncio.TimeoutError:
                pass
            write_stats(args.stats_file)
    write_stats(args.stats_file)


if __name__ == "__main__":
    asyncio.run(main())
