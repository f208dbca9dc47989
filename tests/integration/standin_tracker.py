#!/usr/bin/python3
"""TEST ONLY: a stand-in Status Tracker for tests/integration/test_agent_online.sh, with
the contract of docs/tracker.md and PROTOCOL.md: POST /v1/register, POST /v1/status,
GET /v1/commands?wait=S (200 application/cose with the next queued command, or 204 after
S seconds). It also serves a payload mirror, GET /mirror/NAME with Range, and injects
faults there: a file DIR/faults/NAME holding "cut N" (send N bytes of a full answer, then
close), "stall N" (send N bytes, then hang), or "refuse K" (close K connections without
an answer). Each fault is used once ("refuse" K times). A file DIR/busy holding "N"
makes it answer /v1/status and /v1/commands 429 SECUP_E_RATE with "Retry-After: N" (no
header when N is "-") while the file exists; each such answer is logged with its time.

Usage: standin_tracker.py DIR ENROLMENT-TOKEN   (writes DIR/port; commands are queued as
DIR/queue/NNN.cose, served in name order; reports land in DIR/reports/N.json)"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cbor2

DIR = sys.argv[1]
ENROL = sys.argv[2]
LOCK = threading.Lock()
STATE = {"tokens": {}, "reports": 0}
for d in ("queue", "served", "reports", "mirror", "faults"):
    os.makedirs(os.path.join(DIR, d), exist_ok=True)


def log(msg):
    with open(os.path.join(DIR, "log"), "a") as f:
        f.write(msg + "\n")


def summarise(cose):
    """The fields of a signed secup-status the test looks at (the signature is checked
    by the real tracker's tests; here only the content)."""
    msg = cbor2.loads(cose)
    payload = cbor2.loads(msg.value[2])
    last = payload.get(6)
    fr = payload.get(10)
    return {
        "reporter": payload[2],
        "counter": payload[3],
        "seqs": [c[2] for c in payload[5]],
        "safe-mode": payload[7],
        "last-code": last[2] if last else None,
        "last-reason": last.get(3) if last else None,
        "freshness": {"floor": fr[1], "fresh-until": fr.get(2), "stale": fr.get(3, False),
                      "clock-behind": fr.get(4, False)} if fr else None,
    }


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        log("%s %s" % (self.command, self.path))

    def reply(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, json.dumps({"error": code, "message": message}).encode())

    def consumer(self):
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        with LOCK:
            return STATE["tokens"].get(tok)

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def busy(self):
        """429 while DIR/busy exists (THREATS.md U6: the agent must honour Retry-After)."""
        try:
            n = open(os.path.join(DIR, "busy")).read().strip()
        except FileNotFoundError:
            return False
        log("busy %.3f %s %s" % (time.time(), self.command, self.path.split("?")[0]))
        body = json.dumps({"error": "SECUP_E_RATE", "message": "too many requests"}).encode()
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        if n != "-":
            self.send_header("Retry-After", n)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return True

    def do_POST(self):
        if self.path == "/v1/status" and self.busy():
            return
        if self.path == "/v1/register":
            if self.headers.get("Authorization") != "Bearer " + ENROL:
                return self.error(401, "SECUP_E_AUTH", "unknown enrolment token")
            req = json.loads(self.body())
            if set(req) - {"id", "key", "kind"} or req.get("kind") != "device" or \
                    "PRIVATE" in req.get("key", "PRIVATE") or "PUBLIC KEY" not in req["key"]:
                return self.error(400, "SECUP_E_JSON", "bad registration")
            tok = "tok-%s-%d" % (req["id"], int(time.time() * 1000))
            with LOCK:
                STATE["tokens"][tok] = req["id"]
            with open(os.path.join(DIR, "registered-%s.pem" % req["id"]), "w") as f:
                f.write(req["key"])
            return self.reply(201, json.dumps({"id": req["id"], "token": tok}).encode())
        if self.path == "/v1/status":
            who = self.consumer()
            if not who:
                return self.error(401, "SECUP_E_AUTH", "no token")
            s = summarise(self.body())
            if s["reporter"] != who:
                return self.error(403, "SECUP_E_FORBIDDEN", "another consumer's report")
            with LOCK:
                STATE["reports"] += 1
                n = STATE["reports"]
            with open(os.path.join(DIR, "reports", "%d.json" % n), "w") as f:
                json.dump(s, f)
            with open(os.path.join(DIR, "reports", "last.json"), "w") as f:
                json.dump(s, f)
            return self.reply(200, json.dumps({"id": who, "counter": s["counter"]}).encode())
        self.error(404, "SECUP_E_NOENT", "no such route")

    def do_GET(self):
        if self.path.startswith("/v1/commands") and self.busy():
            return
        if self.path.startswith("/v1/commands"):
            if not self.consumer():
                return self.error(401, "SECUP_E_AUTH", "no token")
            wait = int(self.path.split("wait=")[1]) if "wait=" in self.path else 0
            end = time.time() + wait
            while True:
                q = sorted(os.listdir(os.path.join(DIR, "queue")))
                if q:
                    src = os.path.join(DIR, "queue", q[0])
                    data = open(src, "rb").read()
                    os.rename(src, os.path.join(DIR, "served", q[0]))
                    return self.reply(200, data, "application/cose")
                if time.time() >= end:
                    return self.reply(204)
                time.sleep(0.05)
        if self.path.startswith("/mirror/"):
            return self.mirror(self.path[len("/mirror/"):])
        self.error(404, "SECUP_E_NOENT", "no such route")

    def mirror(self, name):
        path = os.path.join(DIR, "mirror", name)
        if "/" in name or not os.path.exists(path):
            return self.error(404, "SECUP_E_NOENT", "no such file")
        data = open(path, "rb").read()
        fault = None
        fpath = os.path.join(DIR, "faults", name)
        with LOCK:
            if os.path.exists(fpath):
                kind, n = open(fpath).read().split()
                n = int(n)
                if kind == "refuse" and n > 1:
                    open(fpath, "w").write("refuse %d" % (n - 1))
                else:
                    os.unlink(fpath)
                fault = (kind, n)
        rng = self.headers.get("Range")
        log("mirror %s range=%s fault=%s" % (name, rng, fault))
        if fault and fault[0] == "refuse":
            self.close_connection = True
            return
        start = 0
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if fault:
            self.wfile.write(body[:fault[1]])
            self.wfile.flush()
            if fault[0] == "stall":
                time.sleep(30)
            self.close_connection = True
            return
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
