// The daily report's Print button: shown only when scripts run, since it needs one.
"use strict";

(function () {
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
})();
