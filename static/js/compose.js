// Compose without round trips:
//  - "To" offers the rep's prospects as they type (name, company or address; the server's
//    /compose/recipients/ lookup, the same one the form makes without this script) and puts
//    the pick's id in the hidden `prospect` field. Arrow keys move, Enter picks, Escape closes.
//  - Choosing a template fills the subject and body at once from the templates the page
//    carries (#compose-templates); replacing text the rep changed asks first.
// Without the script the page works the same through its "Find" and "Use template" buttons.
// The words it writes come from the form's data- attributes, in the reader's language.
(function () {
  "use strict";
  var WAIT_MS = 150;

  var to = document.getElementById("id_to");
  var picked = document.getElementById("id_prospect");
  var list = document.getElementById("recipient-matches");
  var template = document.getElementById("id_template");
  var subject = document.getElementById("id_subject");
  var body = document.getElementById("id_body");
  var form = document.querySelector("form[data-recipients]");
  var words = form ? form.dataset : {};
  var contents = JSON.parse((document.getElementById("compose-templates") || {}).textContent || "{}");

  document.querySelectorAll("[data-without-script]").forEach(function (button) { button.hidden = true; });

  if (to && picked && list) {
    var timer = null, results = [], active = -1, asked = "";

    var close = function () {
      list.hidden = true;
      list.innerHTML = "";
      active = -1;
      to.setAttribute("aria-expanded", "false");
      to.removeAttribute("aria-activedescendant");
    };

    var choose = function (index) {
      var hit = results[index];
      if (!hit) return;
      picked.value = hit.id;
      to.value = hit.label;
      close();
      if (subject) subject.focus();
    };

    var highlight = function (index) {
      var items = list.querySelectorAll("li[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
      to.setAttribute("aria-activedescendant", items[active].id);
    };

    var show = function (found) {
      results = found;
      list.innerHTML = "";
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = words.noMatch.replace("{query}", function () { return asked; });
        list.appendChild(none);
      }
      found.forEach(function (hit, index) {
        var item = document.createElement("li");
        item.id = "recipient-" + hit.id;
        item.setAttribute("role", "option");
        item.dataset.index = index;
        item.textContent = hit.label;
        if (hit.company) {
          var company = document.createElement("span");
          company.className = "muted";
          company.textContent = " · " + hit.company;
          item.appendChild(company);
        }
        if (hit.invalid || hit.suppressed) {
          var flag = document.createElement("span");
          flag.className = "pill bad";
          flag.textContent = hit.invalid ? words.invalid : words.suppressed;
          item.appendChild(document.createTextNode(" "));
          item.appendChild(flag);
        }
        list.appendChild(item);
      });
      list.hidden = false;
      to.setAttribute("aria-expanded", "true");
      active = -1;
    };

    var search = function () {
      var query = to.value.trim();
      if (!query) { close(); return; }
      asked = query;
      fetch(list.closest("form").dataset.recipients + "?q=" + encodeURIComponent(query), {
        credentials: "same-origin",
      })
        .then(function (answer) { return answer.json(); })
        .then(function (data) { if (to.value.trim() === query) show(data.results || []); })
        .catch(function () {});
    };

    to.addEventListener("input", function () {
      picked.value = "";  // typed again: the earlier pick no longer stands
      window.clearTimeout(timer);
      timer = window.setTimeout(search, WAIT_MS);
    });
    to.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(active); }
      else if (event.key === "Escape") { close(); }
    });
    list.addEventListener("mousedown", function (event) {
      var item = event.target.closest("li[role=option]");
      if (!item) return;
      event.preventDefault();  // keep the focus in the field until the pick is made
      choose(Number(item.dataset.index));
    });
    to.addEventListener("blur", function () { window.setTimeout(close, 100); });
  }

  if (template && subject && body) {
    var filled = { subject: subject.value, body: body.value };
    var note = document.getElementById("template-filled");
    template.addEventListener("change", function () {
      var chosen = contents[template.value];
      if (!chosen) return;
      var changed = (subject.value && subject.value !== filled.subject) ||
        (body.value && body.value !== filled.body);
      if (changed && !window.confirm(words.replace.replace("{name}", function () { return chosen.name; }))) {
        return;
      }
      subject.value = chosen.subject;
      body.value = chosen.body;
      filled = { subject: chosen.subject, body: chosen.body };
      if (note) note.textContent = words.filled.replace("{name}", function () { return chosen.name; });
    });
  }
})();
