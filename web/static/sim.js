// The simulator page: sends the person's moves to /api/sim/* as JSON (with the CSRF
// token), and every 1.5 s redraws the slots, lights and clock and adds new events to
// the log. Text only goes in through textContent.
"use strict";

(function () {
  const root = document.getElementById("sim");
  if (!root) {
    return;
  }
  const INTERVAL_MS = 1500;
  const LOG_KEEP = 40;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const timeZone = root.dataset.timezone;
  let afterId = Number(root.dataset.eventsAfter) || 0;

  const MACHINE_ACTORS = new Set(["", "daemon", "system", "controller"]);
  // The panel's own events (logins) carry real time, the rest the simulated clock.
  const REAL_TIME_KINDS = new Set((root.dataset.realTimeKinds || "").split(" "));

  function clockText(ts) {
    try {
      return new Date(ts).toLocaleTimeString("en-GB", { timeZone: timeZone });
    } catch (error) {
      return String(ts).slice(11, 19);
    }
  }

  // An event in the log page's words (kind_text and summary come from /api/events).
  function eventLine(e) {
    let line = e.kind_text;
    // The daemon and the system act on their own; a person or an account is worth naming.
    const actor = MACHINE_ACTORS.has(e.actor) ? "" : e.actor;
    const who = e.person_name || actor || "";
    const where = e.slot !== null && e.slot !== undefined ? "slot " + e.slot : "";
    const about = [who, where].filter(Boolean).join(", ");
    if (about) {
      line += " — " + about;
    }
    if (e.summary) {
      line += ": " + e.summary;
    }
    return line;
  }

  function setText(testId, text) {
    const node = root.querySelector('[data-testid="' + testId + '"]');
    if (node && node.textContent !== text) {
      node.textContent = text;
    }
    return node;
  }

  function setLight(id, on, onWord, offWord) {
    const node = document.getElementById(id);
    node.classList.toggle("on", on);
    node.dataset.on = on ? "yes" : "no";
    node.querySelector(".led-word").textContent = on ? onWord : offWord;
  }

  function yesNo(value, yes, no) {
    return value === null || value === undefined ? "?" : value ? yes : no;
  }

  function render(state) {
    document.getElementById("sim-down").hidden = state.running;
    setText("sim-now", state.now_local);
    setLight("sim-led-green", state.leds.green, "on", "off");
    setLight("sim-led-red", state.leds.red, "on", "off");
    setLight("sim-buzzer", state.buzzer, "sounding", "quiet");
    for (const s of state.slots) {
      const n = s.number;
      const cell = document.getElementById("sim-slot-" + n);
      if (!cell) {
        continue;
      }
      cell.className = "slot state-" + s.state;
      cell.dataset.state = s.state;
      setText("sim-state-" + n, s.state_text);
      setText("sim-occupant-" + n, s.occupant || "—");
      setText("sim-door-" + n, yesNo(s.door_open, "open", "closed"));
      setText("sim-device-" + n, yesNo(s.device_present, "in", "none"));
      const lock = setText("sim-lock-" + n, s.lock_energised ? "energised" : "not energised");
      lock.dataset.energised = s.lock_energised ? "yes" : "no";
      lock.classList.toggle("energised", s.lock_energised);
      setText("sim-unlocks-" + n, String(s.unlock_count));
      setText("sim-locked-" + n, yesNo(s.locked, "locked", "unlocked"));
      setText("sim-slot-led-" + n, s.led ? "on" : "off");
    }
  }

  function addEvents(events) {
    const list = document.getElementById("sim-log");
    for (const e of events) {
      const item = document.createElement("li");
      item.dataset.kind = e.kind;
      item.setAttribute("data-testid", "sim-event-" + e.id);
      if (e.kind === "badge.refused" || e.kind === "alert.raised" || e.kind === "badge.unknown") {
        item.className = "bad";
      }
      const when = document.createElement("time");
      when.dateTime = e.ts;
      when.textContent = clockText(e.ts);
      item.append(when, " ");
      if (REAL_TIME_KINDS.has(e.kind)) {
        const real = document.createElement("span");
        real.className = "real-time";
        real.textContent = "(real time) ";
        item.append(real);
      }
      item.append(eventLine(e));
      list.prepend(item);
    }
    while (list.children.length > LOG_KEEP) {
      list.lastElementChild.remove();
    }
    document.getElementById("sim-log-empty").hidden = list.children.length > 0;
  }

  async function getJson(url) {
    const response = await fetch(url, {
      headers: { Accept: "application/json", "X-Panel-Poll": "1" },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.status === 401) {
      window.location.reload();
      throw new Error("logged out");
    }
    if (!response.ok) {
      throw new Error("status " + response.status);
    }
    return response.json();
  }

  async function refresh() {
    try {
      render(await getJson(root.dataset.stateUrl));
      let more = true;
      while (more) {
        const page = await getJson(root.dataset.eventsUrl + "?limit=100&after_id=" + afterId);
        addEvents(page.events);
        afterId = page.next_after_id;
        more = page.more;
      }
      document.getElementById("sim-offline").hidden = true;
    } catch (error) {
      document.getElementById("sim-offline").hidden = false;
    }
  }

  function say(text, bad) {
    const message = document.getElementById("sim-message");
    message.textContent = text;
    message.classList.toggle("bad", Boolean(bad));
  }

  function setBusy(busy) {
    for (const button of root.querySelectorAll("button")) {
      button.disabled = busy;
    }
    root.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // crypto.randomUUID needs a secure context; a panel on a LAN is plain HTTP.
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function send(url, body) {
    setBusy(true);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken,
          // One key per click: a retried request is carried out once.
          "Idempotency-Key": newKey(),
        },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      let answer = {};
      try {
        answer = await response.json();
      } catch (error) {
        answer = { error: "the panel answered " + response.status };
      }
      say(answer.error || answer.message || "Done.", !response.ok);
    } catch (error) {
      say("Could not reach the panel: " + error.message, true);
    } finally {
      setBusy(false);
    }
    await refresh();
  }

  function randomUid() {
    const bytes = new Uint8Array(4);
    // 0x88 is the cascade tag of a longer UID: no card's UID starts with it.
    do {
      window.crypto.getRandomValues(bytes);
    } while (bytes[0] === 0x88);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
  }

  const badgeForm = document.getElementById("sim-badge-form");
  if (badgeForm) {
    badgeForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const typed = document.getElementById("sim-badge-uid").value.trim();
      const chosen = document.getElementById("sim-badge-select").value;
      const uid = typed || (chosen === "unknown" ? randomUid() : chosen);
      send(root.dataset.badgeUrl, { uid: uid });
    });
  }

  for (const button of root.querySelectorAll("button[data-slot]")) {
    button.addEventListener("click", () => {
      const url = root.dataset.slotUrl.replace(/\/0$/, "/" + button.dataset.slot);
      const body = button.dataset.door
        ? { door: button.dataset.door }
        : { device: button.dataset.device === "in" };
      send(url, body);
    });
  }

  for (const button of root.querySelectorAll("button[data-advance]")) {
    button.addEventListener("click", () => {
      send(root.dataset.clockUrl, { advance_s: Number(button.dataset.advance) });
    });
  }

  const toForm = document.getElementById("sim-to-form");
  if (toForm) {
    toForm.addEventListener("submit", (event) => {
      event.preventDefault();
      send(root.dataset.clockUrl, { to: document.getElementById("sim-to-time").value });
    });
  }

  async function poll() {
    await refresh();
    window.setTimeout(poll, INTERVAL_MS);
  }

  poll();
})();
