#!/usr/bin/env python3
"""An admission webhook that makes the real API server refuse chosen writes.

Tests register it (a ValidatingWebhookConfiguration with a url clientConfig) to see how the
operator copes when the API server answers a write with an error such as 409 Conflict.

  admission_faults.py --port 9443 --cert webhook-serving.crt --key webhook-serving.key \\
      --refuse 1,3,5 --code 409 --resource incidents --record requests.jsonl

Admission requests for --resource (sent with --field-manager, when given) are numbered from 1
in the order they arrive. The ones listed in --refuse are denied with the given HTTP status
code; every other one is allowed. Other requests are always allowed (n is null): a test writes
one to learn that the API server calls the webhook. Each request is appended to --record as one
JSON line: n, operation, resource, subResource, namespace, name, fieldManager, refused. Only
the standard library is used.
"""

import argparse
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REASONS = {409: "Conflict", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


class Faults:
    def __init__(self, resource, field_manager, refuse, code, record):
        self.resource = resource
        self.field_manager = field_manager
        self.refuse = refuse
        self.code = code
        self.record = record
        self.count = 0
        self.lock = threading.Lock()

    def review(self, request):
        resource = (request.get("resource") or {}).get("resource")
        field_manager = (request.get("options") or {}).get("fieldManager")
        with self.lock:
            n = None
            if self.resource in (None, resource) and self.field_manager in (None, field_manager):
                self.count += 1
                n = self.count
            refused = n in self.refuse
            with open(self.record, "a") as f:
                f.write(json.dumps({
                    "n": n,
                    "operation": request.get("operation"),
                    "resource": resource,
                    "subResource": request.get("subResource", ""),
                    "namespace": request.get("namespace"),
                    "name": request.get("name"),
                    "fieldManager": field_manager,
                    "refused": refused,
                }) + "\n")
        response = {"uid": request.get("uid", ""), "allowed": not refused}
        if refused:
            response["status"] = {
                "code": self.code,
                "reason": REASONS.get(self.code, "Unknown"),
                "message": f"refused by the testbed's admission faults (request {n})",
            }
        return response


def handler_for(faults):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            try:
                review = json.loads(self.rfile.read(length))
                request = review["request"]
            except (ValueError, KeyError, TypeError):
                self.send_error(400, "not an AdmissionReview")
                return
            body = json.dumps({
                "apiVersion": review.get("apiVersion", "admission.k8s.io/v1"),
                "kind": "AdmissionReview",
                "response": faults.review(request),
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--refuse", default="", help="request numbers to refuse, comma-separated")
    parser.add_argument("--code", type=int, default=409)
    parser.add_argument("--resource", help="number and refuse only requests for this resource")
    parser.add_argument("--field-manager", help="number and refuse only writes sent with this field manager")
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    refuse = {int(n) for n in args.refuse.split(",") if n.strip()}
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Faults(args.resource, args.field_manager, refuse, args.code, args.record)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
