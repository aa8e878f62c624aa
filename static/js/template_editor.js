// The template editor: the preview follows the subject and body as they are typed (filled in
// from the chosen prospect), merge-field mistakes show under their field at once, and a merge
// field from the list goes in where the cursor is. Its own words come from the form's data-
// attributes, in the reader's language.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  if (!form) return;
  var body = form.querySelector("[name=body]");
  var prospect = document.getElementById("preview-prospect");
  var timer = null;
  var lastFocus = body;

  function show(id, text) {
    var el = document.getElementById(id);
    el.textContent = text || "";
    el.hidden = !text && el.tagName !== "PRE" && el.tagName !== "SPAN" && el.tagName !== "DIV";
  }

  function refresh() {
    var data = new FormData(form);
    data.append("prospect", prospect.value);
    fetch(form.dataset.previewUrl, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (result) {
        var errors = result.errors || {};
        show("subject-error", (errors.subject || []).join(" "));
        show("body-error", (errors.body || []).join(" "));
        if (!result.ok) return;
        show("preview-subject", result.subject);
        show("preview-text", result.text);
        var frame = document.getElementById("preview-html");
        frame.hidden = !result.html;
        frame.srcdoc = result.html || "";
        var empty = result.empty_fields || [];
        var fields = empty.join(", ");
        show("preview-empty", empty.length ? form.dataset.noValue.replace("{fields}", function () { return fields; }) : "");
      })
      .catch(function () {});
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  prospect.addEventListener("change", refresh);
  form.querySelectorAll("[name=subject], [name=body]").forEach(function (field) {
    field.addEventListener("focus", function () { lastFocus = field; });
  });
  document.querySelectorAll(".merge-insert").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = lastFocus;
      var tag = "{{ " + button.dataset.field + " }}";
      var start = field.selectionStart || 0;
      var end = field.selectionEnd || 0;
      field.value = field.value.slice(0, start) + tag + field.value.slice(end);
      field.focus();
      field.selectionStart = field.selectionEnd = start + tag.length;
      later();
    });
  });
  refresh();
})();
