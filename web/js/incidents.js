// Incidents: status colours, the workflow's actions, list items and the timeline.
import { h } from "./dom.js";
import { t } from "./i18n.js";

export const STATUSES = ["reported", "registered", "dispatched", "handling", "handled", "verified", "closed"];

// Dark enough for white text on a badge (WCAG AA: at least 4.5:1; these are 5.1 to 7.1).
export const STATUS_COLOURS = {
  reported: "#a84300",
  registered: "#806600",
  dispatched: "#1f66a8",
  handling: "#7d3c98",
  handled: "#0e7c66",
  verified: "#1e7a3c",
  closed: "#5f6b6d",
};

// The digital city-management cycle (gridmap/api/workflow.py): status → allowed actions.
export const ACTIONS = {
  reported: ["register", "dismiss"],
  registered: ["dispatch"],
  dispatched: ["accept"],
  handling: ["finish"],
  handled: ["verify", "reject"],
  verified: ["close"],
  closed: [],
};

export function statusBadge(status) {
  return h("span", { class: "badge status", style: `background:${STATUS_COLOURS[status]};color:#fff` }, t(`status.${status}`));
}

export function listItem(incident, onSelect) {
  return h(
    "li",
    {
      class: incident.overdue ? "overdue" : null,
      dataset: { id: incident.id, status: incident.status, overdue: String(incident.overdue) },
      onclick: () => onSelect(incident.id),
    },
    statusBadge(incident.status),
    " ",
    h("strong", {}, incident.category),
    incident.overdue && [" ", h("span", { class: "badge overdue" }, t("office.overdue"))],
    h("div", { class: "muted" }, `${incident.id} · ${incident.grid_code ?? "–"} · ${incident.address ?? ""}`),
  );
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
        event.to_status ? t(`status.${event.to_status}`) : event.action,
        event.note && h("span", { class: "muted" }, ` (${event.note})`),
      ),
    ),
  );
}
