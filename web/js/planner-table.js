// The planner's grid table for the chosen street or community: residents, deviation, area,
// compactness and missing staff, sortable by any column (a button in each header, aria-sort),
// a row's button selecting its grid on the map.
import { fill, h, num, pct } from "./dom.js";
import { t } from "./i18n.js";

const COLUMNS = [
  { key: "code", label: () => t("planner.grid"), value: (g) => g.properties.name ?? g.properties.code, text: (v) => v },
  { key: "residents", label: () => t("planner.residents"), value: (g) => g.properties.residents, text: (v) => num(v) },
  { key: "deviation", label: () => t("planner.deviation"), value: (g, c) => g.properties.residents / c.target - 1, text: (v) => pct(v) },
  { key: "area", label: () => t("planner.area_km2"), value: (g) => areaKm2(g.geometry), text: (v) => num(v, 2) },
  { key: "compactness", label: () => t("planner.compactness"), value: (g) => g.properties.compactness, text: (v) => num(v, 2) },
  { key: "staff", label: () => t("planner.staff"), value: (g, c) => c.missing.get(g.properties.code)?.length ?? 0, text: (v) => num(v) },
];
const sorting = { key: "deviation", ascending: false };

/** Fill `section` with a table of `grids` (GeoJSON features); empty: the section is hidden. */
export function renderGridTable(section, grids, context) {
  if (!grids.length) {
    section.hidden = true;
    return;
  }
  const column = COLUMNS.find((c) => c.key === sorting.key);
  const rows = grids.map((g) => ({ grid: g, values: COLUMNS.map((c) => c.value(g, context)) }));
  const at = COLUMNS.indexOf(column);
  rows.sort((a, b) => {
    const [x, y] = [a.values[at], b.values[at]];
    const order = typeof x === "string" ? x.localeCompare(y) : (x ?? -Infinity) - (y ?? -Infinity);
    return sorting.ascending ? order : -order;
  });
  const header = COLUMNS.map((c) =>
    h("th", { scope: "col", "aria-sort": c.key === sorting.key ? (sorting.ascending ? "ascending" : "descending") : "none" },
      h("button", {
        type: "button", class: "sort", "data-sort": c.key, "aria-label": t("planner.sortby", { column: c.label() }),
        onclick: () => {
          sorting.ascending = sorting.key === c.key ? !sorting.ascending : c.key === "code";
          sorting.key = c.key;
          renderGridTable(section, grids, context);
        },
      }, c.label(), c.key === sorting.key ? (sorting.ascending ? " ▲" : " ▼") : "")));
  fill(section,
    h("h2", {}, t("planner.table")),
    h("table", { class: "compact grid-table", "data-testid": "grid-table" },
      h("thead", {}, h("tr", {}, header)),
      h("tbody", {}, rows.map(({ grid, values }) =>
        h("tr", { class: grid.properties.code === context.selected ? "selected" : null, "data-code": grid.properties.code },
          values.map((v, i) => i === 0
            ? h("th", { scope: "row" }, h("button", { type: "button", class: "link", onclick: () => context.onSelect(grid.properties.code) }, COLUMNS[i].text(v)))
            : h("td", {}, COLUMNS[i].text(v))))))),
  );
  section.hidden = false;
}

/** The area of a (Multi)Polygon in lon/lat, in km² (spherical excess is negligible here). */
function areaKm2(geometry) {
  if (!geometry) return null;
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  let total = 0;
  for (const rings of polygons) {
    rings.forEach((ring, i) => total += (i ? -1 : 1) * Math.abs(ringArea(ring)));
  }
  return total / 1e6;
}

function ringArea(ring) {
  const lat0 = (ring.reduce((s, p) => s + p[1], 0) / ring.length) * (Math.PI / 180);
  const mx = 111320 * Math.cos(lat0);
  const my = 110540;
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    sum += (ring[j][0] * mx) * (ring[i][1] * my) - (ring[i][0] * mx) * (ring[j][1] * my);
  }
  return sum / 2;
}
