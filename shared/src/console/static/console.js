// Leadpipe console: progressive enhancement only. Every page works without it.
(function () {
  "use strict";

  // Times in the viewer's zone.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d.getTime())) {
        t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
        t.title = t.getAttribute("datetime");
      }
    });
  }

  function csrf() {
    var f = document.querySelector("input[name=csrf]");
    return f ? f.value : "";
  }

  function flash(button, text) {
    var old = button.textContent;
    button.textContent = text;
    setTimeout(function () { button.textContent = old; }, 1500);
  }

  function copyText(text, button) {
    function done() { flash(button, "Copied"); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else {
      fallback(text);
      done();
    }
  }

  function fallback(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(ta);
  }

  // A key's token: fetched on demand, never in the page until asked for.
  var revealed = {};
  function reveal(el) {
    var url = el.getAttribute("data-reveal");
    if (revealed[url]) { return Promise.resolve(revealed[url]); }
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf() }
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (j) { revealed[url] = j.token; return j.token; });
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b) { return; }
    var copyId = b.getAttribute("data-copy");
    if (copyId) {
      ev.preventDefault();
      var el = document.getElementById(copyId);
      if (!el) { return; }
      if (el.hasAttribute("data-reveal") && el.getAttribute("data-shown") !== "1") {
        reveal(el).then(function (t) { copyText(t, b); }, function () { flash(b, "Failed"); });
      } else {
        copyText(el.textContent, b);
      }
      return;
    }
    var toggleId = b.getAttribute("data-toggle");
    if (toggleId) {
      ev.preventDefault();
      var tok = document.getElementById(toggleId);
      if (!tok) { return; }
      if (tok.getAttribute("data-shown") === "1") {
        tok.textContent = tok.getAttribute("data-masked");
        tok.setAttribute("data-shown", "0");
        b.textContent = "Show";
        b.setAttribute("aria-pressed", "false");
      } else {
        reveal(tok).then(function (t) {
          tok.textContent = t;
          tok.setAttribute("data-shown", "1");
          b.textContent = "Hide";
          b.setAttribute("aria-pressed", "true");
        }, function () { flash(b, "Failed"); });
      }
    }
  });

  // Confirmations before destructive actions.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });

  // Auth fields shown only for the chosen kind.
  function authKinds() {
    document.querySelectorAll("select[data-auth]").forEach(function (s) {
      var form = s.form;
      function sync() {
        form.querySelectorAll("[data-auth-kind]").forEach(function (el) {
          el.hidden = el.getAttribute("data-auth-kind") !== s.value;
        });
      }
      s.addEventListener("change", sync);
      sync();
    });
  }

  // A destination's fields shown only for the chosen kind.
  function destinationKinds() {
    document.querySelectorAll("select[data-kind-picker]").forEach(function (s) {
      function sync() {
        s.form.querySelectorAll("[data-for-kind]").forEach(function (el) {
          el.hidden = el.getAttribute("data-for-kind").split(" ").indexOf(s.value) < 0;
        });
      }
      s.addEventListener("change", sync);
      sync();
    });
  }

  // Live lists: a region with data-live="ms" is fetched again from the
  // page's own URL (same origin, the session's cookie: connect-src 'self')
  // and swapped in place when it changed. No reload; paused while the tab
  // is hidden or while focus is inside the region (a button about to be
  // pressed stays put).
  function live() {
    var region = document.querySelector("[data-live]");
    if (!region || !region.id || !window.fetch || !window.DOMParser) { return; }
    var every = Math.max(1000, parseInt(region.getAttribute("data-live"), 10) || 5000);
    var status = document.getElementById("live-status");
    var last = region.innerHTML;
    var busy = false;
    var updates = 0;
    function say(text) { if (status) { status.textContent = text; } }
    function tick() {
      var focused = document.activeElement;
      if (busy || document.hidden || (focused && focused !== document.body && region.contains(focused))) { return; }
      busy = true;
      fetch(window.location.href, { credentials: "same-origin", redirect: "manual", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.text();
        })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html").getElementById(region.id);
          if (fresh && fresh.innerHTML !== last) {
            last = fresh.innerHTML;
            region.innerHTML = fresh.innerHTML;
            localTimes(region);
            updates += 1;
            region.setAttribute("data-updates", String(updates));
          }
          say("Live: checked at " + new Date().toLocaleTimeString());
        }, function () {
          say("Live updates paused: reload the page to resume.");
          clearInterval(timer);
        })
        .then(function () { busy = false; });
    }
    var timer = setInterval(tick, every);
    say("Live: this list refreshes every " + Math.round(every / 1000) + " s.");
  }

  function ready() {
    live();
    localTimes(document);
    authKinds();
    destinationKinds();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
