// Street office (/office): incidents on the map coloured by status; click the map to record
// one (grid, staff and near-boundary candidates shown before saving); the list with filters,
// overdue ones highlighted; the case panel (office-case.js) with the steps the user may take.
import { get, patch, post } from "./api.js";
import { h } from "./dom.js";
import { installSwitch, onLanguageChange, t, translate } from "./i18n.js";
import { STATUSES } from "./incidents.js";
import { createMap, loadConfig } from "./map.js";
import { showCase } from "./office-case.js";
import { createCaseList } from "./office-list.js";
import { mountStats } from "./office-stats.js";
import { requireSignIn } from "./signin.js";

async function main() {
  installSwitch(document.getElementById("lang"));
  const config = await loadConfig();
  const view = createMap(document.getElementById("map"), config);
  requireSignIn(document.getElementById("account"), () => start(view));
}

function start(view) {
  const { map, L } = view;
  const work = document.getElementById("work");
  const list = document.getElementById("incidents");
  const draftBox = document.getElementById("draft");
  const detailBox = document.getElementById("detail");
  const statusFilter = document.getElementById("filter-status");
  const overdueFilter = document.getElementById("filter-overdue");
  work.hidden = false;
  statusFilter.append(...STATUSES.map((s) => h("option", { value: s, "data-i18n": `status.${s}` }, t(`status.${s}`))));
  translate(work);

  let selected = null;
  let draftMarker = null;
  let categories = [];
  get("/open311/v2/services.json").then((services) => {
    // An office case's category is the table's "大类/小类" (what the deadlines are keyed by);
    // the Open311 service code is the residents' ASCII id of the same category.
    categories = services.map((s) => `${s.group}/${s.service_name}`);
  });
  get("/api/layers/grids").then((fc) => {
    const grids = view.geoJSON(fc, { style: { color: "#9aa5b1", weight: 1, fillOpacity: 0.05 }, interactive: false }).addTo(map);
    view.fitOnce(grids);
    grids.bringToBack();
  });
  const cases = createCaseList(view, list, {
    filters: () => ({ status: statusFilter.value || undefined, overdue: overdueFilter.checked ? "true" : undefined }),
    onSelect: (id) => select(id),
  });
  mountStats(document.getElementById("stats-view"), document.getElementById("views"));

  async function refresh() {
    await cases.refresh({ force: true });
  }

  async function select(id) {
    selected = id;
    const answer = await get(`/api/incidents/${encodeURIComponent(id)}`);
    showCase(detailBox, answer, { onChange: refresh });
    cases.selected(id);
  }

  async function draft(lon, lat) {
    draftMarker?.remove();
    draftMarker = L.marker(view.latLngOf(lon, lat)).addTo(map);
    let where;
    try {
      where = await get("/api/lookup", { lon: lon.toFixed(7), lat: lat.toFixed(7) });
    } catch (failure) {
      draftBox.replaceChildren(h("p", { class: "error" }, `${t("error")}: ${failure.message}`));
      draftBox.hidden = false;
      return;
    }
    const candidates = [where.grid, ...(where.neighbour ? [where.neighbour] : [])];
    const form = h(
      "form",
      { class: "stack", id: "new-incident" },
      h("h2", {}, t("office.new")),
      h("p", { class: "muted" }, `${where.street.short_name ?? where.street.name} · ${where.community.short_name ?? where.community.name}`),
      candidates.length > 1 && h("p", { class: "hint" }, t("office.candidates")),
      h(
        "div",
        { "data-testid": "candidates" },
        candidates.map((grid, k) =>
          h("label", { style: "display:block" }, h("input", { type: "radio", name: "grid", value: grid.code, checked: k === 0 }), ` ${grid.name ?? grid.code} (${grid.code})`),
        ),
      ),
      h("strong", {}, t("office.responsible")),
      h(
        "ul",
        { class: "plain staff", "data-testid": "draft-staff" },
        (where.grid.staff ?? []).map((p) => h("li", {}, `${p.role_name ?? p.role} ${p.name} ${p.phone ?? ""}`)),
      ),
      h("label", {}, t("office.category"), h("select", { name: "category", required: true }, categories.map((c) => h("option", { value: c }, c)))),
      h("label", {}, t("office.description"), h("textarea", { name: "description", rows: 2 })),
      h("label", {}, t("office.address"), h("input", { name: "address" })),
      h(
        "div",
        { class: "row" },
        h("button", { class: "primary", type: "submit" }, t("office.save")),
        h("button", { type: "button", onclick: () => { draftBox.hidden = true; draftMarker?.remove(); } }, t("office.cancel")),
      ),
      h("p", { class: "error", hidden: true }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        const made = await post("/api/incidents", {
          lon,
          lat,
          category: data.get("category"),
          description: data.get("description") || undefined,
          address: data.get("address") || undefined,
        });
        let incident = made.incident;
        if (data.get("grid") && data.get("grid") !== incident.grid_code) {
          incident = (await patch(`/api/incidents/${encodeURIComponent(incident.id)}`, { version: incident.version, grid_code: data.get("grid") })).incident;
        }
        draftBox.hidden = true;
        draftMarker?.remove();
        await refresh();
        await select(incident.id);
      } catch (failure) {
        const error = form.querySelector(".error");
        error.textContent = `${t("error")}: ${failure.message}`;
        error.hidden = false;
      }
    });
    draftBox.replaceChildren(form);
    draftBox.hidden = false;
  }

  map.on("click", (event) => {
    const [lon, lat] = view.lonLatOf(event.latlng);
    draft(lon, lat);
  });
  statusFilter.addEventListener("change", refresh);
  overdueFilter.addEventListener("change", refresh);
  onLanguageChange(() => cases.redraw());
  refresh().then(() => {
    document.body.dataset.ready = "true";
  });
}

main();
