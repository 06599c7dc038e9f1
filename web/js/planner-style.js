// The planner's choropleth: a grid's colour is its deviation from the target (residents / target
// − 1), in steps, with a legend control; as in Leaflet's choropleth example.
import * as L from "leaflet";
import { h } from "./dom.js";
import { t } from "./i18n.js";

// Upper bounds of each class (deviation) and its colour: blue below target, red above.
const CLASSES = [
  [-0.3, "#2166ac"],
  [-0.2, "#67a9cf"],
  [-0.1, "#d1e5f0"],
  [0.1, "#f7f7f7"],
  [0.2, "#fddbc7"],
  [0.3, "#ef8a62"],
  [Infinity, "#b2182b"],
];

export function deviationColour(deviation) {
  for (const [upper, colour] of CLASSES) if (deviation < upper) return colour;
  return CLASSES.at(-1)[1];
}

export function gridStyle(feature, { selected = false, target = 3000 } = {}) {
  const deviation = feature.properties.residents / target - 1;
  return {
    color: selected ? "#111" : "#52606d",
    weight: selected ? 3 : 1,
    fillColor: deviationColour(deviation),
    fillOpacity: 0.75,
  };
}

/** The legend, bottom right. */
export function legend() {
  const control = L.control({ position: "bottomright" });
  control.onAdd = () => {
    const rows = [];
    let lower = -Infinity;
    for (const [upper, colour] of CLASSES) {
      const text =
        lower === -Infinity ? `< ${Math.round(upper * 100)}%`
        : upper === Infinity ? `≥ +${Math.round(lower * 100)}%`
        : `${Math.round(lower * 100)}% – ${Math.round(upper * 100)}%`;
      rows.push(h("div", {}, h("i", { style: `background:${colour}` }), text));
      lower = upper;
    }
    return h("div", { class: "legend", "data-testid": "legend" }, h("strong", {}, t("planner.legend")), rows);
  };
  return control;
}
