// A long job's progress in the page: the element with data-progress-url is asked every second
// for {rows_done, total_rows, percent, status_label, running}; when the job is over the page
// reloads once to show its report.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) return;
  var url = box.dataset.progressUrl;
  function set(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (job) {
        set("import-status", job.status_label);
        set("import-rows", job.rows_done.toLocaleString());
        set("import-total", job.total_rows.toLocaleString());
        var bar = document.getElementById("import-bar");
        if (bar) { bar.value = job.percent; bar.textContent = job.percent + "%"; }
        if (job.running) window.setTimeout(poll, 1000);
        else window.location.reload();
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
