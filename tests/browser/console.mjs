// The console in a real browser: Debian's Chromium driven by playwright-core,
// every page checked by axe-core. Started by tests/it/console.rs against a
// local stack it runs; talks to 127.0.0.1 only.
//
// Environment: LEADPIPE_BASE_URL, LEADPIPE_ADMIN_TOKEN, LEADPIPE_BROWSER_DEPS
// (a directory with node_modules/playwright-core and axe-core),
// LEADPIPE_CHROMIUM (default /usr/bin/chromium), LEADPIPE_SCREENSHOTS
// (optional directory for one PNG per page).

import { createRequire } from "node:module";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const BASE = process.env.LEADPIPE_BASE_URL;
const ADMIN = process.env.LEADPIPE_ADMIN_TOKEN;
const DEPS = process.env.LEADPIPE_BROWSER_DEPS;
const CHROMIUM = process.env.LEADPIPE_CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.LEADPIPE_SCREENSHOTS || "";
// A HubSpot stand-in the stack sends to (its private-app token).
const HUBSPOT_TOKEN = process.env.LEADPIPE_HUBSPOT_TOKEN || "";
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
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let step = "start";
const sizes = {};
const a11y = {};
const offHost = [];
const cspViolations = [];

function check(cond, what) {
  if (!cond) { throw new Error(`${step}: ${what}`); }
}

async function eventually(what, fn, ms = 20000) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) { return v; }
    } catch (e) { last = e; }
    if (Date.now() > until) { throw new Error(`${step}: timed out waiting for ${what}${last ? `: ${last.message}` : ""}`); }
    await new Promise((r) => setTimeout(r, 300));
  }
}

// A receiver on 127.0.0.1 whose answers the test switches.
let receiverMode = "ok";
const received = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => {
    received.push({ headers: req.headers, body });
    if (receiverMode === "ok") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"received": true, "by": "test receiver"}');
    } else {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("receiver is down for the test");
    }
  });
});
await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
const RECEIVER = `http://127.0.0.1:${receiver.address().port}/hook`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (url.startsWith("http://127.0.0.1:")) { return route.continue(); }
  offHost.push(url);
  return route.abort();
});
const page = await context.newPage();
page.on("console", (m) => {
  if (/Content Security Policy/i.test(m.text())) { cspViolations.push(m.text()); }
});
page.on("dialog", (d) => d.accept());
page.on("response", async (r) => {
  const url = r.url();
  const type = r.headers()["content-type"] || "";
  if (url.startsWith(BASE + "/console") && type.startsWith("text/html")) {
    try {
      const body = await r.body();
      const key = new URL(url).pathname.replace(/(key|lead|sub|dlv|evt)_[A-Za-z0-9_-]+/g, "$1_…");
      sizes[key] = Math.max(sizes[key] || 0, body.length);
    } catch { /* redirects have no body */ }
  }
});

// axe-core on the page as it is now: no serious or critical violation.
async function axe(name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  a11y[name] = result;
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `accessibility on ${name}: ${JSON.stringify(bad)}`);
}

async function shot(name) {
  if (!SHOTS) { return; }
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function visit(pathname) {
  const r = await page.goto(BASE + pathname);
  check(r && r.ok(), `GET ${pathname} answered ${r && r.status()}`);
  return r;
}

async function hook(keyUrl, token, body) {
  return fetch(keyUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "x-webhook-token": token },
    body: JSON.stringify(body),
  });
}

try {
  // 1. Sign in.
  step = "sign in";
  let r = await page.goto(BASE + "/console");
  check(page.url() === BASE + "/console/sign-in", `redirected to sign-in, at ${page.url()}`);
  const csp = r.headers()["content-security-policy"] || "";
  check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), `strict CSP: ${csp}`);
  await axe("sign-in");
  await shot("sign-in");
  await page.fill("#f-token", "adm_wrong");
  await page.click("button[type=submit]");
  check(await page.locator("#err-token").isVisible(), "a wrong token is refused beside the field");
  await page.fill("#f-token", ADMIN);
  await page.click("button[type=submit]");
  check(page.url() === BASE + "/console", `signed in to the overview, at ${page.url()}`);
  const cookies = await context.cookies(BASE + "/console/keys");
  const session = cookies.find((c) => c.name === "leadpipe_console");
  check(session && session.httpOnly && session.sameSite === "Strict", `session cookie: ${JSON.stringify(session)}`);
  check(!(await page.content()).includes(ADMIN), "the admin token is not in the page");
  await axe("overview-empty");
  check((await page.locator("#failed-events").textContent()).includes("0"), "nothing FAILED yet");
  const icon = await page.request.get(BASE + "/favicon.ico");
  check(icon.ok() && icon.headers()["content-type"] === "image/svg+xml", `the favicon: ${icon.status()}`);
  await visit("/console/keys");
  await axe("keys-empty");

  // 2. Create a key, reveal and copy its token, post a lead with it.
  step = "create key";
  await page.click("#add-key summary").catch(() => {});
  await page.fill("#add-key #f-name", "Browser landing page");
  await page.fill("#add-key #f-defaultTags", "browser, landing");
  await page.fill("#add-key #f-honeypotField", "company_url");
  await page.click("#add-key button[type=submit]");
  const created = (await page.locator("#token-full").textContent()).trim();
  check(/^wh_live_/.test(created), `token shown once on creation: ${created}`);
  const hookUrl = (await page.locator("#hook-url").textContent()).trim();
  check(hookUrl.startsWith(BASE + "/v1/hooks/key_"), `hook URL: ${hookUrl}`);
  const keyPath = "/console/keys/" + hookUrl.split("/").pop();
  await visit(keyPath);
  const masked = (await page.locator("#token").textContent()).trim();
  check(masked !== created && masked.endsWith("…"), `token masked in the drawer: ${masked}`);
  await page.click("button[data-toggle=token]");
  await eventually("the token shown", async () => (await page.locator("#token").textContent()).trim() === created);
  await shot("key-drawer");
  await axe("key-drawer");
  await page.click("button[data-toggle=token]");
  check((await page.locator("#token").textContent()).trim() === masked, "hidden again");
  await page.click("button[data-copy=token]");
  const copied = await eventually("the clipboard", async () => {
    const t = await page.evaluate(() => navigator.clipboard.readText());
    return t.startsWith("wh_live_") ? t : null;
  });
  check(copied === created, "the copied token is the key's token");
  check((await page.locator("#token").textContent()).trim() === masked, "copying does not unmask");

  step = "post a lead";
  r = await hook(hookUrl, copied, { name: "Browser Person", email: "browser.person@example.com", phone: "+1 415 555 0199" });
  check(r.status === 202, `the hook accepts the copied token: ${r.status}`);
  await eventually("the lead in the list", async () => {
    await visit("/console/leads?email=browser.person%40example.com");
    return (await page.locator("table a", { hasText: "Browser Person" }).count()) === 1;
  });
  await visit("/console/leads");
  await shot("leads");
  await axe("leads");
  await page.click("table a >> text=Browser Person");
  check((await page.content()).includes("browser.person@example.com"), "the lead's page shows its email");
  await visit(keyPath);
  check((await page.locator("#token").textContent()).trim() === masked, "still masked");
  await visit("/console/keys");
  check((await page.locator("table").textContent()).includes("Browser landing page"), "the key is listed");
  await shot("keys");
  await axe("keys");

  // 3. A destination to a local receiver; Test shows 200 and the timing.
  step = "destination";
  await visit("/console/destinations");
  await axe("destinations-empty");
  await page.fill("#add-destination #f-url", RECEIVER);
  await page.fill("#add-destination #f-retrySchedule", "1");
  await page.fill("#add-destination #f-template", '{"email": "{{lead.email}}", "tags": "{{lead.tags}}"');
  await page.click("#add-destination button[value=preview]");
  check((await page.content()).includes("does not render to valid JSON"), "an invalid template is explained in the preview");
  await page.fill("#add-destination #f-template", '{"email": "{{lead.email}}", "tags": "{{lead.tags}}"}');
  await page.click("#add-destination button[value=preview]");
  check((await page.locator("#template-preview").textContent()).includes("alex@example.com"), "the preview renders the sample lead");
  await page.click("#add-destination button:not([value])");
  const secret = (await page.locator("#secret-full").textContent()).trim();
  check(/^whsec_/.test(secret), `secret shown once: ${secret}`);
  const destPath = new URL(page.url()).pathname === "/console/destinations"
    ? await page.locator("form[action$='/test']").getAttribute("action").then((a) => a.replace(/\/test$/, ""))
    : new URL(page.url()).pathname;
  await page.click("form[action$='/test'] button");
  const status = (await page.locator("#test-status").textContent()).trim();
  const ms = (await page.locator("#test-ms").textContent()).trim();
  check(status === "200", `Test shows 200: ${status}`);
  check(/^\d+ ms$/.test(ms), `Test shows the timing: ${ms}`);
  check((await page.locator("#test-result").textContent()).includes("test receiver"), "Test shows the answer's first bytes");
  check(received.some((x) => x.headers["webhook-signature"]), "the receiver got a signed request");
  await shot("destination");
  await axe("destination");
  await visit(destPath);
  check((await page.content()).includes("2 attempts over 1 s (1 s)"), "the retry schedule is shown in words");
  check((await page.locator("dl.facts").textContent()).includes("active"), "the destination's state is shown");
  check(!(await page.content()).includes(secret), "the secret is not shown again");
  await visit("/console/destinations");
  await shot("destinations");
  await axe("destinations");

  // 4. The receiver fails: attempts are shown; retry delivers.
  step = "failing receiver";
  receiverMode = "fail";
  r = await hook(hookUrl, copied, { name: "Failing Person", email: "failing.person@example.com" });
  check(r.status === 202, `second lead accepted: ${r.status}`);
  const deadLink = await eventually("a dead delivery", async () => {
    await visit("/console/deliveries?status=dead");
    const links = page.locator("table a[href^='/console/deliveries/dlv_']");
    return (await links.count()) > 0 ? links.first().getAttribute("href") : null;
  }, 40000);
  await shot("deliveries");
  await axe("deliveries");
  await visit(deadLink);
  const attemptsText = await page.locator("#attempts").textContent();
  check(attemptsText.includes("500"), `attempts show the 500: ${attemptsText}`);
  check(attemptsText.includes("receiver is down"), "attempts show the answer's excerpt");
  await shot("delivery");
  await axe("delivery");
  receiverMode = "ok";
  await page.click("form[action$='/retry'] button");
  await eventually("the retried delivery delivered", async () => {
    await visit(deadLink);
    return (await page.locator("#delivery-status").textContent()).includes("delivered");
  }, 40000);

  // 4b. The overview: charts drawn on the server, the destination's figures.
  step = "overview";
  await visit("/console");
  check((await page.locator("svg#leads-7 rect.bar").count()) > 0, "leads per day are drawn");
  check((await page.locator("svg#leads-7 rect.bar").first().getAttribute("data-source")) === "Browser landing page",
    "the bars are by source (the key's name)");
  const stats = await page.locator("table.destinations-stats").first().textContent();
  check(stats.includes(destPath.split("/").pop()) && stats.includes("%"), `the destination's success: ${stats}`);
  check((await page.locator("#dead-deliveries").getAttribute("href")) === "/console/deliveries?status=dead", "dead deliveries are linked");
  await shot("overview");
  await axe("overview");

  // 4c. The events list updates itself: a new event appears without a reload.
  step = "live events";
  await visit("/console/events");
  await page.evaluate(() => { window.__sameDocument = true; });
  r = await hook(hookUrl, copied, { name: "Live Person", email: "live.person@example.com", api_key: "sk_live_hidden_1" });
  check(r.status === 202, `live lead accepted: ${r.status}`);
  const liveEvent = (await r.json()).eventId;
  await eventually("the new event in the open list", async () =>
    (await page.locator("#events-live").textContent()).includes(liveEvent), 30000);
  check(await page.evaluate(() => window.__sameDocument === true), "the list changed without a reload");
  check(Number(await page.locator("#events-live").getAttribute("data-updates")) >= 1, "the live region was swapped");
  check((await page.locator("#live-status").textContent()).startsWith("Live"), "the page says it is live");

  // 4d. The event page: the submission and the request, credentials masked.
  step = "event page";
  await visit("/console/events/" + liveEvent);
  await eventually("the event processed", async () => {
    await visit("/console/events/" + liveEvent);
    return (await page.locator("#event-status").textContent()).includes("PROCESSED");
  });
  const submission = await page.locator("#submission").textContent();
  check(submission.includes("live.person@example.com"), `the submission: ${submission}`);
  check(!submission.includes("sk_live_hidden_1") && submission.includes("••••••"), `a key in the submission is masked: ${submission}`);
  const sent = await page.locator("#request-headers").textContent();
  check(sent.includes("x-webhook-token") && sent.includes("••••••"), `the token header is masked: ${sent}`);
  check(!(await page.content()).includes(copied), "the token is nowhere on the page");
  await shot("event");
  await axe("event");

  // 5. Events, and editing a lead fires lead.updated.
  step = "events and lead edit";
  await visit("/console/events");
  check((await page.locator("table").textContent()).includes("PROCESSED"), "events are listed");
  await shot("events");
  await axe("events");
  await visit("/console/leads?email=failing.person%40example.com");
  await page.click("table a >> text=Failing Person");
  await shot("lead");
  await axe("lead");
  const before = received.length;
  await page.fill("#f-status", "contacted");
  await page.click("form[action^='/console/leads/'] button[type=submit]");
  check((await page.content()).includes("Lead saved"), "the lead is saved");
  await eventually("lead.updated at the receiver", async () =>
    received.slice(before).some((x) => x.headers["x-leadpipe-event"] === "lead.updated"));

  // 5b. The same person again: the merge, with what it changed, in the history.
  step = "merge in history";
  r = await hook(hookUrl, copied, { email: "failing.person@example.com", phone: "+1 415 555 0142", company: "Merged Co" });
  check(r.status === 202, `the second submission is accepted: ${r.status}`);
  const mergeEvent = (await r.json()).eventId;
  await eventually("the merge in the lead's history", async () => {
    await visit("/console/leads?email=failing.person%40example.com");
    await page.click("table a >> text=Failing Person");
    const row = page.locator("#lead-history tr[data-what=merged]");
    return (await row.count()) === 1 && (await row.textContent()).includes("company: — → Merged Co");
  });
  const history = await page.locator("#lead-history").textContent();
  check(history.includes("created") && history.includes("edited"), `the history has the creation and the edit: ${history}`);
  check((await page.locator(`#lead-history a[href='/console/events/${mergeEvent}']`).count()) === 1, "the merge links its event");
  await shot("lead-history");
  await axe("lead-history");

  // 6. Regenerate the key: the old token is refused at once.
  step = "regenerate";
  await visit(keyPath);
  await page.click("form[action$='/rotate'] button");
  const fresh = (await page.locator("#token-full").textContent()).trim();
  check(/^wh_live_/.test(fresh) && fresh !== copied, "a new token is shown");
  r = await hook(hookUrl, copied, { email: "old.token@example.com" });
  check(r.status === 401, `the old token is refused: ${r.status}`);
  r = await hook(hookUrl, fresh, { email: "new.token@example.com" });
  check(r.status === 202, `the new token works: ${r.status}`);

  // 6b. Send test lead: a marked test lead through the key's pipeline;
  // the destination (no "Send test leads too") gets nothing.
  step = "send test lead";
  await visit(keyPath);
  await page.click("form[action$='/test-lead'] button");
  check((await page.content()).includes("Test lead sent"), "the test lead is confirmed");
  await eventually("the test lead among the leads", async () => {
    await visit("/console/leads");
    return (await page.content()).includes("test-lead+");
  });
  check(!received.some((x) => x.body.includes("test-lead+")), "a test lead reached a destination without test leads");

  // 7. Erase a person: the lead is found nowhere afterwards.
  step = "erase";
  await visit("/console/leads?email=browser.person%40example.com");
  await page.click("table a >> text=Browser Person");
  check((await page.content()).includes("Erase this person"), "the lead page offers erasure");
  await page.click("form[action$='/erase'] button");
  check(page.url().startsWith(BASE + "/console/leads"), `back to the leads, at ${page.url()}`);
  check((await page.content()).includes("was erased"), "the erasure is confirmed");
  await visit("/console/leads?email=browser.person%40example.com");
  check((await page.locator("table a", { hasText: "Browser Person" }).count()) === 0, "no lead for the erased email");
  await visit("/console/events");
  check(!(await page.content()).includes("browser.person@example.com"), "no event shows the erased email");

  // 8. Workspaces: create one, switch to it, make a viewer token, sign in with it.
  step = "workspaces";
  await visit("/console/workspaces");
  await axe("workspaces");
  await shot("workspaces");
  await page.fill("form[action='/console/workspaces'] #f-name", "Browser client");
  await page.click("form[action='/console/workspaces'] button[type=submit]");
  check((await page.content()).includes("Workspace created"), "the workspace is created");
  const row = page.locator("tr", { hasText: "Browser client" });
  const wsId = (await row.locator("code").textContent()).trim();
  check(/^ws_/.test(wsId), `a workspace id: ${wsId}`);
  await row.locator("form[action$='/switch'] button").click();
  check((await page.content()).includes("Switched"), "switched");
  check((await page.locator(".whoami").textContent()).includes(wsId), "the header names the workspace");
  await visit("/console/keys");
  check(!(await page.content()).includes("Browser landing page"), "the other workspace's key is not here");
  check((await page.locator(".whoami").textContent()).includes(wsId), "still in the new workspace");
  await visit("/console/workspaces");
  await page.fill("form[action='/console/tokens'] #f-name", "Client viewer");
  await page.selectOption("form[action='/console/tokens'] select[name=role]", "viewer");
  await page.click("form[action='/console/tokens'] button[type=submit]");
  const viewer = (await page.locator("#new-token").textContent()).trim();
  check(/^lpt_/.test(viewer), `a token shown once: ${viewer}`);
  await axe("workspace-token");
  await visit("/console/workspaces");
  check(!(await page.content()).includes(viewer), "the token is not shown again");
  await visit("/console/audit");
  const trail = await page.locator("table").textContent();
  check(trail.includes("tokens.create") && trail.includes("workspaces.create"), `the trail: ${trail}`);
  await axe("audit");
  await shot("audit");
  await page.click("form.signout button");
  await page.fill("#f-token", viewer);
  await page.click("button[type=submit]");
  check(page.url() === BASE + "/console", `the viewer signed in, at ${page.url()}`);
  const who = await page.locator(".whoami").textContent();
  check(who.includes(wsId) && who.includes("viewer"), `the viewer's workspace: ${who}`);
  await visit("/console/keys");
  await page.click("#add-key summary").catch(() => {});
  await page.fill("#add-key #f-name", "Viewer key");
  await page.click("#add-key button[type=submit]");
  check((await page.content()).includes("may only read"), "a viewer's write is refused");
  await visit("/console/workspaces");
  check(!(await page.content()).includes("Switch workspace"), "a viewer cannot switch");
  await page.click("form.signout button");
  await page.fill("#f-token", ADMIN);
  await page.click("button[type=submit]");
  check((await page.locator(".whoami").textContent()).includes("default"), "the root starts in default");

  // 9. A HubSpot destination with a mapping and a filter, then Test.
  step = "hubspot destination";
  check(HUBSPOT_TOKEN, "LEADPIPE_HUBSPOT_TOKEN is set");
  await visit("/console/destinations");
  const openForm = () => page.evaluate(() => { const d = document.querySelector("#add-destination"); if (d) { d.open = true; } });
  await openForm();
  await page.selectOption("#add-destination #f-kind", "hubspot");
  await page.fill("#add-destination #f-hubspotToken", HUBSPOT_TOKEN);
  await page.fill("#add-destination #f-mapping", "email = email\nfirstname = firstName\ncompany = customFields.company");
  await page.fill("#add-destination #f-filter", '{"field": "customFields.country", "op": "eq", "value": "DE"}');
  await page.click("#add-destination button[value=preview]");
  const previewText = await page.content();
  check(previewText.includes("/crm/v3/objects/contacts/batch/upsert"), "the preview shows HubSpot's upsert");
  check(!previewText.includes(HUBSPOT_TOKEN), "the token is not echoed in the preview");
  await openForm();
  await page.selectOption("#add-destination #f-kind", "hubspot");
  await page.fill("#add-destination #f-hubspotToken", HUBSPOT_TOKEN);
  await page.click("#add-destination button:not([value])");
  const createdPage = await page.content();
  check(createdPage.includes("HubSpot") && !createdPage.includes(HUBSPOT_TOKEN), "a HubSpot destination, its token not shown");
  await page.click("form[action$='/test'] button");
  const hsStatus = (await page.locator("#test-status").textContent()).trim();
  check(hsStatus === "200", `Test reaches HubSpot: ${hsStatus}`);
  await shot("destination-hubspot");
  await axe("destination-hubspot");

  // 10. Phone width, then sign out.
  step = "phone and sign out";
  await page.setViewportSize({ width: 390, height: 844 });
  await visit(keyPath);
  await shot("key-drawer-phone");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling on a phone: ${overflow}px`);
  await page.click("form.signout button");
  check(page.url() === BASE + "/console/sign-in", "signed out");
  await page.goto(BASE + "/console/keys");
  check(page.url() === BASE + "/console/sign-in", "the console needs signing in again");

  step = "totals";
  check(offHost.length === 0, `requests off 127.0.0.1: ${offHost.join(", ")}`);
  check(cspViolations.length === 0, `CSP violations: ${cspViolations.join(" | ")}`);
  const biggest = Math.max(...Object.values(sizes));
  check(biggest <= 60 * 1024, `a page over 60 KB: ${JSON.stringify(sizes)}`);
  const summary = { ok: true, pages: sizes, a11y, received: received.length };
  if (SHOTS) { writeFileSync(path.join(SHOTS, "summary.json"), JSON.stringify(summary, null, 2)); }
  console.log(JSON.stringify(summary));
} catch (e) {
  console.error(`FAILED at ${step}: ${e.stack || e}`);
  try { await shot("failure"); } catch { /* best effort */ }
  try { console.error((await page.content()).slice(0, 4000)); } catch { /* best effort */ }
  process.exitCode = 1;
} finally {
  await browser.close();
  receiver.close();
}
