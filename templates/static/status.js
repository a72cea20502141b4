// Polls the application's status and follows the decision as soon as it is
// known; without JavaScript the page's meta refresh does the same, slower.
(function () {
  var el = document.querySelector('[data-status-url]');
  if (!el || !window.fetch) return;
  var url = el.getAttribute('data-status-url');
  function poll() {
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.status !== 'pending') { window.location.replace(window.location.href); return; }
        var line = document.querySelector('.checking');
        if (s && line && s.lender && s.lenders) {
          line.textContent = line.getAttribute('data-text').replace('{n}', s.lender).replace('{total}', s.lenders);
        }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})();
