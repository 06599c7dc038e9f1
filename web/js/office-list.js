// The street office's case list and its map: open cases first, soonest deadline first, each
// with a live countdown (剩余 2小时15分 / 超时 3小时) and its assignee by name; the open cases
// on the map coloured by stage, with a legend. It refreshes itself: GET /api/incidents every
// `pollMs` with If-None-Match, so an unchanged list costs a 304 and nothing is redrawn.
import { getIfChanged } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { STATUSES, STATUS_COLOURS, statusBadge } from "./incidents.js";

const OPEN = new Set(STATUSES.filter((s) => s !== "closed" && s !== "evaluated"));
const MINUTE = 60_000;

/** "剩余 2小时15分" before the deadline, "超时 3小时" after it (whole minutes, rounded down). */
export function countdown(deadline, now = Date.now()) {
  if (!deadline) return "";
  const left = new Date(deadline).getTime() - now;
  const minutes = Math.floor(Math.abs(left) / MINUTE);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const parts = [];
  if (days) parts.push(t("office.days", { n: days }));
  if (hours || days) parts.push(t("office.hours", { n: hours }));
  if (!days) parts.push(t("office.minutes", { n: minutes % 60 }));
  return t(left >= 0 ? "office.left" : "office.late", { time: parts.join("").trim() });
}

/** Open cases before closed ones; by deadline (none last), then by id. */
export function byDeadline(a, b) {
  const open = Number(OPEN.has(b.status)) - Number(OPEN.has(a.status));
  if (open) return open;
  const da = a.deadline ? Date.parse(a.deadline) : Infinity;
  const db = b.deadline ? Date.parse(b.deadline) : Infinity;
  if (da !== db) return da < db ? -1 : 1;
  return String(a.id).localeCompare(String(b.id), undefined, { numeric: true });
}

function item(incident, onSelect) {
  const open = OPEN.has(incident.status);
  return h(
    "li",
    {
      class: incident.overdue ? "overdue" : null,
      dataset: {
        id: incident.id,
        status: incident.status,
        overdue: String(incident.overdue),
        deadline: incident.deadline ?? "",
      },
      onclick: () => onSelect(incident.id),
    },
    statusBadge(incident.status),
    " ",
    h("strong", {}, incident.category),
    incident.overdue && [" ", h("span", { class: "badge overdue" }, t("office.overdue"))],
    open && incident.deadline && [" ", h("span", { class: "countdown", "data-testid": "countdown" }, countdown(incident.deadline))],
    h(
      "div",
      { class: "muted" },
      `${incident.id} · ${incident.grid_code ?? "–"}`,
      incident.assignee && [" · ", h("span", { class: "assignee", "data-testid": "assignee-name" }, incident.assignee_name ?? incident.assignee)],
      incident.address && ` · ${incident.address}`,
    ),
  );
}

function legend(L) {
  const control = L.control({ position: "bottomright" });
  control.onAdd = () =>
    h(
      "div",
      { class: "legend", "data-testid": "stage-legend" },
      h("strong", {}, t("office.legend")),
      [...OPEN].map((s) => h("div", {}, h("i", { style: `background:${STATUS_COLOURS[s]}` }), t(`status.${s}`))),
      h("div", {}, h("i", { style: "background:#fff;border:2px solid #b00020" }), t("office.overdue")),
    );
  return control;
}

/**
 * The list in `list` and the markers on `view`'s map.
 * Options: `filters()` → query parameters; `onSelect(id)`; `pollMs` (default 15000).
 * Returns {refresh, selected(id), stop}.
 */
export function createCaseList(view, list, { filters = () => ({}), onSelect = () => {}, pollMs = 15_000 } = {}) {
  const { map, L } = view;
  const markers = L.layerGroup().addTo(map);
  let control = legend(L).addTo(map);
  let etag = null;
  let shown = [];
  let chosen = null;
  let lastQuery = "";

  function draw() {
    list.replaceChildren(...(shown.length ? shown.map((i) => item(i, onSelect)) : [h("li", { class: "muted" }, t("office.none"))]));
    if (chosen) list.querySelector(`[data-id="${CSS.escape(chosen)}"]`)?.classList.add("selected");
    markers.clearLayers();
    for (const incident of shown.filter((i) => OPEN.has(i.status))) {
      L.circleMarker(view.latLngOf(incident.lon, incident.lat), {
        radius: incident.overdue ? 9 : 7,
        color: incident.overdue ? "#b00020" : "#fff",
        weight: 2,
        fillColor: STATUS_COLOURS[incident.status],
        fillOpacity: 0.95,
        bubblingMouseEvents: false,
      })
        .bindTooltip(`${incident.category} · ${t(`status.${incident.status}`)} · ${countdown(incident.deadline)}`)
        .on("click", () => onSelect(incident.id))
        .addTo(markers);
    }
    document.body.dataset.incidents = String(shown.length);
  }

  async function refresh({ force = false } = {}) {
    const query = filters();
    const key = JSON.stringify(query);
    if (key !== lastQuery || force) etag = null;
    lastQuery = key;
    const answer = await getIfChanged("/api/incidents", query, etag);
    if (!answer.changed) return false;
    etag = answer.etag;
    shown = [...answer.data.incidents].sort(byDeadline);
    draw();
    document.body.dataset.listEtag = etag ?? "";
    return true;
  }

  // The countdowns move every minute without asking the server.
  const ticking = setInterval(() => {
    for (const span of list.querySelectorAll("[data-testid=countdown]")) {
      span.textContent = countdown(span.closest("li").dataset.deadline);
    }
  }, MINUTE / 2);
  const polling = setInterval(() => {
    if (!document.hidden) refresh().catch(() => {});
  }, pollMs);

  return {
    refresh,
    redraw() {
      control.remove();
      control = legend(L).addTo(map);
      draw();
    },
    selected(id) {
      chosen = id;
      for (const li of list.children) li.classList.toggle("selected", li.dataset.id === id);
    },
    stop() {
      clearInterval(ticking);
      clearInterval(polling);
      markers.remove();
      control.remove();
    },
  };
}
