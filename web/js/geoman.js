// Leaflet-Geoman (drawing lines and polygons on the planner's map). Geoman ships as a classic
// script that extends a global `L`; we hand it one built from Leaflet's ES module, then load it.
// Import this module before any map is made: Geoman adds `map.pm` through Map's init hooks.
import * as Leaflet from "leaflet";

const L = { ...Leaflet };
globalThis.L = L;
await import("/web/vendor/geoman/leaflet-geoman.js");

export default L;
