// The base map from the district's own data: gridmap's vector tiles (water and green areas,
// roads, compounds, buildings; /tiles/{layer}/{z}/{x}/{y}.mvt, same origin, no key) drawn on
// canvas under every layer, in the colours of Chinese web maps (a warm pale ground, blue water,
// pale green parks and hills, white streets with grey casings, yellow main roads, pale green
// compounds) with the names of roads, compounds, rivers and parks.
// Decoding uses pbf and @mapbox/vector-tile (ES modules from npm); the drawing is here.
import * as L from "leaflet";
import Pbf from "pbf";
import { VectorTile } from "@mapbox/vector-tile";

const ROADS = {
  // class → [casing, fill, width at zoom 16 in px]
  motorway: ["#d9822b", "#ffc65c", 9],
  trunk: ["#d9822b", "#ffc65c", 9],
  primary: ["#e0a33a", "#ffe08a", 8],
  secondary: ["#cfc4a8", "#fff6cf", 7],
  tertiary: ["#cdc6ba", "#ffffff", 6],
  other: ["#cdc6ba", "#ffffff", 4],
};
const LANDCOVER = {
  water: { fill: "#aad3df", stroke: "#9cc6d3" },
  park: { fill: "#cdebb0", stroke: "#b9dc98" },
  forest: { fill: "#d6e9c3", stroke: "#d6e9c3" },
};
const COMPOUND = { fill: "#e3efd9", stroke: "#c9dcbc" };
const UNIT = { fill: "#ece6f2", stroke: "#d8cde4" };
const BUILDING = { fill: "#e5ded3", stroke: "#d2c8b9" };
const LABEL = { road: "#4a4032", place: "#3f5a32", water: "#2f6d8c", halo: "rgba(255,255,255,0.9)" };
const FONT = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';

/** Every tile's drawn names, for tests and the curious: tile key → [names]. */
export const drawnLabels = new Map();

const BaseMap = L.GridLayer.extend({
  options: { pane: "basemap", minZoom: 11, maxZoom: 20, updateWhenZooming: false, keepBuffer: 1 },

  createTile(coords, done) {
    const size = this.getTileSize();
    const ratio = window.devicePixelRatio || 1;
    const canvas = document.createElement("canvas");
    canvas.width = size.x * ratio;
    canvas.height = size.y * ratio;
    const layers = ["landcover", "roads", ...(coords.z >= 14 ? ["units", "buildings"] : [])];
    Promise.all(layers.map((layer) => fetchTile(layer, coords)))
      .then((tiles) => {
        const byName = Object.assign({}, ...tiles);
        const names = draw(canvas.getContext("2d"), byName, coords.z, size.x * ratio, ratio);
        drawnLabels.set(`${coords.z}/${coords.x}/${coords.y}`, names);
        canvas.dataset.labels = names.join("|");
        done(null, canvas);
      })
      .catch((error) => done(error, canvas));
    return canvas;
  },
});

async function fetchTile(layer, { z, x, y }) {
  const answer = await fetch(`/tiles/${layer}/${z}/${x}/${y}.mvt`);
  if (!answer.ok) throw new Error(`/tiles/${layer}/${z}/${x}/${y}.mvt: ${answer.status}`);
  const bytes = await answer.arrayBuffer();
  if (!bytes.byteLength) return {};
  return { [layer]: new VectorTile(new Pbf(bytes)).layers[layer] };
}

function features(layer) {
  const out = [];
  for (let i = 0; layer && i < layer.length; i++) out.push(layer.feature(i));
  return out;
}

/** Draw one tile; returns the names written on it. */
function draw(ctx, tiles, z, px, ratio) {
  const labels = [];
  const taken = [];
  const cover = features(tiles.landcover);
  for (const area of cover) fillPolygon(ctx, area, px, LANDCOVER[area.properties.kind] ?? LANDCOVER.park);
  for (const unit of features(tiles.units)) {
    const style = unit.properties.kind === "compound" ? COMPOUND : UNIT;
    fillPolygon(ctx, unit, px, style);
  }
  for (const building of features(tiles.buildings)) fillPolygon(ctx, building, px, BUILDING);
  const roads = features(tiles.roads).sort((a, b) => rank(a) - rank(b));
  const width = (road) => Math.max(1, ROADS[kind(road)][2] * 2 ** ((z - 16) / 2)) * ratio;
  for (const pass of [0, 1]) {
    for (const road of roads) {
      const [casing, fill] = ROADS[kind(road)];
      ctx.strokeStyle = pass ? fill : casing;
      ctx.lineWidth = width(road) + (pass ? 0 : 2 * ratio);
      ctx.lineCap = ctx.lineJoin = "round";
      strokeLines(ctx, road, px);
    }
  }
  if (z >= 14) {
    for (const road of [...roads].reverse()) {
      const name = road.properties.name;
      if (name && !labels.includes(name) && roadLabel(ctx, road, px, ratio, taken)) labels.push(name);
    }
  }
  if (z >= 13) {
    for (const area of cover) {
      const name = area.properties.name;
      const colour = area.properties.kind === "water" ? LABEL.water : LABEL.place;
      if (name && !labels.includes(name) && placeLabel(ctx, area, px, ratio, taken, colour)) labels.push(name);
    }
  }
  if (z >= 16) {
    for (const unit of features(tiles.units)) {
      const name = unit.properties.name;
      if (name && !labels.includes(name) && placeLabel(ctx, unit, px, ratio, taken)) labels.push(name);
    }
  }
  return labels;
}

const kind = (road) => (road.properties.class in ROADS ? road.properties.class : "other");
const rank = (road) => -ROADS[kind(road)][2];

function fillPolygon(ctx, feature, px, style) {
  if (feature.type !== 3) return;
  const scale = px / feature.extent;
  ctx.beginPath();
  for (const ring of feature.loadGeometry()) {
    ring.forEach((p, i) => (i ? ctx.lineTo(p.x * scale, p.y * scale) : ctx.moveTo(p.x * scale, p.y * scale)));
    ctx.closePath();
  }
  ctx.fillStyle = style.fill;
  ctx.fill("evenodd");
  ctx.strokeStyle = style.stroke;
  ctx.lineWidth = 1;
  ctx.stroke();
}

function strokeLines(ctx, feature, px) {
  if (feature.type !== 2) return;
  const scale = px / feature.extent;
  ctx.beginPath();
  for (const line of feature.loadGeometry()) {
    line.forEach((p, i) => (i ? ctx.lineTo(p.x * scale, p.y * scale) : ctx.moveTo(p.x * scale, p.y * scale)));
  }
  ctx.stroke();
}

/** The name along the road's longest straight piece inside the tile, kept upright. */
function roadLabel(ctx, road, px, ratio, taken) {
  const scale = px / road.extent;
  let best = null;
  for (const line of road.loadGeometry()) {
    for (let i = 1; i < line.length; i++) {
      const a = { x: line[i - 1].x * scale, y: line[i - 1].y * scale };
      const b = { x: line[i].x * scale, y: line[i].y * scale };
      const length = Math.hypot(b.x - a.x, b.y - a.y);
      if (!best || length > best.length) best = { a, b, length };
    }
  }
  if (!best) return false;
  ctx.font = `${12 * ratio}px ${FONT}`;
  const text = road.properties.name;
  const width = ctx.measureText(text).width;
  if (best.length < width + 8 * ratio) return false;
  const cx = (best.a.x + best.b.x) / 2;
  const cy = (best.a.y + best.b.y) / 2;
  let angle = Math.atan2(best.b.y - best.a.y, best.b.x - best.a.x);
  if (angle > Math.PI / 2) angle -= Math.PI;
  if (angle < -Math.PI / 2) angle += Math.PI;
  return writeText(ctx, text, cx, cy, angle, width, 12 * ratio, px, taken, LABEL.road);
}

/** A compound's name at the middle of its outline, once, in the tile holding that middle. */
function placeLabel(ctx, unit, px, ratio, taken, colour = LABEL.place) {
  if (unit.type !== 3) return false;
  const scale = px / unit.extent;
  const ring = unit.loadGeometry()[0];
  const xs = ring.map((p) => p.x * scale);
  const ys = ring.map((p) => p.y * scale);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
  const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  if (cx < 0 || cy < 0 || cx >= px || cy >= px) return false;
  ctx.font = `${11 * ratio}px ${FONT}`;
  const width = ctx.measureText(unit.properties.name).width;
  return writeText(ctx, unit.properties.name, cx, cy, 0, width, 11 * ratio, px, taken, colour);
}

function writeText(ctx, text, cx, cy, angle, width, height, px, taken, colour) {
  const half = Math.max(width * Math.abs(Math.cos(angle)), height) / 2 + 2;
  const halfY = Math.max(width * Math.abs(Math.sin(angle)), height) / 2 + 2;
  const box = [cx - half, cy - halfY, cx + half, cy + halfY];
  // Whole inside the tile (a label cut at the tile's edge reads worse than none) and alone.
  if (box[0] < 0 || box[1] < 0 || box[2] > px || box[3] > px) return false;
  if (taken.some((t) => box[0] < t[2] && t[0] < box[2] && box[1] < t[3] && t[1] < box[3])) return false;
  taken.push(box);
  ctx.save();
  ctx.translate(cx, cy);
  ctx.rotate(angle);
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.lineWidth = 3;
  ctx.strokeStyle = LABEL.halo;
  ctx.strokeText(text, 0, 0);
  ctx.fillStyle = colour;
  ctx.fillText(text, 0, 0);
  ctx.restore();
  return true;
}

/** The base map under every layer of `map` (a pane below the tile pane). */
export function addBaseMap(map) {
  const pane = map.createPane("basemap");
  pane.style.zIndex = 150;
  pane.style.pointerEvents = "none";
  return new BaseMap().addTo(map);
}
