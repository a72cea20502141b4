/* leadgate steps.js: the application form one step at a time (README,
 * "The application in steps"). The page is one <form> posting every field
 * to /apply; without this script every step shows at once and the browser
 * checks the form as it always did. With it: one step shows, with its
 * progress, Next and Back; a step is checked before moving on with the
 * catalog's own message per field (data-m-* attributes); the browser's
 * Back and Forward move between steps (history state, kept by a reload);
 * a prefilled identity shows as a card; derived fields show as one line
 * and empty optional ones behind a button, so that a step fits 1.5 phone
 * screens; the last step lists what will be sent. Each change of step
 * dispatches "leadgate:step" on the form. A one-page form (an experiment's
 * layout) is checked as a whole on Send, with the same words and summary,
 * and has none of the steps' own parts. */
(function () {
  "use strict";
  var form = document.querySelector("form.apply");
  if (!form || !window.history || !history.replaceState || !form.closest) return;
  var onePage = !form.classList.contains("stepped");
  var steps = onePage ? [form] : Array.prototype.slice.call(form.querySelectorAll(".step"));
  if (!onePage && steps.length < 2) return;
  var send = form.querySelector("button.send");
  var progress = form.querySelector(".progress");
  var current = -1;
  var lang = document.documentElement.lang || "en";
  var lead = document.querySelector("main .lead");

  function t(key, params) {
    var s = form.getAttribute("data-t-" + key) || "";
    return s.replace(/\{(\w+)\}/g, function (m, k) { return params && k in params ? params[k] : m; });
  }
  function keyOf(i) { return steps[i].getAttribute("data-step-key"); }
  function indexOf(key) {
    for (var i = 0; i < steps.length; i++) if (keyOf(i) === key) return i;
    return -1;
  }
  function stepOf(el) { return steps.indexOf(el && el.closest(".step")); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- checking a step with the catalog's words ----

  // controls are a step's inputs the browser checks, one per radio group.
  function controls(step) {
    var seen = {};
    return Array.prototype.filter.call(step.querySelectorAll("input, select, textarea"), function (c) {
      if (!c.name || c.type === "hidden" || !c.willValidate) return false;
      if (c.type === "radio") {
        if (seen[c.name]) return false;
        seen[c.name] = true;
      }
      return true;
    });
  }
  function messages(c) {
    // A radio group's messages are on its first radio.
    return c.type === "radio" ? form.querySelector('[name="' + c.name + '"][data-m-missing]') || c : c;
  }
  function message(c) {
    var v = c.type === "radio" ? (form.querySelector('[name="' + c.name + '"]:checked') ? { valid: true } : c.validity) : c.validity;
    var m = messages(c);
    function say(k) { return m.getAttribute("data-m-" + k) || ""; }
    // The server trims a value before counting it: " Li" is two letters.
    if (v.valid && c.minLength > 0 && c.value.trim().length < c.minLength) return say("short");
    if (v.valid) return checks(c) ? "" : say("check");
    var s = (v.valueMissing && say("missing")) || (v.badInput && (say("bad") || say("type"))) ||
      (v.typeMismatch && say("type")) || (v.patternMismatch && say("pattern")) || (v.tooShort && say("short")) ||
      (v.tooLong && say("long")) || ((v.rangeUnderflow || v.rangeOverflow) && say("range"));
    return s || c.validationMessage;
  }
  // SEP: the separators the server drops (formats.go sep and typedText):
  // spaces, dots, "-" and the hyphens and dashes phones and pasting give.
  var SEP = /[\s.\-\u2010\u2011\u2012\u2013\u2212\uFE63\uFF0D]/g;
  // checks runs the checksum data-check names on a value of the right
  // shape, as the server normalizes it (formats.go: separators dropped,
  // upper case): a mistyped digit shows at Next, not after Send.
  function checks(c) {
    var name = c.getAttribute("data-check");
    if (!name || !c.value || !CHECKS[name]) return true;
    return CHECKS[name](c.value.replace(SEP, "").toUpperCase());
  }
  // CHECKS: the server's Check of each format (formats.go), written
  // again; TestClientChecksumsAgreeWithServer runs both on the same values.
  var CHECKS = {
    es_id: function (id) { // DNI, NIE or CIF: its control character
      if (id.length < 9) return false;
      var L = "TRWAGMYFPDXBNJZSQVHLCKE", first = id.charAt(0), body = id.slice(1, -1), control = id.charAt(id.length - 1);
      if (first >= "0" && first <= "9") return L.charAt(Number(id.slice(0, -1)) % 23) === control;
      if ("KLM".indexOf(first) >= 0) return L.charAt(Number(body) % 23) === control;
      if ("XYZ".indexOf(first) >= 0) return L.charAt(Number("XYZ".indexOf(first) + body) % 23) === control;
      var sum = 0;
      for (var i = 0; i < 7; i++) {
        var n = Number(id.charAt(i + 1));
        if (i % 2 === 0) { n *= 2; n = Math.floor(n / 10) + n % 10; }
        sum += n;
      }
      var d = (10 - sum % 10) % 10, digit = String(d), letter = "JABCDEFGHI".charAt(d), got = id.charAt(8);
      if ("PQRSNW".indexOf(first) >= 0) return got === letter;
      if ("ABEH".indexOf(first) >= 0) return got === digit;
      return got === digit || got === letter;
    },
    es_iban: function (s) { // ISO 13616: mod 97 of the rearranged number is 1
      if (s.length < 15) return false;
      var t = s.slice(4) + s.slice(0, 4), r = 0;
      for (var i = 0; i < t.length; i++) {
        var ch = t.charCodeAt(i);
        if (ch >= 48 && ch <= 57) r = (r * 10 + ch - 48) % 97;
        else if (ch >= 65 && ch <= 90) r = (r * 100 + ch - 55) % 97;
        else return false;
      }
      return r === 1;
    },
    ssn: function (s) { // not one the SSA never issues
      return s.length === 9 && s.slice(0, 3) !== "000" && s.slice(0, 3) !== "666" && s.charAt(0) !== "9" &&
        s.slice(3, 5) !== "00" && s.slice(5) !== "0000";
    },
    aba: function (s) { // 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9), a multiple of 10
      if (!/^\d{9}$/.test(s)) return false;
      var w = [3, 7, 1], sum = 0;
      for (var i = 0; i < 9; i++) sum += w[i % 3] * Number(s.charAt(i));
      return sum % 10 === 0;
    }
  };
  // CHECKS end
  function fieldOf(c) { return c.closest(".field"); }
  function idOf(c) { return c.type === "radio" ? "f-" + c.name : c.id; }
  function describedBy(c) { return c.type === "radio" ? c.closest("fieldset") : c; }
  function setError(c, msg) {
    var field = fieldOf(c), id = idOf(c) + "-error", p = document.getElementById(id), target = describedBy(c);
    var ids = (target.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x && x !== id; });
    if (msg) {
      if (!p) {
        p = el("p", "error");
        p.id = id;
        field.appendChild(p);
      }
      p.textContent = msg;
      ids.push(id);
      field.classList.add("has-error");
      if (c.type !== "radio") c.setAttribute("aria-invalid", "true");
    } else {
      if (p) p.parentNode.removeChild(p);
      field.classList.remove("has-error");
      c.removeAttribute("aria-invalid");
    }
    if (ids.length) target.setAttribute("aria-describedby", ids.join(" ")); else target.removeAttribute("aria-describedby");
  }
  function labelOf(field) {
    var short = field.getAttribute("data-short");
    if (short) return short;
    var l = field.querySelector("label, legend");
    if (!l) return "";
    var copy = l.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll(".opt"), function (o) { o.parentNode.removeChild(o); });
    return copy.textContent.trim();
  }

  // check shows each problem of step beside its field and in a summary at
  // the top of the step; it says whether the step is fine.
  function check(step) {
    var bad = [];
    controls(step).forEach(function (c) {
      var msg = message(c);
      setError(c, msg);
      if (msg) bad.push({ c: c, msg: msg });
    });
    var old = step.querySelector(".step-alert");
    if (old) old.parentNode.removeChild(old);
    if (!bad.length) return true;
    var box = el("div", "alert step-alert");
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.appendChild(el("p", "", t("alert")));
    var ul = el("ul");
    bad.forEach(function (b) {
      var a = el("a", "", labelOf(fieldOf(b.c)) + ": " + b.msg);
      a.href = "#" + idOf(b.c);
      ul.appendChild(el("li")).appendChild(a);
    });
    box.appendChild(ul);
    var title = step.querySelector(".step-title");
    if (title) title.parentNode.insertBefore(box, title.nextSibling);
    else step.insertBefore(box, step.querySelector(".step")); // one page: above its fields
    // The fields of a collapsed confirm card are shown when one is wrong.
    if (step.querySelector(".confirm-hidden.has-error")) expandCard();
    return false;
  }

  // ---- showing a step ----

  function show(i, focus) {
    current = i;
    steps.forEach(function (s, j) { s.hidden = j !== i; });
    var last = i === steps.length - 1;
    form.classList.toggle("on-last", last);
    // "We have filled in what you already gave us" is the first step's.
    if (lead) lead.hidden = i > 0;
    progress.querySelector(".progress-text").textContent = t("progress", { n: i + 1, total: steps.length });
    progress.querySelector(".bar span").style.width = Math.round(((i + 1) * 100) / steps.length) + "%";
    if (last) review();
    if (focus) {
      window.scrollTo(0, 0);
      steps[i].querySelector(".step-title").focus();
    }
    form.dispatchEvent(new CustomEvent("leadgate:step", { bubbles: true, detail: { step: keyOf(i) } }));
  }
  // go moves to step i as a new history entry: the browser's Back returns.
  function go(i, focus) {
    if (i !== current) history.pushState({ step: keyOf(i) }, "", location.href);
    show(i, focus);
  }
  if (!onePage) window.addEventListener("popstate", function (e) {
    var i = e.state && e.state.step ? indexOf(e.state.step) : 0;
    show(i < 0 ? 0 : i, true);
  });

  form.addEventListener("click", function (e) {
    var b = e.target.closest("button, a");
    if (!b) return;
    if (b.hasAttribute("data-next")) {
      if (check(steps[current])) go(current + 1, true);
      else steps[current].querySelector(".step-alert").focus();
    } else if (b.hasAttribute("data-back")) {
      go(Math.max(current - 1, 0), true);
    } else if (b.hasAttribute("data-goto")) {
      go(Number(b.getAttribute("data-goto")), true);
    } else if (b.hasAttribute("data-expand")) {
      expandCard();
    }
  });
  // A summary line (the server's or a step's) opens the step of its field.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest('.alert a[href^="#f-"]');
    if (!a) return;
    var target = document.getElementById(a.getAttribute("href").slice(1));
    if (!target) return;
    e.preventDefault();
    reveal(target);
    var focusable = target.matches("fieldset") ? target.querySelector("input") : target;
    focusable.focus();
  });
  function reveal(target) {
    var i = stepOf(target);
    if (i >= 0 && i !== current) go(i, false);
    if (target.closest(".confirm-hidden")) expandCard();
  }
  // Another script (the sandbox's test fill) asks to show a field.
  form.addEventListener("leadgate:show", function (e) { reveal(e.target); });

  // ---- the confirm card of a prefilled identity ----

  var cardFields = ["first_name", "middle_name", "last_name", "birth_date"];
  function val(name) {
    var c = form.elements[name];
    return c && c.value ? c.value.trim() : "";
  }
  function formatDate(ymd, month) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
    if (!m || !window.Intl) return ymd;
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return new Intl.DateTimeFormat(lang, { day: "numeric", month: month || "long", year: "numeric", timeZone: "UTC" }).format(d);
  }
  function card() {
    var box = steps[0].querySelector(".confirm");
    if (!box || !form.hasAttribute("data-prefilled")) return;
    var name = [val("first_name"), val("middle_name"), val("last_name")].filter(Boolean).join(" ");
    var inputs = cardFields.map(function (n) { return form.elements[n]; }).filter(Boolean);
    var fine = inputs.every(function (c) { return stepOf(c) === 0 && c.validity.valid && !fieldOf(c).classList.contains("has-error"); });
    if (!val("first_name") || !val("last_name") || !fine) return;
    var parts = [name];
    if (val("birth_date")) parts.push(t("born", { date: formatDate(val("birth_date")) }));
    if (val("city")) parts.push(val("city"));
    box.appendChild(el("p", "confirm-text", parts.join(" · ")));
    var change = el("button", "link", t("change"));
    change.type = "button";
    change.setAttribute("data-expand", "");
    box.appendChild(change);
    box.hidden = false;
    inputs.forEach(function (c) {
      fieldOf(c).classList.add("confirm-hidden");
      fieldOf(c).hidden = true;
    });
  }
  function expandCard() {
    var box = steps[0].querySelector(".confirm");
    Array.prototype.forEach.call(form.querySelectorAll(".confirm-hidden"), function (f) { f.hidden = false; });
    if (box && !box.hidden) {
      box.hidden = true;
      var first = form.elements.first_name;
      if (first && stepOf(first) === current) first.focus();
    }
  }

  // ---- fewer lines per step ----

  // The fields derive.js fills from a required answer (the state from the
  // ZIP code, the license state from the state, the home phone from the
  // mobile, the last pay date from the next one) show as one line: the
  // label, the value or where it comes from, and Change, which opens the
  // field. A field with an error opens by itself (app.css).
  var derived = ["state", "drivers_license_state", "home_phone", "last_pay_date"];
  function derivedRows() {
    derived.forEach(function (name) {
      var c = form.elements[name];
      if (!c || !c.tagName || !fieldOf(c) || stepOf(c) < 0) return;
      var field = fieldOf(c), hint = field.querySelector(".hint");
      if (field.classList.contains("has-error")) return;
      var row = el("p", "derived-row");
      var value = el("span", "derived-value");
      row.appendChild(el("span", "derived-label", labelOf(field)));
      row.appendChild(value);
      var change = el("button", "link", t("change"));
      change.type = "button";
      change.setAttribute("aria-label", t("change-step", { step: labelOf(field) }));
        row.appendChild(change);
      field.insertBefore(row, field.firstChild);
      field.classList.add("derived-field");
      function update() {
        var v = shown(field, "short");
        value.textContent = v || (hint ? hint.textContent : "");
        value.classList.toggle("derived-empty", !v);
      }
      update();
      c.addEventListener("change", update);
      change.addEventListener("click", function () {
        field.classList.remove("derived-field");
        row.parentNode.removeChild(row);
        c.focus();
      });
    });
  }

  // An optional field still empty waits behind a one-line button in its
  // place ("+ Apartment or suite (optional)"): most consumers skip it. A
  // value, or an error, keeps the field open.
  function optionalFields() {
    Array.prototype.forEach.call(form.querySelectorAll(".step .section > .field"), function (f) {
      var c = f.querySelector("input, select"), opt = f.querySelector(".opt");
      if (!c || !opt || c.type === "checkbox" || c.type === "radio" || c.required || c.hasAttribute("data-m-missing") ||
        c.value || f.classList.contains("has-error") || f.classList.contains("confirm-hidden")) return;
      var button = el("button", "link more-button", "+ " + labelOf(f) + " " + opt.textContent);
      button.type = "button";
      button.setAttribute("aria-controls", f.id = c.id + "-field");
      f.hidden = true;
      f.parentNode.insertBefore(button, f);
      button.addEventListener("click", function () {
        f.hidden = false;
        button.parentNode.removeChild(button);
        c.focus();
      });
    });
  }

  // ---- the review of what will be sent ----

  // shown is a field's answer as a person reads it (a date with its month
  // short when month says so, for a line that must fit).
  function shown(field, month) {
    var c = field.querySelector("input, select");
    if (!c) return "";
    if (c.tagName === "SELECT") return c.selectedIndex > 0 ? c.options[c.selectedIndex].text : "";
    if (c.type === "radio") {
      var on = field.querySelector("input:checked");
      return on ? on.parentNode.textContent.trim() : "";
    }
    if (c.type === "checkbox") return c.checked ? t("yes") : "";
    if (c.type === "date") return c.value ? formatDate(c.value, month) : "";
    var v = c.value.trim(), unit = field.getAttribute("data-shown");
    if (!v) return "";
    if (c.type === "number" && /^\d+$/.test(v) && window.Intl) v = new Intl.NumberFormat(lang).format(Number(v));
    return unit ? unit.replace("{v}", v) : v;
  }
  // review lists what will be sent, one group per step, each a line that
  // fits (the step's title and the start of its answers) with its Change;
  // the group opens into every answer, label and value side by side. So
  // the review with the consents stays within 1.5 screens of a phone.
  function review() {
    var box = form.querySelector(".review");
    if (!box) return;
    var open = {};
    Array.prototype.forEach.call(box.querySelectorAll("details[open]"), function (d) { open[d.getAttribute("data-i")] = true; });
    box.textContent = "";
    steps.slice(0, -1).forEach(function (s, i) {
      var title = s.querySelector(".step-title").textContent;
      var group = el("section", "review-group");
      var details = el("details");
      details.setAttribute("data-i", String(i));
      details.open = !!open[i];
      var summary = el("summary");
      summary.appendChild(el("span", "review-title", title));
      var dl = el("dl"), values = [];
      Array.prototype.forEach.call(s.querySelectorAll(".field"), function (f) {
        var v = shown(f);
        if (!v) return;
        // A bank account or an SSN: its end is enough to recognise it,
        // and the whole number stays off a screen read over shoulders.
        if (f.hasAttribute("data-secret")) v = t("ending", { last: v.replace(SEP, "").slice(-4) });
        values.push(v);
        var row = el("div");
        row.appendChild(el("dt", "", labelOf(f)));
        row.appendChild(el("dd", "", v));
        dl.appendChild(row);
      });
      summary.appendChild(el("span", "review-preview", values.join(" · ")));
      details.appendChild(summary);
      details.appendChild(dl);
      group.appendChild(details);
      var change = el("button", "link", t("change"));
      change.type = "button";
      change.setAttribute("data-goto", String(i));
      change.setAttribute("aria-label", t("change-step", { step: title }));
      group.appendChild(change);
      box.appendChild(group);
    });
    box.hidden = false;
  }

  // A field shown wrong is checked again as the consumer corrects it: its
  // message, and its line in the step's summary (or the server's), go as
  // soon as the value is fine. A new mistake waits for Next, as before.
  function recheck(e) {
    var c = e.target, field = c.name && fieldOf(c);
    if (!field || !field.classList.contains("has-error") || message(c)) return;
    setError(c, "");
    var href = '[href="#' + idOf(c) + '"]';
    Array.prototype.forEach.call(document.querySelectorAll(".step-alert, #form-alert"), function (box) {
      var a = box.querySelector("li > a" + href);
      if (!a) return;
      a.parentNode.parentNode.removeChild(a.parentNode);
      if (!box.querySelector("li")) box.parentNode.removeChild(box);
    });
  }
  form.addEventListener("input", recheck);
  form.addEventListener("change", recheck);

  // ---- sending ----

  form.addEventListener("submit", function (e) {
    for (var i = 0; i < steps.length; i++) {
      if (!check(steps[i])) {
        e.preventDefault();
        if (!onePage) go(i, false);
        steps[i].querySelector(".step-alert").focus();
        return;
      }
    }
    // At once, and until the answer: a second press sends nothing twice.
    send.disabled = true;
    send.setAttribute("aria-disabled", "true");
    send.textContent = t("sending");
  });
  var sendText = send.textContent;
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) { // back from the next page: the button works again
      send.disabled = false;
      send.removeAttribute("aria-disabled");
      send.textContent = sendText;
    }
  });

  // ---- start ----

  // Every check is this script's own, in the catalog's words; the browser's
  // bubble cannot point at a field on a hidden step.
  form.noValidate = true;
  if (onePage) return;
  form.classList.add("js-steps");
  progress.hidden = false;
  Array.prototype.forEach.call(form.querySelectorAll(".step-nav"), function (n) { n.hidden = false; });
  card();
  derivedRows();
  optionalFields();
  // The step to open: the first error's after a 422, else the one history
  // remembers (a reload, Back from the next page), else the draft's.
  var alert = document.getElementById("form-alert");
  var firstError = alert && alert.querySelector('a[href^="#f-"]');
  var target = firstError && document.getElementById(firstError.getAttribute("href").slice(1));
  var start = target ? stepOf(target) : -1;
  if (start < 0 && history.state && history.state.step) start = indexOf(history.state.step);
  if (start < 0 && form.getAttribute("data-step")) start = indexOf(form.getAttribute("data-step"));
  if (start < 0) start = 0;
  history.replaceState({ step: keyOf(start) }, "", location.href);
  show(start, false);
  if (alert && target) alert.focus();
})();
