// The enrol page: every 2 s, asks which unknown card the locker read since the page
// opened, and offers it. Text only goes in through textContent.
"use strict";

(function () {
  const box = document.getElementById("enrol");
  if (!box || !box.dataset.cardUrl) {
    return;
  }
  const INTERVAL_MS = 2000;
  const waiting = document.getElementById("enrol-waiting");
  const found = document.getElementById("enrol-card");
  const taken = document.getElementById("enrol-card-taken");
  const give = document.getElementById("enrol-give-form");

  function render(card) {
    waiting.hidden = Boolean(card);
    found.hidden = !card;
    if (!card) {
      taken.hidden = true;
      give.hidden = true;
      return;
    }
    document.getElementById("enrol-card-uid").textContent = card.uid;
    document.getElementById("enrol-card-time").textContent = card.seen_local;
    document.getElementById("enrol-give-uid").value = card.uid;
    taken.textContent = card.taken || "";
    taken.hidden = !card.taken;
    give.hidden = Boolean(card.taken);
  }

  async function refresh() {
    try {
      const response = await fetch(box.dataset.cardUrl, {
        headers: { Accept: "application/json", "X-Panel-Poll": "1" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.redirected || response.status === 401) {
        window.location.reload();  // logged out: the page sends to the login form
        return;
      }
      if (response.ok) {
        render((await response.json()).card);
      }
    } catch (error) {
      // The next refresh tries again; the typed-UID form works meanwhile.
    }
    window.setTimeout(refresh, INTERVAL_MS);
  }

  window.setTimeout(refresh, INTERVAL_MS);
})();
