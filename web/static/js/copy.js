// Copy buttons for one-time keys: <button class="js-copy hidden" data-copy="#id">.
// The buttons stay hidden without JavaScript (the key can still be selected
// by hand); this file reveals them and copies the target's text on click.
(function () {
  "use strict";
  function reveal(root) {
    root.querySelectorAll(".js-copy").forEach(function (b) { b.classList.remove("hidden"); });
  }
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSettle", function (e) { reveal(e.target); });
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (!b) return;
    var el = document.querySelector(b.getAttribute("data-copy"));
    if (!el) return;
    var text = el.value !== undefined ? el.value : el.textContent;
    // Buttons copy keys, links and more: put back the button's own label.
    if (!b.dataset.label) b.dataset.label = b.textContent;
    var done = function () {
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = b.dataset.label; }, 2000);
    };
    // Where the clipboard is out of reach, select the text for a manual copy.
    var selectText = function () { if (typeof el.select === "function") el.select(); };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(text).then(done, selectText);
    } else {
      selectText();
    }
  });
})();
