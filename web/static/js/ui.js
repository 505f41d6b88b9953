// Small page behaviours every portal page loads (no inline scripts: the
// Content-Security-Policy forbids them):
//  - toasts: a Dismiss button; success and info messages fade by themselves
//    after a few seconds (not while hovered or focused); errors stay until
//    dismissed, since they say what to do next.
//  - filters marked data-fold-narrow fold away on a phone.
//  - times: <time datetime="...Z" data-time="relative|date|datetime"> is
//    rendered in UTC by the server and shown here in the viewer's time zone,
//    relative ("3 hours ago") or absolute, with the absolute time in its title.
(function () {
  "use strict";
  var FADE_AFTER = 8000;

  function armToasts(root) {
    var list = root.querySelectorAll ? root.querySelectorAll("[data-testid=toast]") : [];
    if (root.matches && root.matches("[data-testid=toast]")) list = [root];
    Array.prototype.forEach.call(list, function (t) {
      if (t.dataset.armed) return;
      t.dataset.armed = "1";
      var close = t.querySelector(".js-toast-close");
      if (close) close.classList.remove("hidden");
      if (t.dataset.kind === "error") return;
      var timer = null;
      var start = function () { timer = setTimeout(function () { leave(t); }, FADE_AFTER); };
      var stop = function () { clearTimeout(timer); };
      t.addEventListener("mouseenter", stop);
      t.addEventListener("focusin", stop);
      t.addEventListener("mouseleave", start);
      t.addEventListener("focusout", start);
      start();
    });
  }

  function leave(t) {
    t.classList.add("toast-leaving");
    setTimeout(function () { if (t.parentNode) t.parentNode.removeChild(t); }, 300);
  }

  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  // dateStyle and timeStyle cannot be combined with timeZoneName: spell the fields out.
  var absolute = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  var dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

  function relative(d) {
    var s = (d.getTime() - Date.now()) / 1000;
    var steps = [[60, "second"], [60, "minute"], [24, "hour"], [30, "day"], [12, "month"], [Infinity, "year"]];
    for (var i = 0; i < steps.length; i++) {
      if (Math.abs(s) < steps[i][0]) return rtf.format(Math.round(s), steps[i][1]);
      s /= steps[i][0];
    }
  }

  function localiseTimes(root) {
    var list = root.querySelectorAll ? root.querySelectorAll("time[data-time]") : [];
    Array.prototype.forEach.call(list, function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      var kind = el.dataset.time;
      if (kind === "date") {
        // A calendar date stays the UTC date it names; only its wording changes.
        el.textContent = dateOnly.format(new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
        return;
      }
      el.title = absolute.format(d);
      el.textContent = kind === "relative" && rtf ? relative(d) : absolute.format(d);
    });
  }

  // Filters fold away on a phone (they stay open without JavaScript and
  // whenever one of them is set).
  function foldFilters() {
    if (!window.matchMedia("(max-width: 639px)").matches) return;
    document.querySelectorAll("details[data-fold-narrow]").forEach(function (d) {
      var set = Array.prototype.some.call(d.querySelectorAll("select, input"), function (f) { return f.value !== ""; });
      if (!set) d.open = false;
    });
  }

  function refresh(root) { armToasts(root); localiseTimes(root); }
  document.addEventListener("DOMContentLoaded", function () { refresh(document); foldFilters(); });
  document.addEventListener("htmx:afterSettle", function (e) { refresh(e.target); refresh(document.getElementById("toasts") || document); });
  document.addEventListener("htmx:oobAfterSwap", function () { armToasts(document.getElementById("toasts") || document); });
  document.addEventListener("click", function (e) {
    var b = e.target.closest(".js-toast-close");
    if (b) leave(b.closest("[data-testid=toast]"));
  });
})();
