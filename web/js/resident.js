// Residents (/): search or click the map, or share the location; the grid card and the grid
// highlighted on the map.
import { ApiError, get } from "./api.js";
import { h } from "./dom.js";
import { renderGridCard } from "./grid-card.js";
import { installSwitch, onLanguageChange, t } from "./i18n.js";
import { createMap, loadConfig } from "./map.js";

const GRID_STYLE = { color: "#7b8794", weight: 1, fillColor: "#cbd2d9", fillOpacity: 0.25 };
const FOUND_STYLE = { color: "#c0392b", weight: 3, fillColor: "#c0392b", fillOpacity: 0.3 };

async function main() {
  installSwitch(document.getElementById("lang"));
  const config = await loadConfig();
  const view = createMap(document.getElementById("map"), config);
  const { map, L } = view;
  const status = document.getElementById("status");
  const hits = document.getElementById("hits");
  const card = document.getElementById("card");
  let lastAnswer = null;
  let marker = null;

  const grids = view.geoJSON(null, { style: () => GRID_STYLE }).addTo(map);
  const byCode = new Map();
  get("/api/layers/grids").then((collection) => {
    grids.addData(collection);
    grids.eachLayer((layer) => byCode.set(layer.feature.properties.code, layer));
    view.fitOnce(grids);
    document.body.dataset.gridsLoaded = String(byCode.size);
  });

  const say = (text, isError = false) => {
    status.textContent = text;
    status.className = isError ? "error" : "hint";
  };

  async function lookup(lon, lat, { fly = true } = {}) {
    marker?.remove();
    marker = L.circleMarker(view.latLngOf(lon, lat), { radius: 7, color: "#1d4ed8" }).addTo(map);
    try {
      lastAnswer = await get("/api/lookup", { lon: lon.toFixed(7), lat: lat.toFixed(7) });
    } catch (error) {
      card.hidden = true;
      say(error instanceof ApiError && error.status === 404 ? t("resident.outside") : `${t("error")}: ${error.message}`, true);
      return;
    }
    say("");
    renderGridCard(card, lastAnswer);
    grids.setStyle(() => GRID_STYLE);
    const found = byCode.get(lastAnswer.grid.code);
    if (found) {
      found.setStyle(FOUND_STYLE).bringToFront();
      if (fly) map.fitBounds(found.getBounds(), { maxZoom: 16 });
    } else if (fly) {
      map.setView(view.latLngOf(lon, lat), 16);
    }
    card.dataset.code = lastAnswer.grid.code;
  }

  document.getElementById("search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = document.getElementById("q").value.trim();
    if (!q) return;
    hits.replaceChildren();
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
      return;
    }
    say("");
    if (located.length === 1) {
      lookup(located[0].lon, located[0].lat);
      return;
    }
    hits.replaceChildren(
      ...located.map((hit) =>
        h(
          "li",
          {
            onclick: () => {
              hits.replaceChildren();
              lookup(hit.lon, hit.lat);
            },
          },
          h("strong", {}, hit.name ?? hit.id),
          hit.address && h("div", { class: "muted" }, hit.address),
        ),
      ),
    );
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
  onLanguageChange(() => lastAnswer && renderGridCard(card, lastAnswer));
  document.body.dataset.ready = "true";
}

main();
