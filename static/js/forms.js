// Two habits for every form, declared in the template:
//   data-confirm="Question?"  asks before a destructive action; Cancel leaves everything as it was
//                             (on a form, on one of its submit buttons for that button only, or
//                             on a radio button, asked when it is the one chosen).
//   data-select-all="name"    on a checkbox: ticks or clears every checkbox called `name` in its
//                             form (a list's "select all").
//   data-busy="Working…"      a slow form disables its buttons and says what it is doing, so it
//                             cannot be sent twice (the server still guards against repeats).
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    // A choice that changes something says so on its radio button (data-confirm on the input).
    var chosen = form.querySelector("input[type=radio][data-confirm]:checked");
    var question = (event.submitter && event.submitter.dataset.confirm) ||
      (chosen && chosen.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.busy === undefined) return;
    form.dataset.submitting = "1";
    form.setAttribute("aria-busy", "true");
    // Disabled after this turn, so the pressed button's own name and value still go with the form.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
        button.dataset.label = button.textContent;
        button.disabled = true;
        if (button.tagName === "BUTTON") button.textContent = form.dataset.busy || "Working…";
      });
    }, 0);
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll || !box.form) return;
    box.form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]')
      .forEach(function (item) { if (!item.disabled) item.checked = box.checked; });
  });

  // Back from the next page (the browser's page cache): the form is usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button[disabled][data-label]").forEach(function (button) {
        button.disabled = false;
        button.textContent = button.dataset.label;
      });
    });
  });
})();
