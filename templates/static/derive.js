/* leadgate derive.js: fills the fields the form derives from other answers
 * as the consumer types them (README, "Fewer questions"): the state from
 * the ZIP code, the driver's license state from the home state, the home
 * phone from the mobile, the last pay date from the next one and the pay
 * frequency, and (es) the house number typed at the end of the street.
 * The rules are the server's (gateway/form/derive.go), which derives a
 * field left empty at submit when this script does not run. A derived
 * value is only a suggestion: a field the consumer typed into is theirs,
 * and never changed again. */
(function () {
  "use strict";
  var form = document.querySelector("form.apply");
  if (!form) return;

  // The state of each 3-digit ZIP prefix, two letters per prefix from 000
  // to 999 ("--": none, or not a state), and the ZIP codes whose state is
  // not their prefix's: generated from providers/zipstate.go, and checked
  // against it by TestDeriveJSZIPTable.
  var ZIPS = "----------NY--------MAMAMAMAMAMAMAMAMAMAMAMAMAMAMAMAMAMARIRINHNHNHNHNHNHNHNHNHMEMEMEMEMEMEMEMEMEMEMEVTVTVTVTVTMAVTVTVTVTCTCTCTCTCTCTCTCTCTCTNJNJNJNJNJNJNJNJNJNJNJNJNJNJNJNJNJNJNJNJ--------------------NYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYNYPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPAPADEDEDEDCVADCDCDCDCMDMDMDMDMDMDMD--MDMDMDMDMDMDVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAVAWVWVWVWVWVWVWVWVWVWVWVWVWVWVWVWVWVWVWVWVWVWV--NCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCSCSCSCSCSCSCSCSCSCSCGAGAGAGAGAGAGAGAGAGAGAGAGAGAGAGAGAGAGAGAFLFLFLFLFLFLFLFLFLFLFLFLFLFLFLFLFLFLFLFL--FLFL--FL--FLFL--FLALALAL--ALALALALALALALALALALALALALALALALTNTNTNTNTNTNTNTNTNTNTNTNTNTNTNTNMSMSMSMSMSMSMSMSMSMSMSMSGAGAKYKYKYKYKYKYKYKYKYKYKYKYKYKYKYKYKYKYKY--KYKYKYKYKYKYKYKY----OHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHOHININININININININININININININININININININMIMIMIMIMIMIMIMIMIMIMIMIMIMIMIMIMIMIMIMIIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIA------IAIAIAIAIAIAIAIAIA--WIWIWI--WIWI--WIWIWIWIWIWIWIWIWIWIWIWIWIMNMN--MNMNMNMNMNMNMNMNMNMNMNMNMNMNMN--DCSDSDSDSDSDSDSDSD----NDNDNDNDNDNDNDNDND--MTMTMTMTMTMTMTMTMTMTILILILILILILILILILILILILILILILILILILILILIL--ILILILILILILILILMOMO--MOMOMOMOMOMOMOMOMO----MOMOMOMOMOMOMOMOMOMOMOMOMOMOMO--KSKSKS--KSKSKSKSKSKSKSKSKSKSKSKSKSKSKSKSNENE--NENENENENENENENENENENE------------LALA--LALALALALALA--LALALALALA--ARARARARARARARARARARARARARAROKOK--TXOKOKOKOKOKOKOKOK--OKOKOKOKOKOKOKTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTX--TXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXTXCOCOCOCOCOCOCOCOCOCOCOCOCOCOCOCOCO------WYWYWYWYWYWYWYWYWYWYWYWYIDIDIDIDIDIDID--UTUTUTUTUTUTUTUT----AZAZAZAZ--AZAZAZ--AZAZ----AZAZAZ--------NMNM--NMNMNMNMNMNMNMNMNMNMNMNMTX------NVNVNV--NVNVNV--NVNV--CACACACACACACACACA--CACACACACACACACACACACACACACACACACACACA--CACACACACACACACACACACACACACACACACACACACACACACACACACACACACACACACA----------HIHI--ORORORORORORORORORORWAWAWAWAWAWAWA--WAWAWAWAWAWAWAAKAKAKAKAK";
  var EXCEPT = {"06390": "NY", "20588": "MD", "20598": "VA", "73960": "TX", "83414": "WY", "96799": ""};

  // The separators the server drops (formats.go sep and typedText): spaces,
  // dots, "-" and the hyphens and dashes phones and pasting give for it.
  var SEP = /[\s.\-\u2010\u2011\u2012\u2013\u2212\uFE63\uFF0D]/g;

  function stateOfZIP(zip) {
    var z = zip.replace(SEP, ""); // as the server: formats.go unseparated
    if (!/^\d{5}(\d{4})?$/.test(z)) return null;
    z = z.slice(0, 5);
    if (Object.prototype.hasOwnProperty.call(EXCEPT, z)) return EXCEPT[z];
    var s = ZIPS.substr(parseInt(z.slice(0, 3), 10) * 2, 2);
    return s === "--" ? "" : s;
  }

  function el(name) {
    var e = form.elements.namedItem(name);
    return e && e.tagName ? e : null;
  }

  // put suggests value for a derived field: only into one left empty or
  // filled by this script, and says so with a change event (which lets
  // fields derived from this one follow, and a draft be saved).
  function put(name, value) {
    var e = el(name);
    if (!e || (e.value !== "" && !e.hasAttribute("data-derived")) || e.value === value) return;
    if (e.tagName === "SELECT" && value !== "" && !e.querySelector('option[value="' + value + '"]')) return;
    e.value = value;
    if (value === "") e.removeAttribute("data-derived");
    else e.setAttribute("data-derived", "");
    e.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function day(s) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || "");
    return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
  }

  function lastPayDate() {
    var next = day((el("next_pay_date") || {}).value), freq = (el("pay_frequency") || {}).value, last = el("last_pay_date");
    if (!next || !last) return "";
    var back = { weekly: 7, biweekly: 14, twice_monthly: 15 }[freq];
    var d = new Date(next.getTime());
    if (back) d.setUTCDate(d.getUTCDate() - back);
    else if (freq === "monthly") d = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() - 1, next.getUTCDate()));
    else return "";
    var s = d.toISOString().slice(0, 10);
    if ((last.min && s < last.min) || (last.max && s > last.max)) return "";
    return s;
  }

  // The server's split (derive.go), on the street as typed: with the
  // letters and signs the server writes in Casheddy's alphabet ("C/ Mayor
  // 5", "Avda. de América 10", "Carrer de Sant Adrià 5").
  var STREET = /^\s*([a-záéèíñóúüçàòïìùâêîôû\s'’‘ʼ´.\/·-]*[a-záéèíñóúüçàòïìùâêîôû'’‘ʼ´.])\s*,?\s*(?:n[º°o]\.?\s*)?(\d+[a-záéèíñóúüç]?)\s*$/i;

  function splitStreet() {
    var street = el("address_line1"), house = el("house_number");
    if (!street || !house || (house.value !== "" && !house.hasAttribute("data-derived"))) return;
    var m = STREET.exec(street.value);
    if (!m) return;
    street.value = m[1];
    put("house_number", m[2]);
  }

  var rules = {
    postal_code: function (e) {
      var s = stateOfZIP(e.value);
      if (s !== null) put("state", s);
    },
    state: function (e) { put("drivers_license_state", e.value); },
    mobile_phone: function (e) { put("home_phone", e.value); },
    next_pay_date: function () { put("last_pay_date", lastPayDate()); },
    pay_frequency: function () { put("last_pay_date", lastPayDate()); }
  };

  function onEdit(ev) {
    var e = ev.target;
    if (!e || !e.name) return;
    // The consumer's own edit of a derived field makes it theirs.
    if (ev.isTrusted) e.removeAttribute("data-derived");
    if (rules[e.name]) rules[e.name](e);
    // The street is split once typed, not under the consumer's fingers.
    if (e.name === "address_line1" && ev.type === "change") splitStreet();
  }

  form.addEventListener("input", onEdit);
  form.addEventListener("change", onEdit);
  // Values already there (prefilled, restored, sent back) count too.
  ["postal_code", "state", "mobile_phone", "next_pay_date"].forEach(function (name) {
    var e = el(name);
    if (e && e.value !== "") rules[name](e);
  });
  splitStreet();
})();
