/* leadgate prefill.js: fills a lender's own form from the Cashcat lead
 * behind the action_token in the page URL. No dependencies, no cookies.
 *
 *   <script src="https://GATEWAY/prefill.js" data-flow="us" defer></script>
 *
 * Inputs are matched by name or by data-prefill, using the canonical field
 * names. A field the consumer has already filled is never overwritten. If
 * the token is missing, malformed or unknown, the script does nothing. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var token = new URLSearchParams(location.search).get("action_token");
  if (!token || !/^[A-Za-z0-9]{16}$/.test(token)) return;
  var gateway = new URL(script.src, location.href).origin;
  var url = gateway + "/api/v1/prefill/" + encodeURIComponent(token);
  var flow = script.getAttribute("data-flow");
  if (flow) url += "?flow=" + encodeURIComponent(flow);

  function targets(name) {
    var sel = '[data-prefill="' + name + '"], [name="' + name + '"]';
    return Array.prototype.filter.call(document.querySelectorAll(sel), function (el) {
      return el.form || el.hasAttribute("data-prefill");
    });
  }

  function fill(el, value) {
    var tag = el.tagName.toLowerCase();
    var type = (el.getAttribute("type") || "").toLowerCase();
    if (type === "checkbox" || type === "radio") {
      if (el.value === value && !el.checked) el.checked = true; else return;
    } else if (tag === "select") {
      if (el.value) return;
      var ok = Array.prototype.some.call(el.options, function (o) { return o.value === value; });
      if (!ok) return;
      el.value = value;
    } else if (tag === "input" || tag === "textarea") {
      if (el.value) return; // what the consumer typed wins
      el.value = value;
    } else {
      el.textContent = value; // a display element marked data-prefill
      return;
    }
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }

  fetch(url, { mode: "cors", credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (body) {
      if (!body || !body.lead) return;
      Object.keys(body.lead).forEach(function (name) {
        targets(name).forEach(function (el) { fill(el, String(body.lead[name])); });
      });
      document.dispatchEvent(new CustomEvent("leadgate:prefilled", { detail: { fields: Object.keys(body.lead) } }));
    })
    .catch(function () { /* no prefill: the form works as it is */ });
})();
