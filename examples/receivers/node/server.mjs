// A Leadpipe delivery receiver: verifies the Standard Webhooks signature with
// the `standardwebhooks` library and X-Leadpipe-Signature by hand, both on
// the raw body, before anything is parsed.
//
//   LEADPIPE_SECRET=whsec_… PORT=8080 node server.mjs
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Webhook } from "standardwebhooks";

const secret = process.env.LEADPIPE_SECRET;
if (!secret || !secret.startsWith("whsec_")) {
  console.error("LEADPIPE_SECRET=whsec_… is required (the subscription's secret)");
  process.exit(2);
}
const key = Buffer.from(secret.slice("whsec_".length), "base64");
const standard = new Webhook(secret.slice("whsec_".length));

// X-Leadpipe-Signature: sha256=<hex HMAC-SHA256(key, body)>, compared in constant time.
function leadpipeSignatureOk(body, header) {
  if (typeof header !== "string" || !header.startsWith("sha256=")) { return false; }
  const want = createHmac("sha256", key).update(body).digest();
  const got = Buffer.from(header.slice("sha256=".length), "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

const seen = new Set();
const server = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/hook") {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const raw = Buffer.concat(chunks);
    let standardOk = true;
    try {
      standard.verify(raw.toString("utf8"), req.headers);
    } catch {
      standardOk = false;
    }
    const leadpipeOk = leadpipeSignatureOk(raw, req.headers["x-leadpipe-signature"]);
    const id = req.headers["webhook-id"];
    const duplicate = seen.has(id);
    seen.add(id);
    let type = null;
    if (standardOk && leadpipeOk) {
      try { type = JSON.parse(raw.toString("utf8")).type; } catch { /* a body that is not JSON */ }
    }
    console.log(JSON.stringify({ verified: standardOk && leadpipeOk, standard: standardOk, leadpipe: leadpipeOk, webhookId: id, type, duplicate }));
    if (standardOk && leadpipeOk) {
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok": true}');
    } else {
      res.writeHead(401, { "content-type": "application/json" }).end('{"ok": false}');
    }
  });
});
const port = Number(process.env.PORT || 8080);
server.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: server.address().port })));
