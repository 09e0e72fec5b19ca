"""A Leadpipe delivery receiver: verifies the Standard Webhooks signature with
the `standardwebhooks` library and X-Leadpipe-Signature by hand, both on the
raw body, before anything is parsed.

    LEADPIPE_SECRET=whsec_… PORT=8080 python3 receiver.py
"""

import base64
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook

SECRET = os.environ.get("LEADPIPE_SECRET", "")
if not SECRET.startswith("whsec_"):
    sys.exit("LEADPIPE_SECRET=whsec_… is required (the subscription's secret)")
KEY = base64.b64decode(SECRET[len("whsec_"):])
STANDARD = Webhook(SECRET[len("whsec_"):])
SEEN = set()


def leadpipe_signature_ok(body: bytes, header) -> bool:
    """X-Leadpipe-Signature: sha256=<hex HMAC-SHA256(key, body)>, in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    want = hmac.new(KEY, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256="):], want)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the standard library's name)
        if self.path != "/hook":
            self.send_response(404)
            self.end_headers()
            return
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            STANDARD.verify(raw, headers)
            standard_ok = True
        except Exception:  # the library raises WebhookVerificationError
            standard_ok = False
        leadpipe_ok = leadpipe_signature_ok(raw, headers.get("x-leadpipe-signature"))
        webhook_id = headers.get("webhook-id")
        duplicate = webhook_id in SEEN
        SEEN.add(webhook_id)
        event_type = None
        if standard_ok and leadpipe_ok:
            try:
                event_type = json.loads(raw).get("type")
            except ValueError:
                pass
        ok = standard_ok and leadpipe_ok
        print(json.dumps({"verified": ok, "standard": standard_ok, "leadpipe": leadpipe_ok,
                          "webhookId": webhook_id, "type": event_type, "duplicate": duplicate}), flush=True)
        self.send_response(200 if ok else 401)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}' if ok else b'{"ok": false}')

    def log_message(self, *args):  # one JSON line per request is enough
        pass


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Receiver)
    print(json.dumps({"listening": server.server_address[1]}), flush=True)
    server.serve_forever()
