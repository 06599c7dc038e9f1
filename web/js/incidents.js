// Incidents: status colours, list items and the timeline. Which actions a user may take on a
// case comes from the server (the incident's `actions`), never from a table here.
import { h } from "./dom.js";
import { messageIn, t } from "./i18n.js";

// The case workflow's statuses, in order (gridmap/cases/workflow.py STATUSES).
export const STATUSES = ["reported", "registered", "dispatched", "handling", "handled", "verified", "closed", "evaluated"];

// Dark enough for white text on a badge (WCAG AA: at least 4.5:1; these are 5.1 to 7.1).
export const STATUS_COLOURS = {
  reported: "#a84300",
  registered: "#806600",
  dispatched: "#1f66a8",
  handling: "#7d3c98",
  handled: "#0e7c66",
  verified: "#1e7a3c",
  closed: "#5f6b6d",
  evaluated: "#3d4a4c",
};

export function statusBadge(status) {
  return h("span", { class: "badge status", style: `background:${STATUS_COLOURS[status]};color:#fff` }, t(`status.${status}`));
}

export function timeline(events) {
  return h(
    "ol",
    { class: "timeline", "data-testid": "timeline" },
    events.map((event) =>
      h(
        "li",
        { dataset: { action: event.action } },
        `${new Date(event.at).toLocaleString()} · ${event.actor} · `,
        step(event),
        event.note && h("span", { class: "muted" }, ` (${event.note})`),
      ),
    ),
  );
}

// "退回派遣员 → 立案": the step, then the status it led to (one of them when they read alike).
function step(event) {
  const status = event.to_status ? t(`status.${event.to_status}`) : null;
  const action = messageIn("zh-CN", `action.${event.action}`) ? t(`action.${event.action}`) : null;
  if (!action || action === status) return status ?? event.action;
  return status ? `${action} → ${status}` : action;
}
