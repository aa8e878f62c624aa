/* Live feed: short polling. Every few seconds the open page asks /feed/events/?after=<newest id>
   for anything newer (two indexed queries on the server, nothing held open), prepends the rows
   the server rendered, and updates the unread counter in the navigation. Polling pauses while
   the tab is hidden and resumes at once when it is shown again. A burst bigger than one batch
   comes over back-to-back polls.
   "Show older" asks /feed/events/?before=<oldest id shown> for the next 50 older rows and
   appends them; without JavaScript it is a link to the same page of the feed. Older-event
   pages (/feed/?before=…) are history and do not poll.
   Words the script writes come from the page (data-live, data-reconnecting, data-loading), in
   the reader's language. */
(function () {
  "use strict";
  var list = document.getElementById("feed-events");
  if (!list) return;
  var empty = document.getElementById("feed-empty");
  var status = document.getElementById("feed-status");
  var older = document.getElementById("feed-older");
  var olderWrap = document.getElementById("feed-more");
  var baseUrl = list.dataset.url;
  var fetchOptions = {
    headers: { "X-Requested-With": "fetch", Accept: "application/json" },
    credentials: "same-origin",
    cache: "no-store",
  };
  var after = parseInt(list.dataset.after || "0", 10);
  var every = parseInt(list.dataset.pollSeconds || "2", 10) * 1000;
  var failures = 0;
  var timer = null;
  var inFlight = false;

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function setUnread(count) {
    var link = document.querySelector('.mainnav a[href$="/feed/"]');
    var badge = document.getElementById("feed-unread");
    if (!count || count === "0" || count === 0) {
      if (badge) badge.remove();
      return;
    }
    if (!badge && link) {
      badge = document.createElement("span");
      badge.className = "badge";
      badge.id = "feed-unread";
      link.appendChild(document.createTextNode(" "));
      link.appendChild(badge);
    }
    if (badge) badge.textContent = count > 99 ? "99+" : String(count);
  }

  function schedule(delay) {
    clearTimeout(timer);
    if (!document.hidden) timer = setTimeout(poll, delay);
  }

  function poll() {
    if (inFlight) return;
    inFlight = true;
    var more = false;
    fetch(baseUrl + "&after=" + after, fetchOptions)
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        status.textContent = status.dataset.live;
        status.classList.remove("offline");
        if (data.count > 0) {
          list.insertAdjacentHTML("afterbegin", data.html);
          Array.prototype.forEach.call(list.querySelectorAll("li.feed-event"), function (li, i) {
            if (i < data.count) li.classList.add("fresh");
          });
          after = data.last_id;
          list.dataset.after = String(after);
          if (empty) empty.hidden = true;
        }
        more = Boolean(data.more);
        setUnread(data.unread);
      })
      .catch(function () {
        failures += 1;
        status.textContent = status.dataset.reconnecting;
        status.classList.add("offline");
      })
      .finally(function () {
        inFlight = false;
        schedule(more ? 0 : Math.min(every * Math.pow(2, failures), 30000));
      });
  }

  function appendOlder(html) {
    // Rows already shown are skipped (a back-dated event may have come in through polling).
    var holder = document.createElement("template");
    holder.innerHTML = html;
    Array.prototype.forEach.call(holder.content.querySelectorAll("li.feed-event"), function (li) {
      if (!list.querySelector('li.feed-event[data-id="' + li.dataset.id + '"]')) {
        list.appendChild(li);
      }
    });
  }

  function showOlder(event) {
    event.preventDefault();
    if (older.getAttribute("aria-busy") === "true") return;
    var label = older.textContent;
    older.setAttribute("aria-busy", "true");
    older.textContent = older.dataset.loading;
    fetch(older.dataset.url + "&before=" + older.dataset.before, fetchOptions)
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        appendOlder(data.html);
        older.dataset.before = String(data.oldest_id);
        older.href = older.href.replace(/before=\d+/, "before=" + data.oldest_id);
        if (!data.more) olderWrap.hidden = true;
        older.removeAttribute("aria-busy");
        older.textContent = label;
      })
      .catch(function () { window.location.href = older.href; });
  }

  if (older) older.addEventListener("click", showOlder);

  function post(form) {
    return fetch(form.action, {
      method: "POST",
      headers: { "X-Requested-With": "fetch", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      body: new FormData(form),
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  list.addEventListener("submit", function (event) {
    var form = event.target.closest("form.feed-read");
    if (!form) return;
    event.preventDefault();
    post(form).then(function (data) {
      var item = form.closest("li.feed-event");
      if (item) item.classList.remove("unread", "fresh");
      form.remove();
      setUnread(data.unread);
    }).catch(function () { form.submit(); });
  });

  var readAll = document.getElementById("feed-read-all");
  if (readAll) {
    readAll.addEventListener("submit", function (event) {
      event.preventDefault();
      post(readAll).then(function (data) {
        Array.prototype.forEach.call(list.querySelectorAll("li.feed-event"), function (li) {
          if (li.querySelector("form.feed-read")) {
            li.classList.remove("unread", "fresh");
            li.querySelector("form.feed-read").remove();
          }
        });
        setUnread(data.unread);
      }).catch(function () { readAll.submit(); });
    });
  }

  if (!baseUrl) return; // an older-events page: history, not live
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) clearTimeout(timer);
    else schedule(0);
  });
  schedule(every);
})();
