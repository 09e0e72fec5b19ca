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

  function ready() {
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
