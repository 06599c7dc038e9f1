// The planner's side panels: one grid's numbers, an edit's validation and diff, and the
// comparison with the plan in force.
import { fill, h, num, pct } from "./dom.js";
import { t } from "./i18n.js";

// Display names of the default staff roles (Settings.roles); other keys are shown as they are.
const ROLE_NAMES = {
  grid_head: "网格长",
  police: "警员",
  city_management: "城管协管员",
  floating_population: "流动人口协管员",
  mediation: "综治信访调解员",
  safety_fire: "安全消防联络员",
};

export function renderGrid(section, properties, { target, missing, locked = false, lockedBy = null, onLock = null }) {
  const deviation = properties.residents / target - 1;
  fill(
    section,
    h("h2", { "data-testid": "grid-code" }, properties.code),
    h(
      "table",
      { class: "compact" },
      h("tr", {}, h("th", {}, t("planner.residents")), h("td", { "data-testid": "grid-residents" }, num(properties.residents))),
      h("tr", {}, h("th", {}, t("planner.households")), h("td", {}, num(properties.households))),
      h("tr", {}, h("th", {}, t("planner.deviation")), h("td", { "data-testid": "grid-deviation" }, pct(deviation))),
      h("tr", {}, h("th", {}, t("planner.compactness")), h("td", {}, num(properties.compactness, 2))),
      missing !== undefined &&
        h("tr", {}, h("th", {}, t("planner.missing")), h("td", { "data-testid": "grid-missing" }, missing.length ? missing.map((r) => ROLE_NAMES[r] ?? r).join("、") : "–")),
    ),
  );
  if (onLock) {
    section.append(h("label", { class: "row" },
      h("input", { type: "checkbox", "data-testid": "lock", checked: locked, onchange: onLock }), t("planner.lock")));
  }
  if (locked && lockedBy) section.append(h("p", { class: "hint", "data-testid": "locked-by" }, `🔒 ${t("planner.lockedby", { by: lockedBy })}`));
  section.dataset.code = properties.code;
  section.dataset.residents = String(properties.residents);
  section.hidden = false;
}

/** An edit's answer: what changed, the diff, the validation; Keep and (when possible) Discard. */
export function renderResult(section, result, { onKeep, onDiscard, canDiscard }) {
  const report = result.report;
  const errors = report.issues.filter((i) => i.severity === "error");
  const warnings = report.issues.filter((i) => i.severity !== "error");
  fill(
    section,
    h("strong", {}, `${t("planner.revision")} ${result.revision.number} · ${operationName(result.revision.operation)}`),
    h("h3", {}, t("planner.diff")),
    h("ul", { "data-testid": "changed" }, result.changed.map((line) => h("li", {}, line))),
    h("p", {}, `${t("planner.moved")}: `, h("strong", { "data-testid": "residents-moved" }, num(result.diff.residents_moved))),
    h("h3", {}, t("planner.validation")),
    report.ok
      ? h("p", { class: "ok", "data-testid": "validation" }, `✓ ${t("planner.valid")}`)
      : h("p", { class: "error", "data-testid": "validation" }, `${t("planner.invalid")}: ${errors.length}`),
    h("ul", {}, [...errors, ...warnings].slice(0, 8).map((issue) => h("li", { class: issue.severity === "error" ? "error" : "muted" }, issue.detail))),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "primary", "data-testid": "keep", onclick: onKeep }, t("planner.keep")),
      h("button", { type: "button", "data-testid": "discard", disabled: !canDiscard, onclick: onDiscard }, t("planner.discard")),
    ),
  );
  section.hidden = false;
}

export function renderComparison(section, diff, changedAtoms, buildings) {
  fill(
    section,
    h("h3", {}, t("planner.changed")),
    h("p", {}, `${t("planner.moved")}: `, h("strong", { "data-testid": "compare-moved" }, num(diff.residents_moved)), ` · ${changedAtoms} atoms · ${buildings} buildings`),
    h("ul", {}, diff.flows.slice(0, 12).map((f) => h("li", {}, `${f.from} → ${f.to}: ${num(f.residents)}`))),
  );
  section.hidden = false;
}

/** A paint previewed in the browser before the server answers: both grids' new totals. */
export function renderPreview(section, { atom, from, to, target, others = [], onCommit = null, count = 1 }) {
  const row = (grid, delta) => {
    if (!grid) return null;
    const residents = grid.residents + delta;
    return h("tr", {}, h("th", {}, grid.name ?? grid.code),
      h("td", { "data-testid": `preview-${delta > 0 ? "to" : "from"}` }, num(residents)),
      h("td", {}, pct(residents / target - 1)));
  };
  fill(section,
    h("strong", {}, t("planner.preview")),
    h("table", { class: "compact" },
      h("tr", {}, h("th", {}, t("planner.grid")), h("th", {}, t("planner.residents")), h("th", {}, t("planner.deviation"))),
      row(to, atom.residents), row(from, -atom.residents), others.map(([grid, delta]) => row(grid, delta))),
    onCommit && h("div", { class: "row" },
      h("button", { type: "button", class: "primary", "data-testid": "commit-batch", onclick: onCommit }, t("planner.commitbatch", { n: count })),
      h("span", { class: "hint" }, t("planner.batchhint"))),
  );
  section.dataset.residents = String(atom.residents);
  section.dataset.count = String(count);
  section.hidden = false;
}

/** The plan's revisions from the server (they survive a reload), newest first. */
export function renderHistory(section, revisions, current) {
  const ordered = [...revisions].sort((a, b) => b.number - a.number);
  fill(section,
    h("summary", {}, `${t("planner.history")} (${revisions.length})`),
    h("ol", { class: "timeline", reversed: true, "data-testid": "history" },
      ordered.map((r) => h("li", { class: r.number === current ? "current" : null },
        `${t("planner.revision")} ${r.number} · ${operationName(r.operation)} · ${r.created_by ?? ""} · ${r.created_at?.slice(0, 16).replace("T", " ") ?? ""}`))),
  );
}

function operationName(operation) {
  const key = `operation.${operation}`;
  return t(key) === key ? operation : t(key);
}
