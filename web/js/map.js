// One Leaflet map over the district's own base map (js/basemap.js: roads, compounds,
// buildings and names from gridmap's vector tiles), or over the XYZ base map named in
// web/config.json (Tianditu or an intranet tile server) and its datum: layers are drawn through
// toMap and clicks read back through fromMap, so the data stay WGS-84 whatever the tiles are.
import * as L from "leaflet";
import { addBaseMap } from "./basemap.js";
import { datumOf } from "./datum.js";

const DEFAULTS = { center: [29.53, 106.57], zoom: 12, basemap: null };

/** web/config.json merged over the defaults (the file is optional). */
export async function loadConfig() {
  try {
    const answer = await fetch("/web/config.json");
    return answer.ok ? { ...DEFAULTS, ...(await answer.json()) } : { ...DEFAULTS };
  } catch {
    return { ...DEFAULTS };
  }
}

/** A map in `element`; returns {map, geoJSON, lonLatOf, latLngOf}. */
export function createMap(element, config = DEFAULTS, options = {}) {
  const map = L.map(element, { zoomControl: true, preferCanvas: false, ...options });
  map.attributionControl.setPrefix(false);
  const basemap = config.basemap;
  const datum = datumOf(basemap?.datum ?? "wgs84");
  if (basemap?.url) {
    L.tileLayer(basemap.url, {
      subdomains: basemap.subdomains ?? "abc",
      maxZoom: basemap.maxZoom ?? 18,
      attribution: basemap.attribution ?? "",
    }).addTo(map);
  } else if (basemap !== false) {
    addBaseMap(map); // the district's own data, WGS-84 like the layers
  }
  const latLngOf = (lon, lat) => {
    const [x, y] = datum.toMap(lon, lat);
    return L.latLng(y, x);
  };
  const lonLatOf = (latlng) => datum.fromMap(latlng.lng, latlng.lat);
  const geoJSON = (data, layerOptions = {}) =>
    L.geoJSON(data, { coordsToLatLng: ([x, y]) => latLngOf(x, y), ...layerOptions });
  const fromHash = hashView();
  if (fromHash) map.setView(latLngOf(fromHash.lon, fromHash.lat), fromHash.zoom);
  else map.setView(config.center, config.zoom);
  // The address keeps the view (#map=zoom/lat/lon, WGS-84): links to a place, and reloads stay.
  map.on("moveend", () => {
    const [lon, lat] = lonLatOf(map.getCenter());
    const hash = `#map=${map.getZoom()}/${lat.toFixed(6)}/${lon.toFixed(6)}`;
    history.replaceState(null, "", `${location.pathname}${location.search}${hash}`);
  });
  /** Fit `layer` unless the address named a view (#map=zoom/lat/lon). */
  const fitOnce = (layer) => {
    if (!fromHash && layer.getLayers().length) map.fitBounds(layer.getBounds());
  };
  return { map, geoJSON, latLngOf, lonLatOf, fitOnce, L };
}

/** The view named in the address, #map=zoom/lat/lon (WGS-84), as on openstreetmap.org. */
function hashView() {
  const match = /map=(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)/.exec(location.hash);
  return match ? { zoom: Number(match[1]), lat: Number(match[2]), lon: Number(match[3]) } : null;
}

/** A GeoJSON geometry drawn on the map (Geoman) back in WGS-84 lon/lat. */
export function toLonLatGeometry(layer, lonLatOf) {
  const geometry = layer.toGeoJSON().geometry;
  const convert = (coords) =>
    typeof coords[0] === "number" ? lonLatOf({ lng: coords[0], lat: coords[1] }) : coords.map(convert);
  return { type: geometry.type, coordinates: convert(geometry.coordinates) };
}
