// The outbox moves by itself while mail is on its way: every few seconds the page asks for
// itself again and swaps in the new rows, counts and notices, keeping the emails ticked.
// It stops once nothing is queued, throttled or sending (data-moving on #outbox-live), and
// waits while a form is being sent or the tab is hidden.
(function () {
  "use strict";
  var EVERY_MS = 4000;

  function live() { return document.getElementById("outbox-live"); }

  function countTicked() {
    var label = document.getElementById("outbox-selected");
    if (!label) return;
    var ticked = document.querySelectorAll("#outbox-form input[name=emails]:checked").length;
    // The words come from the page, in the reader's language.
    label.textContent = ticked ? label.dataset.some.replace("{count}", ticked) : label.dataset.none;
  }

  function refresh() {
    var region = live();
    if (!region || !region.dataset.moving) return;
    var busy = document.querySelector("form[data-submitting]");
    if (busy || document.hidden) { window.setTimeout(refresh, EVERY_MS); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (answer) { return answer.text(); })
      .then(function (html) {
        if (document.querySelector("form[data-submitting]")) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("outbox-live");
        if (!fresh) return;
        var ticked = {};
        region.querySelectorAll("input[name=emails]:checked").forEach(function (box) { ticked[box.value] = true; });
        region.innerHTML = fresh.innerHTML;
        region.dataset.moving = fresh.dataset.moving;
        region.querySelectorAll("input[name=emails]").forEach(function (box) { box.checked = !!ticked[box.value]; });
        countTicked();
      })
      .catch(function () {})
      .then(function () { if (live() && live().dataset.moving) window.setTimeout(refresh, EVERY_MS); });
  }

  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#outbox-form")) window.setTimeout(countTicked, 0);
  });
  window.setTimeout(refresh, EVERY_MS);
})();
