/* leadgate sandbox: the form's "Fill with test values" button, served in
 * sandbox mode only. It fills every empty required field with a value the
 * emulators accept (sandbox.TestValues, README "Sandbox walk-through"),
 * leaves what the consumer typed, and never ticks a consent: a consent is
 * only ever given by the consumer's own click. */
(function () {
  "use strict";
  var values = /*TEST_VALUES*/{};
  var button = document.getElementById("test-fill");
  if (!button || !button.form) return;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // "-5d", "+9d": days from today, kept inside the input's own bounds.
  function resolve(el, v) {
    var m = /^([+-]\d+)d$/.exec(v);
    if (!m) return v;
    var d = new Date();
    d.setDate(d.getDate() + Number(m[1]));
    v = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    if (el.min && v < el.min) v = el.min;
    if (el.max && v > el.max) v = el.max;
    return v;
  }

  function changed(el) {
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }

  button.addEventListener("click", function () {
    var form = button.form;
    var table = values[button.getAttribute("data-form")] || {};
    var consent = null;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !el.required || el.disabled) return;
      if (el.type === "checkbox") {
        if (!el.checked && !consent) consent = el;
        return;
      }
      var v = table[el.name];
      if (v === undefined) return;
      if (el.type === "radio") {
        if (!form.querySelector('[name="' + el.name + '"]:checked') && el.value === v) {
          el.checked = true;
          changed(el);
        }
        return;
      }
      if (el.value !== "") return; // what the consumer typed wins
      el.value = resolve(el, v);
      changed(el);
    });
    // What is left is the consumer's to tick: take them there.
    if (consent) {
      // On a form in steps, the consent's step is shown first.
      consent.dispatchEvent(new CustomEvent("leadgate:show", { bubbles: true }));
      consent.focus();
    }
  });
})();
