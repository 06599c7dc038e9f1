// Residents (/): search, click the map or share the location; the grid card (a bottom sheet on
// a phone) and the grid highlighted. The map is resized with the sheet and keeps the grid and
// the person's position in view. Search hits are a keyboard listbox (↑ ↓ Enter Esc) with kind
// labels and markers; a community with several grids offers them all.
import { ApiError, get } from "./api.js";
import { h, num } from "./dom.js";
import { renderGridCard } from "./grid-card.js";
import { installSwitch, onLanguageChange, t } from "./i18n.js";
import { createMap, loadConfig } from "./map.js";
import { reportForm } from "./report.js";

const GRID_STYLE = { color: "#7b8794", weight: 1, fillColor: "#cbd2d9", fillOpacity: 0.25 };
const FOUND_STYLE = { color: "#c0392b", weight: 3, fillColor: "#c0392b", fillOpacity: 0.3 };
const CHOICE_STYLE = { color: "#1d4ed8", weight: 2, fillColor: "#1d4ed8", fillOpacity: 0.15 };
const HIT_STYLE = { radius: 6, color: "#fff", weight: 2, fillColor: "#1d4ed8", fillOpacity: 1 };
const ACTIVE_HIT_STYLE = { ...HIT_STYLE, radius: 9, fillColor: "#c0392b" };
const DEFAULT_HOTLINE = "12345"; // the government service hotline everywhere in China

async function main() {
  installSwitch(document.getElementById("lang"));
  const config = await loadConfig();
  // No zoom animation: the sheet resizes the map at any moment, and a resize during Leaflet's
  // zoom animation can leave it "animating" for good, after which every fit is ignored.
  const view = createMap(document.getElementById("map"), config, { zoomAnimation: false });
  const { map, L } = view;
  const status = document.getElementById("status");
  const list = document.getElementById("hits");
  const card = document.getElementById("card");
  const input = document.getElementById("q");
  let lastAnswer = null;
  let lastPoint = null;
  let focus = null; // what must stay in view: {bounds, point}
  let you = null;
  let options = []; // the listbox's items: {label, kind, detail, lon, lat, choose}
  let active = -1;
  const hitMarkers = L.layerGroup().addTo(map);

  const grids = view.geoJSON(null, { style: () => GRID_STYLE }).addTo(map);
  const byCode = new Map();
  get("/api/layers/grids").then((collection) => {
    grids.addData(collection);
    grids.eachLayer((layer) => byCode.set(layer.feature.properties.code, layer));
    // A lookup that answered before the grids came: highlight its grid now, and keep it in view
    // rather than fitting the whole layer.
    const found = lastAnswer && byCode.get(lastAnswer.grid.code);
    if (found) {
      found.setStyle(FOUND_STYLE).bringToFront();
      you?.bringToFront();
      focus = { ...focus, bounds: found.getBounds() };
      keepInView();
    } else if (!focus) {
      view.fitOnce(grids);
    }
    document.body.dataset.gridsLoaded = String(byCode.size);
  });

  // The sheet grows and shrinks: the map follows, and what matters stays in view.
  new ResizeObserver(() => {
    map.invalidateSize({ animate: false, pan: false });
    keepInView();
  }).observe(document.getElementById("map"));

  function keepInView() {
    if (!focus) return;
    map.invalidateSize({ animate: false, pan: false }); // the size Leaflet keeps may be stale
    const bounds = L.latLngBounds(focus.bounds ?? [focus.point]);
    if (focus.point) bounds.extend(focus.point);
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17, animate: false });
  }

  const say = (text, isError = false, ...more) => {
    status.replaceChildren(text, ...more);
    status.className = isError ? "error" : "hint";
  };

  function clearResults() {
    closeList();
    card.hidden = true;
    card.replaceChildren();
    delete card.dataset.code;
    lastAnswer = null;
    grids.setStyle(() => GRID_STYLE);
    you?.remove();
    you = null;
    focus = null;
    say("");
  }

  function closeList() {
    options = [];
    active = -1;
    list.replaceChildren();
    list.hidden = true;
    hitMarkers.clearLayers();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  /** Show `items` as the listbox and as markers; the caller says what choosing one does. */
  function showList(items, message) {
    closeList();
    options = items;
    list.replaceChildren(
      ...items.map((item, i) =>
        h("li", { id: `hit-${i}`, role: "option", "aria-selected": "false", "data-kind": item.kind, onclick: () => choose(i) },
          h("span", { class: `kind kind-${item.kind}` }, t(`kind.${item.kind}`)),
          " ",
          h("strong", {}, item.label),
          item.detail && h("div", { class: "muted" }, item.detail)),
      ),
    );
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    for (const [i, item] of items.entries()) {
      if (item.lon == null) continue;
      const marker = L.circleMarker(view.latLngOf(item.lon, item.lat), HIT_STYLE)
        .bindTooltip(`${t(`kind.${item.kind}`)} · ${item.label}`)
        .on("click", () => choose(i));
      item.marker = marker;
      hitMarkers.addLayer(marker);
    }
    const located = items.filter((item) => item.marker);
    if (located.length > 1 && !focus) map.fitBounds(L.featureGroup(located.map((item) => item.marker)).getBounds(), { padding: [30, 30], maxZoom: 16 });
    say(message);
  }

  function activate(i) {
    if (!options.length) return;
    active = (i + options.length) % options.length;
    for (const [j, li] of [...list.children].entries()) li.setAttribute("aria-selected", String(j === active));
    input.setAttribute("aria-activedescendant", `hit-${active}`);
    list.children[active].scrollIntoView({ block: "nearest" });
    for (const [j, item] of options.entries()) item.marker?.setStyle(j === active ? ACTIVE_HIT_STYLE : HIT_STYLE);
  }

  function choose(i) {
    const item = options[i];
    if (item) item.choose();
  }

  function hitItem(hit) {
    const detail = hit.kind === "building" ? hit.address : hit.grid?.name ?? (hit.kind === "community" || hit.kind === "street" ? hit.address : null);
    return {
      label: hit.name ?? hit.address ?? hit.id,
      kind: hit.kind,
      detail,
      lon: hit.lon,
      lat: hit.lat,
      choose: () => (hit.kind === "community" && (hit.grids?.length ?? 0) > 1 ? chooseGridOf(hit) : lookup(hit.lon, hit.lat)),
    };
  }

  /** A community of several grids: all of them offered, drawn, and the building asked for. */
  async function chooseGridOf(hit) {
    clearResults();
    const codes = new Set(hit.grids);
    const own = [];
    grids.setStyle((feature) => (codes.has(feature.properties.code) ? CHOICE_STYLE : GRID_STYLE));
    for (const code of codes) if (byCode.has(code)) own.push(byCode.get(code));
    if (own.length) {
      focus = { bounds: L.featureGroup(own).getBounds() };
      keepInView();
    }
    const answer = await get("/api/search", { q: hit.id, limit: 50 });
    const gridHits = answer.hits.filter((one) => one.kind === "grid" && codes.has(one.id));
    gridHits.sort((a, b) => a.id.localeCompare(b.id));
    showList(gridHits.map(hitItem), t("resident.choosegrid", { name: hit.name, n: codes.size }));
    input.focus();
  }

  async function lookup(lon, lat, { fly = true, mark = true } = {}) {
    clearResults();
    lastPoint = [lon, lat];
    if (mark) {
      you = L.circleMarker(view.latLngOf(lon, lat), { radius: 8, color: "#fff", weight: 3, fillColor: "#1d4ed8", fillOpacity: 1 })
        .bindTooltip(t("resident.you"))
        .addTo(map);
      you.getElement()?.setAttribute("data-testid", "you");
    }
    try {
      lastAnswer = await get("/api/lookup", { lon: lon.toFixed(7), lat: lat.toFixed(7) });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) outside(error, lon, lat);
      else say(`${t("error")}: ${error.message}`, true);
      return;
    }
    showCard();
    const found = byCode.get(lastAnswer.grid.code);
    if (found) found.setStyle(FOUND_STYLE).bringToFront();
    you?.bringToFront();
    focus = { bounds: found?.getBounds(), point: mark || !found ? view.latLngOf(lon, lat) : undefined };
    if (fly) keepInView();
    card.dataset.code = lastAnswer.grid.code;
  }

  function showCard() {
    const report = h("button", { type: "button", class: "report", onclick: () => openReport() }, t("card.report"));
    renderGridCard(card, lastAnswer, report);
  }

  function openReport() {
    const [lon, lat] = lastPoint;
    const form = reportForm(lon, lat, lastAnswer);
    card.querySelector("button.report")?.replaceWith(form);
    form.querySelector("select, textarea")?.focus();
  }

  function outside(error, lon, lat) {
    const metres = /is ([\d,]+) m from/.exec(error.message)?.[1];
    const hotline = config.hotline ?? DEFAULT_HOTLINE;
    const far = metres ? t("resident.outsidefar", { km: num(Number(metres.replaceAll(",", "")) / 1000, 1) }) : t("resident.outside");
    say(far, true, " ", t("resident.hotline"), " ", h("a", { class: "tel", href: `tel:${hotline}` }, `☎ ${hotline}`));
    status.dataset.state = "outside";
    focus = { point: view.latLngOf(lon, lat) };
    keepInView();
  }

  async function search(q) {
    clearResults();
    delete status.dataset.state;
    let answer;
    try {
      answer = await get("/api/search", { q, limit: 10 });
    } catch (error) {
      say(`${t("error")}: ${error.message}`, true);
      return;
    }
    const located = answer.hits.filter((hit) => hit.lon != null && hit.lat != null);
    if (!located.length) {
      say(t("resident.nohits"), true);
      status.dataset.state = "nothing";
      return;
    }
    if (located.length === 1) {
      hitItem(located[0]).choose();
      return;
    }
    showList(located.map(hitItem), t("resident.nhits", { n: located.length }));
  }

  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) search(q);
  });
  input.addEventListener("keydown", (event) => {
    if (!options.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      activate(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeList();
      say("");
    }
  });

  document.getElementById("locate").addEventListener("click", () => {
    if (!navigator.geolocation) {
      say(t("resident.nolocation"), true);
      return;
    }
    say(t("resident.locating"));
    navigator.geolocation.getCurrentPosition(
      (position) => lookup(position.coords.longitude, position.coords.latitude),
      () => say(t("resident.nolocation"), true),
      { enableHighAccuracy: true, timeout: 10000 },
    );
  });

  map.on("click", (event) => {
    const [lon, lat] = view.lonLatOf(event.latlng);
    lookup(lon, lat, { fly: false });
  });
  onLanguageChange(() => lastAnswer && showCard());

  /** The page opened from a board's QR code (`/?grid=CODE`): that grid's card, at once. */
  async function openGrid(code) {
    try {
      const answer = /^[0-9]{12,20}$/.test(code) ? await get("/api/search", { q: code, limit: 10 }) : { hits: [] };
      const hit = answer.hits.find((one) => one.kind === "grid" && one.id === code);
      if (!hit) {
        say(t("resident.nogrid", { code }), true);
        return;
      }
      await lookup(hit.lon, hit.lat, { mark: false });
    } catch (error) {
      say(`${t("error")}: ${error.message}`, true);
    }
  }
  const wanted = new URLSearchParams(location.search).get("grid");
  if (wanted) openGrid(wanted.trim());
  document.body.dataset.ready = "true";
}

main();
