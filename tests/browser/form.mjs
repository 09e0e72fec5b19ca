// A plain HTML form on a static landing page, submitted by a real browser
// with JavaScript turned off: Debian's Chromium driven by playwright-core.
// The page is served here, on 127.0.0.1, under the name www.example.test
// (Chromium's host resolver maps it; nothing else resolves). The form posts
// straight to a `form` key's hook URL; the browser must land on the
// `_redirect` page, and the lead must exist. Started by
// tests/it/form_browser.rs against a local stack it runs.
//
// Environment: LEADPIPE_BASE_URL, LEADPIPE_ADMIN_TOKEN, LEADPIPE_BROWSER_DEPS,
// LEADPIPE_CHROMIUM (default /usr/bin/chromium).

import { createRequire } from "node:module";
import { createServer } from "node:http";
import path from "node:path";

const BASE = process.env.LEADPIPE_BASE_URL;
const ADMIN = process.env.LEADPIPE_ADMIN_TOKEN;
const DEPS = process.env.LEADPIPE_BROWSER_DEPS;
const CHROMIUM = process.env.LEADPIPE_CHROMIUM || "/usr/bin/chromium";
if (!BASE || !ADMIN || !DEPS) {
  console.error("LEADPIPE_BASE_URL, LEADPIPE_ADMIN_TOKEN and LEADPIPE_BROWSER_DEPS are required");
  process.exit(2);
}
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(BASE)) {
  console.error(`refusing to test anything but 127.0.0.1: ${BASE}`);
  process.exit(2);
}
const require = createRequire(path.join(DEPS, "package.json"));
const { chromium } = require("playwright-core");

let step = "start";
function check(cond, what) {
  if (!cond) { throw new Error(`${step}: ${what}`); }
}
async function admin(method, p, body) {
  const r = await fetch(`${BASE}${p}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

// The landing page's own server: the form and the thank-you page.
let formHtml = "";
const site = createServer((req, res) => {
  if (req.url === "/thanks") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>Thanks</title><h1>Thanks, we will call you</h1>");
    return;
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(formHtml);
});
await new Promise((r) => site.listen(0, "127.0.0.1", r));
const SITE = `http://www.example.test:${site.address().port}`;

step = "create the form key";
const created = await admin("POST", "/v1/keys", {
  name: "Static landing page", provider: "form", allowedDomains: ["www.example.test"],
  honeypotField: "company_url",
});
check(created.status === 201, `key created: ${created.status} ${JSON.stringify(created.json)}`);
const hook = created.json.url.replace(/^https?:\/\/[^/]+/, BASE);

// No script anywhere: what a static page builder pastes.
formHtml = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo</title></head><body>
<form method="post" action="${hook}">
  <label>Name <input name="name" id="name"></label>
  <label>Email <input name="email" id="email" type="email" required></label>
  <input type="text" name="company_url" style="display:none" tabindex="-1" autocomplete="off">
  <input type="hidden" name="_redirect" value="${SITE}/thanks">
  <button id="send">Send</button>
</form></body></html>`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    "--host-resolver-rules=MAP www.example.test 127.0.0.1, MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
  ],
});
const result = { ok: false };
try {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();

  step = "open the landing page";
  await page.goto(`${SITE}/`);
  step = "fill and submit the form";
  await page.fill("#name", "Zoë Müller");
  await page.fill("#email", "zoe.browser@example.com");
  await Promise.all([page.waitForURL(`${SITE}/thanks`, { timeout: 20000 }), page.click("#send")]);
  check((await page.textContent("h1")).includes("Thanks"), "landed on the thank-you page");

  step = "find the lead";
  const until = Date.now() + 20000;
  let lead = null;
  while (!lead && Date.now() < until) {
    const r = await admin("GET", "/v1/leads?email=zoe.browser@example.com");
    lead = r.json && r.json.items && r.json.items[0];
    if (!lead) { await new Promise((r) => setTimeout(r, 300)); }
  }
  check(lead, "the lead was made");
  check(lead.firstName === "Zoë", `first name kept: ${lead.firstName}`);

  step = "another site's copy of the form is refused";
  const other = await fetch(hook, {
    method: "POST",
    headers: { origin: "https://evil.test", "content-type": "application/x-www-form-urlencoded" },
    body: "email=x%40example.com",
  });
  check(other.status === 403, `foreign origin refused: ${other.status}`);
  result.ok = true;
} catch (e) {
  result.error = e.message;
} finally {
  await browser.close();
  site.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
