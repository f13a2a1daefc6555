// Every page: feedback where the eye is, and a second thought before a destructive action.
//
// - A form sent back with a mistake: the first field in error is scrolled to the
//   middle of the screen and focused, so the manager sees the error at once (on a
//   phone the form may be 3,000 px below the top of the page).
// - Otherwise an error message at the top of the page takes the focus.
// - A form with data-confirm asks that question first; "Cancel" sends nothing.
// Without scripts everything still works: the server checks every form itself.
(function () {
  "use strict";

  function bringIntoView(target, focusable) {
    target.scrollIntoView({ block: "center" });
    focusable.focus({ preventScroll: true });
  }

  function showFirstProblem() {
    const field = document.querySelector(".has-error");
    if (field) {
      const input = field.querySelector("input:not([type=hidden]), select, textarea");
      const error = field.querySelector(".field-error");
      if (input) {
        bringIntoView(error || input, input);
        return;
      }
    }
    const flash = document.querySelector(".flash-error");
    if (flash) {
      flash.setAttribute("tabindex", "-1");
      bringIntoView(flash, flash);
    }
  }

  document.addEventListener("submit", (event) => {
    const question = event.target.dataset ? event.target.dataset.confirm : null;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showFirstProblem);
  } else {
    showFirstProblem();
  }
})();
