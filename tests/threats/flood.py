#!/usr/bin/python3
"""TEST ONLY: a request flood from many source addresses (THREATS.md U6, harness LOAD).

All of 127.0.0.0/8 is loopback on Linux, so each worker binds its connections to its own
127.0.0.X and sends requests over keep-alive HTTPS (or HTTP) as fast as the answers come,
for a while. It prints one JSON object: requests made, answers per status, how many 429s
carried a Retry-After (and the smallest and largest), and how many carried the error code
SECUP_E_RATE, how many sources were refused at least once, and the most requests answered
to a source that was never refused (max_unrefused).

Usage: flood.py URL FIRST LAST SECONDS [HEADER...]   (sources 127.0.0.FIRST..LAST)"""
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
first, last, seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
headers = dict(h.split(": ", 1) for h in sys.argv[5:])
path = url.path + ("?" + url.query if url.query else "")
lock = threading.Lock()
total = {"requests": 0, "status": {}, "retry_after": 0, "retry_min": None, "retry_max": None,
         "secup_e_rate": 0, "errors": 0, "sources_refused": 0, "max_unrefused": 0}


def connect(src):
    if url.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(url.hostname, url.port, context=ctx, timeout=30,
                                           source_address=(src, 0))
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30, source_address=(src, 0))


def worker(src, end):
    mine = {"requests": 0, "status": {}, "retry_after": 0, "retry": [], "rate": 0, "errors": 0}
    refused = False
    conn = None
    while time.time() < end:
        try:
            if conn is None:
                conn = connect(src)
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            mine["requests"] += 1
            mine["status"][r.status] = mine["status"].get(r.status, 0) + 1
            if r.status == 429:
                refused = True
                ra = r.getheader("Retry-After")
                if ra is not None and ra.isdigit():
                    mine["retry_after"] += 1
                    mine["retry"].append(int(ra))
                if b'"SECUP_E_RATE"' in body:
                    mine["rate"] += 1
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            mine["errors"] += 1
            if conn:
                conn.close()
            conn = None
            time.sleep(0.05)
    with lock:
        total["requests"] += mine["requests"]
        for k, v in mine["status"].items():
            total["status"][str(k)] = total["status"].get(str(k), 0) + v
        total["retry_after"] += mine["retry_after"]
        total["secup_e_rate"] += mine["rate"]
        total["errors"] += mine["errors"]
        total["sources_refused"] += refused
        if not refused:
            total["max_unrefused"] = max(total["max_unrefused"], mine["requests"])
        if mine["retry"]:
            lo, hi = min(mine["retry"]), max(mine["retry"])
            total["retry_min"] = lo if total["retry_min"] is None else min(lo, total["retry_min"])
            total["retry_max"] = hi if total["retry_max"] is None else max(hi, total["retry_max"])


end = time.time() + seconds
threads = [threading.Thread(target=worker, args=("127.0.0.%d" % i, end))
           for i in range(first, last + 1)]
for t in threads:
    t.start()
for t in threads:
    t.join()
total["sources"] = last - first + 1
print(json.dumps(total))
