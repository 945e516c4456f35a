#!/usr/bin/env python3
"""Signal exporter of the testbed: tests set gauge values over HTTP and
Prometheus scrapes them.

  POST /set?name=demo_error_ratio&service=checkout&value=0.5
       sets demo_error_ratio{service="checkout"} to 0.5; every query parameter
       other than name and value becomes a label.
  POST /unset?name=demo_error_ratio&service=checkout
       removes that one series.
  POST /reset
       removes every series.
  GET  /metrics   Prometheus text format
  GET  /healthz   "ok"

Bad metric or label names, or a value that is not a number, answer 400.
Only the standard library is used.
"""

import argparse
import math
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class BadRequest(Exception):
    pass


class Store:
    """Gauge values keyed by (metric name, sorted label pairs)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values = {}

    def set(self, name, labels, value):
        with self._lock:
            self._values[(name, labels)] = value

    def unset(self, name, labels):
        with self._lock:
            return self._values.pop((name, labels), None) is not None

    def reset(self):
        with self._lock:
            self._values.clear()

    def render(self):
        with self._lock:
            items = sorted(self._values.items())
        out = []
        last_name = None
        for (name, labels), value in items:
            if name != last_name:
                out.append(f"# TYPE {name} gauge")
                last_name = name
            if labels:
                body = ",".join(f'{k}="{escape(v)}"' for k, v in labels)
                out.append(f"{name}{{{body}}} {format_value(value)}")
            else:
                out.append(f"{name} {format_value(value)}")
        return "\n".join(out) + "\n" if out else ""


def escape(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def parse_series(query, need_value):
    """Returns (name, labels, value) from the request's query parameters."""
    params = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    name = None
    value = None
    labels = {}
    for key, val in params:
        if key == "name":
            if name is not None:
                raise BadRequest("name given twice")
            name = val
        elif key == "value":
            if value is not None:
                raise BadRequest("value given twice")
            value = val
        else:
            if not LABEL_NAME.match(key) or key.startswith("__"):
                raise BadRequest(f"invalid label name: {key!r}")
            if key in labels:
                raise BadRequest(f"label given twice: {key!r}")
            labels[key] = val
    if not name:
        raise BadRequest("missing name")
    if not METRIC_NAME.match(name):
        raise BadRequest(f"invalid metric name: {name!r}")
    number = None
    if need_value:
        if value is None:
            raise BadRequest("missing value")
        try:
            number = float(value)
        except ValueError:
            raise BadRequest(f"value is not a number: {value!r}") from None
    elif value is not None:
        raise BadRequest("value is not accepted here")
    # Empty label values mean "no label" in Prometheus; drop them.
    pairs = tuple(sorted((k, v) for k, v in labels.items() if v != ""))
    return name, pairs, number


class Handler(BaseHTTPRequestHandler):
    server_version = "testbed-signals/1"
    store = Store()

    def log_message(self, fmt, *args):
        if self.command != "GET":
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def _send(self, code, body, content_type="text/plain; charset=utf-8"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._send(200, self.store.render(), "text/plain; version=0.0.4; charset=utf-8")
        elif path in ("/healthz", "/"):
            self._send(200, "ok\n")
        else:
            self._send(404, "not found\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        try:
            if url.path == "/set":
                name, labels, value = parse_series(url.query, need_value=True)
                self.store.set(name, labels, value)
                self._send(200, "ok\n")
            elif url.path == "/unset":
                name, labels, _ = parse_series(url.query, need_value=False)
                found = self.store.unset(name, labels)
                self._send(200, "ok\n" if found else "not set\n")
            elif url.path == "/reset":
                self.store.reset()
                self._send(200, "ok\n")
            else:
                self._send(404, "not found\n")
        except BadRequest as err:
            self._send(400, f"{err}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"signals listening on http://{args.host}:{args.port}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
