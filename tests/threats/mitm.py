#!/usr/bin/python3
"""TEST ONLY: a loopback attacker proxy (THREATS.md section 1, harness MITM).

It stands between a client (secup-agent) and an upstream (secup-server over HTTPS, or a
plain-HTTP tracker), forwards each request and, per a rules file it re-reads for every
request, damages the answer on its way back. The client speaks plain HTTP to the proxy
(the worst case: whatever the transport would have caught is left to secup's own
signatures and digests); upstream it speaks HTTPS when --upstream is https://.

Usage: mitm.py --upstream URL --dir DIR [--ca CA-FILE]
  writes DIR/port (the port it listens on, 127.0.0.1), DIR/log (one line per request:
  "METHOD PATH range=R rule=NAME sent=N"), DIR/wire (every byte sent to the client, for
  the eavesdropping check) and DIR/requests/N (each request's body).

Rules: DIR/rules.json, a list of {"match": SUBSTRING-OF-PATH, "method": "GET" (optional),
"times": N (optional, default unlimited; counted in DIR/used.json), "action": ...} with the
first matching rule used. Actions (with their parameters):
  pass                         forward unchanged
  flip       bits, seed        flip `bits` random bits of the answer body (seeded)
  flipreq    bits, seed        flip bits of the request body before forwarding it
  truncate   keep              send only the first `keep` body bytes, with the true
                               Content-Length, then close
  cut        after             close after `after` bytes of the answer (headers included)
  trickle    rate              send the answer at `rate` bytes per second
  delay      seconds           wait before the first byte
  endless    rate (0: fast)    200 without Content-Length and a body that never ends
  lie        length            the real body, but Content-Length: `length`
  longer     extra             `extra` more bytes after the body, counted in Content-Length
  redirect   location, status  answer 3xx with Location
  drop                         read the request, never answer (hold the connection)
  reset                        close at once without an answer
  status     code, body        answer with that status and body
  garbage                      200, random bytes of the real body's length
  replay                       the body recorded for `from` (a path) by an earlier pass
  substitute from              forward a request for the path `from` instead
  headers    size              the real answer after `size` bytes of extra header lines
                               (THREATS.md P5: huge response headers)
  length     value             the real body with "Content-Length: `value`" as given
                               (negative, overflowing, not a number)
  chunked    size              the real body chunked, its first chunk-size line `size`
                               instead of the true one (garbage, overflowing, negative);
                               "nofinal": true chunks, no last chunk, then close
"""
import argparse
import asyncio
import json
import os
import random
import ssl
import sys
import urllib.parse

ARGS = None
SEQ = {"n": 0}
RECORDED = {}


def log(line):
    with open(os.path.join(ARGS.dir, "log"), "a") as f:
        f.write(line + "\n")


def rules():
    try:
        with open(os.path.join(ARGS.dir, "rules.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return []


def pick(method, path):
    used_path = os.path.join(ARGS.dir, "used.json")
    try:
        with open(used_path) as f:
            used = json.load(f)
    except FileNotFoundError:
        used = {}
    for i, r in enumerate(rules()):
        if r.get("match", "") not in path:
            continue
        if r.get("method") and r["method"] != method:
            continue
        key = str(i) + ":" + r.get("action", "pass")
        if "times" in r and used.get(key, 0) >= r["times"]:
            continue
        used[key] = used.get(key, 0) + 1
        with open(used_path + ".tmp", "w") as f:
            json.dump(used, f)
        os.replace(used_path + ".tmp", used_path)
        return r
    return {"action": "pass"}


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = []
    for ln in lines[1:]:
        if ln:
            k, _, v = ln.partition(":")
            headers.append((k.strip(), v.strip()))
    return first, headers


def hget(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


async def read_body(reader, headers, until_close=False):
    te = hget(headers, "transfer-encoding")
    if te and "chunked" in te.lower():
        out = b""
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                return out
            out += await reader.readexactly(size)
            await reader.readline()
    cl = hget(headers, "content-length")
    if cl is not None:
        return await reader.readexactly(int(cl))
    return await reader.read() if until_close else b""


async def upstream(method, path, headers, body):
    u = urllib.parse.urlsplit(ARGS.upstream)
    ctx = None
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ARGS.ca)
        ctx.check_hostname = False  # the server's certificate names itself, not 127.0.0.1
    r, w = await asyncio.open_connection(u.hostname, u.port, ssl=ctx)
    skip = {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % u.netloc, "Connection: close"]
    lines += ["%s: %s" % (k, v) for k, v in headers if k.lower() not in skip]
    if body or method in ("POST", "PUT"):
        lines.append("Content-Length: %d" % len(body))
    w.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await w.drain()
    first, rh = await read_head(r)
    status = int(first.split()[1])
    rbody = b"" if method == "HEAD" or status in (204, 304) else await read_body(r, rh, True)
    w.close()
    return status, first.split(" ", 2)[2] if first.count(" ") >= 2 else "", rh, rbody


def flip(data, bits, seed):
    if not data:
        return data
    rnd = random.Random(seed)
    b = bytearray(data)
    for _ in range(bits):
        i = rnd.randrange(len(b) * 8)
        b[i // 8] ^= 1 << (i % 8)
    return bytes(b)


def head_bytes(status, reason, headers, length):
    skip = {"connection", "content-length", "transfer-encoding", "keep-alive"}
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    lines += ["%s: %s" % (k, v) for k, v in headers if k.lower() not in skip]
    if length is not None:
        lines.append("Content-Length: %d" % length)
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Out:
    """The client side: counts and records what is sent."""

    def __init__(self, w):
        self.w = w
        self.sent = 0

    async def send(self, data):
        if not data:
            return
        self.w.write(data)
        with open(os.path.join(ARGS.dir, "wire"), "ab") as f:
            f.write(data)
        self.sent += len(data)
        await self.w.drain()


async def handle(reader, writer):
    out = Out(writer)
    action = "?"
    method = path = "?"
    rng = None
    try:
        first, headers = await read_head(reader)
        method, path = first.split()[0], first.split()[1]
        rng = hget(headers, "range")
        body = await read_body(reader, headers)
        SEQ["n"] += 1
        os.makedirs(os.path.join(ARGS.dir, "requests"), exist_ok=True)
        with open(os.path.join(ARGS.dir, "requests", str(SEQ["n"])), "wb") as f:
            f.write(body)
        r = pick(method, path)
        action = r.get("action", "pass")
        if action == "drop":
            await asyncio.sleep(3600)
            return
        if action == "reset":
            return
        if action == "redirect":
            await out.send(head_bytes(r.get("status", 302), "Found", [("Location", r["location"])], 0))
            return
        if action == "status":
            b = r.get("body", "").encode()
            await out.send(head_bytes(r["code"], "Fault", [("Content-Type", "application/json")], len(b)) + b)
            return
        if action == "flipreq":
            body = flip(body, r.get("bits", 1), r.get("seed", 0))
        upath = r["from"] if action == "substitute" else path
        status, reason, rh, rbody = await upstream(method, upath, headers, body)
        if action == "pass" or action == "flipreq":
            RECORDED[path] = (status, reason, rh, rbody)
        if action == "replay":
            status, reason, rh, rbody = RECORDED[r.get("from", path)]
        if action == "flip":
            rbody = flip(rbody, r.get("bits", 1), r.get("seed", 0))
        if action == "garbage":
            rbody = random.Random(r.get("seed", 0)).randbytes(len(rbody))
        if action == "delay":
            await asyncio.sleep(r.get("seconds", 1))
        if action == "endless":
            await out.send(head_bytes(200, "OK", [("Content-Type", "application/octet-stream")], None))
            chunk = random.Random(1).randbytes(16384)
            rate = r.get("rate", 0)
            while True:
                await out.send(chunk if not rate else chunk[:rate])
                if rate:
                    await asyncio.sleep(1)
        if action == "headers":
            extra = b""
            i = 0
            while len(extra) < r["size"]:
                extra += b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000)
                i += 1
            head = head_bytes(status, reason, rh, len(rbody))
            await out.send(head[:-2] + extra + b"\r\n" + rbody)
            return
        if action == "length":
            head = head_bytes(status, reason, rh, None)
            await out.send(head[:-2] + b"Content-Length: " + str(r["value"]).encode() + b"\r\n\r\n"
                           + rbody)
            return
        if action == "chunked":
            head = head_bytes(status, reason, rh, None)
            body = b""
            for i in range(0, len(rbody), 16384):
                part = rbody[i:i + 16384]
                size = b"%x" % len(part)
                if i == 0 and r["size"] != "nofinal":
                    size = str(r["size"]).encode()
                body += size + b"\r\n" + part + b"\r\n"
            if r["size"] != "nofinal":
                body += b"0\r\n\r\n"
            await out.send(head[:-2] + b"Transfer-Encoding: chunked\r\n\r\n" + body)
            return
        if action == "longer":
            rbody = rbody + random.Random(2).randbytes(r.get("extra", 1))
        length = len(rbody)
        if action == "lie":
            length = r["length"]
        if action == "truncate":
            rbody = rbody[: r["keep"]]
        data = head_bytes(status, reason, rh, length) + rbody
        if action == "cut":
            await out.send(data[: r["after"]])
            return
        if action == "trickle":
            rate = max(1, r.get("rate", 1))
            for i in range(0, len(data), rate):
                await out.send(data[i:i + rate])
                await asyncio.sleep(1)
            return
        await out.send(data)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
            IndexError, KeyError, OSError) as e:
        action += " (%s)" % type(e).__name__
    finally:
        log("%s %s range=%s rule=%s sent=%d" % (method, path, rng, action, out.sent))
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - the client may be gone already
            pass


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    port = srv.sockets[0].getsockname()[1]
    with open(os.path.join(ARGS.dir, "port.tmp"), "w") as f:
        f.write(str(port))
    os.replace(os.path.join(ARGS.dir, "port.tmp"), os.path.join(ARGS.dir, "port"))
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--ca")
    ARGS = p.parse_args()
    os.makedirs(ARGS.dir, exist_ok=True)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
