// Keeps the status page current: fetches /api/status every few seconds and redraws
// the slots, alerts, shifts and banners. Text only goes in through textContent.
"use strict";

(function () {
  const main = document.getElementById("main");
  if (!main || !main.dataset.statusUrl) {
    return;
  }
  const INTERVAL_MS = 2500;
  const canAct = main.dataset.canAct === "yes";
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const drawn = {};

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(name, value === true ? "" : value);
      }
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== "") {
        node.append(child);
      }
    }
    return node;
  }

  function slotCell(s) {
    const n = s.number;
    let state = s.state_text;
    if (s.reason_text && s.state !== "free") {
      state += " · " + s.reason_text;
    }
    let since = s.since_local ? "Since " + s.since_local : "";
    if (s.return_due_local) {
      since += " · due back " + s.return_due_local;
    }
    const cell = el("li", {
      class: "slot state-" + s.state, id: "slot-" + n, "data-testid": "slot-" + n, "data-state": s.state,
    },
      el("div", { class: "slot-head" },
        el("span", { class: "slot-number" }, "Slot " + s.label),
        el("span", { class: "slot-kind" }, s.kind_text)),
      el("p", { class: "slot-state", "data-testid": "slot-" + n + "-state" }, state),
      el("p", { class: "slot-occupant", "data-testid": "slot-" + n + "-occupant" }, s.occupant_text || "—"),
      el("p", { class: "slot-since", "data-testid": "slot-" + n + "-since" }, since),
      el("p", { class: "slot-sensors", "data-testid": "slot-" + n + "-sensors" }, s.sensors_text));
    if (canAct && s.state === "held") {
      const href = main.dataset.actionsUrl + "?slot=" + n + "#release-slot";
      cell.append(el("a", { class: "button small", href: href, "data-testid": "slot-" + n + "-release" }, "Release…"));
    }
    if (canAct && s.kind === "setting" && s.state === "free") {
      const href = main.dataset.actionsUrl + "?stock=" + n + "#stock";
      cell.append(el("a", { class: "button small", href: href, "data-testid": "slot-" + n + "-stock" }, main.dataset.stockWords));
    }
    return cell;
  }

  function alertItem(a) {
    let title = "";
    if (a.slot !== null) {
      title += " · slot " + a.slot;
    }
    if (a.person_name) {
      title += " · " + a.person_name;
    }
    title += " · " + a.raised_local;
    const item = el("li", {
      class: "alert severity-" + a.severity, id: "alert-" + a.id, "data-testid": "alert-" + a.id, "data-alert": a.alert,
    },
      el("p", { class: "alert-title" }, el("strong", {}, a.alert_text), title,
        a.resolved_at ? " · " : "", a.resolved_at ? el("em", {}, "cause ended") : ""));
    if (a.message) {
      item.append(el("p", { class: "alert-message" }, a.message));
    }
    if (canAct) {
      const action = main.dataset.ackUrl.replace(/\/0\/ack$/, "/" + a.id + "/ack");
      item.append(el("form", { method: "post", action: action },
        el("input", { type: "hidden", name: "csrf_token", value: csrfToken }),
        el("button", { type: "submit", class: "button", "data-testid": "ack-" + a.id }, "Acknowledge")));
    }
    return item;
  }

  // A group of operational alerts of one kind: one line that opens to the list.
  function alertGroup(g) {
    if (!g.text) {
      return alertItem(g.alerts[0]);
    }
    const item = el("li", { class: "alert-group severity-" + g.severity, "data-testid": "group-" + g.kind, "data-kind": g.kind },
      el("details", {},
        el("summary", { "data-testid": "group-" + g.kind + "-summary" }, el("strong", {}, g.text)),
        el("ul", { class: "alerts" }, ...g.alerts.map(alertItem))));
    if (canAct) {
      item.append(el("form", { method: "post", action: main.dataset.ackAllUrl },
        el("input", { type: "hidden", name: "csrf_token", value: csrfToken }),
        el("input", { type: "hidden", name: "kind", value: g.kind }),
        el("button", { type: "submit", class: "button", "data-testid": "ack-all-" + g.kind }, "Acknowledge all of this kind")));
    }
    return item;
  }

  function shiftRow(p) {
    return el("tr", {
      id: "shift-" + p.id, "data-testid": "shift-" + p.id,
      class: "device-" + p.device + (p.on_shift_now ? " now" : ""),
    },
      el("td", { "data-label": "Name" }, p.name),
      el("td", { "data-label": "Hours" }, p.hours_local),
      el("td", { "data-label": "Breaks" }, p.breaks_local || "—"),
      el("td", { "data-label": "Device", "data-testid": "shift-" + p.id + "-device" }, p.device_text));
  }

  // A screen reader hears what changed (the live region in base.html), not the whole grid.
  const lastState = {};
  function announceChanges(slots) {
    const said = [];
    for (const s of slots) {
      const before = lastState[s.number];
      lastState[s.number] = s.state;
      if (before !== undefined && before !== s.state) {
        said.push("Slot " + s.label + ": " + s.state_text + (s.occupant_text ? ", " + s.occupant_text : "") + ".");
      }
    }
    if (said.length) {
      document.getElementById("live-status").textContent = said.join(" ");
    }
  }

  // Redraw a part only when its data changed, so a button is not replaced under a finger.
  function redraw(key, data, draw) {
    const text = JSON.stringify(data);
    if (drawn[key] !== text) {
      drawn[key] = text;
      draw(data);
    }
  }

  function render(status) {
    document.getElementById("now").textContent = status.now_local;
    document.getElementById("banner-daemon").hidden = status.daemon.running;
    document.getElementById("banner-daemon-since").textContent = status.daemon.last_heartbeat_local
      ? "Last heard from at " + status.daemon.last_heartbeat_local + "."
      : "It has not started yet.";
    document.getElementById("banner-clock").hidden = status.clock_synchronised;
    document.getElementById("banner-storage").hidden = status.daemon.storage !== "failing";
    document.getElementById("banner-storage-why").textContent = status.daemon.storage_error || "";
    redraw("expired", status.expired_requests, (requests) => {
      const list = document.getElementById("expired-requests");
      list.replaceChildren(
        ...requests.map((r) => {
          const item = document.createElement("li");
          item.textContent = r.text;
          return item;
        }),
      );
      list.hidden = requests.length === 0;
    });
    redraw("slots", status.slots, (slots) => {
      announceChanges(slots);
      document.getElementById("slot-grid").replaceChildren(...slots.map(slotCell));
    });
    redraw("alerts", status.alert_groups, (groups) => {
      // Keep a group the manager opened open across redraws.
      const opened = new Set([...document.querySelectorAll(".alerts-section li details[open]")]
        .map((d) => d.parentElement.dataset.kind));
      const safety = groups.filter((g) => g.severity === "safety");
      const others = groups.filter((g) => g.severity !== "safety");
      document.getElementById("alert-list").replaceChildren(...safety.map(alertGroup));
      document.getElementById("other-alert-list").replaceChildren(...others.map(alertGroup));
      for (const d of document.querySelectorAll(".alerts-section li details")) {
        d.open = opened.has(d.parentElement.dataset.kind);
      }
      document.getElementById("no-alerts").hidden = groups.length > 0;
      document.getElementById("other-alerts").hidden = others.length === 0;
      document.getElementById("other-alerts-text").textContent = status.other_alerts.text;
      document.getElementById("other-alerts-kinds").textContent = status.other_alerts.kinds;
    });
    redraw("shifts", status.on_shift, (rows) => {
      document.getElementById("shift-rows").replaceChildren(...rows.map(shiftRow));
      document.getElementById("shift-table").hidden = rows.length === 0;
      document.getElementById("no-shifts").hidden = rows.length > 0;
    });
  }

  async function refresh() {
    try {
      const response = await fetch(main.dataset.statusUrl, {
        headers: { Accept: "application/json", "X-Panel-Poll": "1" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 401) {
        const next = encodeURIComponent(window.location.pathname);
        window.location.assign(main.dataset.loginUrl + "?next=" + next);
        return;
      }
      if (!response.ok) {
        throw new Error("status " + response.status);
      }
      render(await response.json());
      document.getElementById("banner-offline").hidden = true;
    } catch (error) {
      document.getElementById("banner-offline").hidden = false;
    }
    window.setTimeout(refresh, INTERVAL_MS);
  }

  // On a phone the operational alerts start folded into their one line: the safety
  // alerts and the bank are what fits on the first screen.
  if (window.matchMedia("(max-width: 40rem)").matches) {
    document.getElementById("other-alerts").open = false;
  }
  window.setTimeout(refresh, INTERVAL_MS);
})();
