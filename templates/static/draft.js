// draft.js keeps what the consumer types as the session's draft on the
// server (POST /draft), so that a reload, a crashed tab, the Back button
// or a return with the same session finds every value and the step again;
// and tells the step funnel, on pagehide, the step the consumer left on
// and the last field touched (POST /draft/left: names only). Nothing is
// kept in the browser (no localStorage, nothing in the URL), and a draft
// is never sent to a lender: only the form's own Send does that.
(function () {
  "use strict";
  var form = document.querySelector("form.apply");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var csrf = form.querySelector('input[name="csrf_token"]');
  if (!csrf) {
    return;
  }
  // Typing is saved once it pauses; a choice or a step change at once.
  var PAUSE = 400;
  var step = form.getAttribute("data-step") || "";
  var stepSeen = step !== "";
  var field = "";
  var touched = false;
  var sent = false;
  var timer = null;
  var inFlight = false;
  var again = false;

  // body is the form as it is now, with the step and the last field's
  // name: the server keeps only the form's own fields, never a consent.
  function body() {
    var p = new URLSearchParams();
    var data = new FormData(form);
    data.forEach(function (v, k) {
      if (k !== "submission_id" && typeof v === "string") {
        p.append(k, v);
      }
    });
    p.set("step", step);
    p.set("field", field);
    return p;
  }

  function save() {
    timer = null;
    if (sent) {
      return;
    }
    if (inFlight) {
      // One save at a time, so an older form never lands after a newer one.
      again = true;
      return;
    }
    inFlight = true;
    fetch("/draft", { method: "POST", body: body(), credentials: "same-origin", keepalive: true })
      .catch(function () {}) // a lost save costs a restore, never the form
      .then(function () {
        inFlight = false;
        if (again) {
          again = false;
          save();
        }
      });
  }

  function later(ms) {
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(save, ms);
  }

  function touch(e) {
    var name = e.target && e.target.name;
    if (!name || name === "csrf_token" || name === "submission_id") {
      return;
    }
    // The last field is the consumer's: not one derive.js filled from it
    // (the home phone from the mobile), nor a script's (the sandbox's
    // test fill). Their values are saved all the same.
    if (e.isTrusted) field = name;
    touched = true;
    later(e.type === "input" && e.target.type !== "radio" && e.target.type !== "checkbox" ? PAUSE : 0);
  }

  form.addEventListener("input", touch);
  form.addEventListener("change", touch);
  // The step UI says which step shows (also once on load, for the step it
  // opened on: not a change).
  form.addEventListener("leadgate:step", function (e) {
    var s = e.detail && e.detail.step;
    if (typeof s !== "string" || s === "") {
      return;
    }
    if (!stepSeen) {
      stepSeen = true;
      step = s;
      return;
    }
    if (s !== step) {
      step = s;
      touched = true;
      later(0);
    }
  });
  form.addEventListener("submit", function (e) {
    // Sending is not leaving, and the application replaces the draft.
    sent = true;
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    // Unless the page's own checks stop it (steps.js listens after this
    // script): the form is then still being filled, and saved.
    setTimeout(function () {
      if (e.defaultPrevented) {
        sent = false;
        later(0);
      }
    }, 0);
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) {
      sent = false; // back from the browser's cache: the form is live again
    }
  });
  window.addEventListener("pagehide", function () {
    if (sent || !navigator.sendBeacon) {
      return;
    }
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
      navigator.sendBeacon("/draft", body());
    }
    if (touched || form.getAttribute("data-step")) {
      var p = new URLSearchParams();
      p.set("csrf_token", csrf.value);
      if (form.elements.flow) {
        p.set("flow", form.elements.flow.value); // the flow this form is of
      }
      p.set("step", step);
      p.set("field", field);
      navigator.sendBeacon("/draft/left", p);
    }
  });
})();
