// The street office's 统计 view: the assessment (GET /api/stats) for a grouping and a month,
// its export (CSV, XLSX), and the month's subsidy sheet per grid worker (GET
// /api/stats/subsidies) with its export; an admin sets the subsidy rules here too.
import { download, get, request, role } from "./api.js";
import { h, num } from "./dom.js";
import { onLanguageChange, t, translate } from "./i18n.js";

const GROUPINGS = ["grid", "staff", "community", "street", "month", "category"];
const RULES = ["base_yuan", "assessed_yuan", "full_share", "reopened_deduction_yuan"];

function thisMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

function share(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 1000) / 10}%`;
}

function statsTable(answer) {
  const stages = answer.statuses;
  const head = [
    t(`stats.key.${answer.group_by}`),
    t("stats.total"),
    ...stages.map((s) => t(`status.${s}`)),
    t("stats.closed"),
    t("stats.on_time"),
    t("stats.overdue"),
    t("stats.on_time_share"),
    t("stats.reopened"),
    t("stats.mean_hours"),
    t("stats.mean_working_hours"),
    t("stats.satisfaction"),
  ];
  const line = (row, label, extra = {}) =>
    h(
      "tr",
      extra,
      h("th", { scope: "row" }, label),
      h("td", {}, num(row.total)),
      stages.map((s) => h("td", {}, num(row.by_stage[s]))),
      h("td", {}, num(row.closed)),
      h("td", {}, num(row.on_time)),
      h("td", { class: row.overdue ? "error" : null }, num(row.overdue)),
      h("td", {}, share(row.on_time_share)),
      h("td", {}, num(row.reopened)),
      h("td", {}, num(row.mean_hours, 1)),
      h("td", {}, num(row.mean_working_hours, 1)),
      h("td", {}, row.rated ? `${num(row.mean_satisfaction, 2)} (${row.rated})` : "–"),
    );
  return h(
    "table",
    { class: "compact stats-table", "data-testid": "stats-table" },
    h("thead", {}, h("tr", {}, head.map((text) => h("th", { scope: "col" }, text)))),
    h(
      "tbody",
      {},
      answer.rows.map((row) =>
        line(row, row.name ? `${row.name} (${row.key})` : (row.key ?? t("stats.none")), { dataset: { key: row.key ?? "" } }),
      ),
    ),
    h("tfoot", {}, line(answer.totals, t("stats.all"), { class: "totals" })),
  );
}

function subsidyTable(sheet) {
  const columns = ["staff_id", "name", "cases", "on_time", "overdue", "on_time_share", "reopened", "base_yuan", "assessed_yuan", "total_yuan"];
  return h(
    "table",
    { class: "compact", "data-testid": "subsidy-table" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, t(`subsidy.${c}`))))),
    h(
      "tbody",
      {},
      sheet.workers.map((w) =>
        h(
          "tr",
          { dataset: { staff: w.staff_id } },
          columns.map((c) => h("td", {}, c === "on_time_share" ? share(w[c]) : c.endsWith("_yuan") ? num(w[c], 2) : (w[c] ?? "–"))),
        ),
      ),
    ),
  );
}

function rulesForm(rules, onSaved) {
  const admin = role() === "admin";
  const fields = RULES.map((name) =>
    h("label", {}, t(`subsidy.rule.${name}`), " ", h("input", { name, type: "number", min: 0, step: "any", value: rules[name], disabled: !admin, style: "width:6rem" })),
  );
  const proRata = h("label", {}, h("input", { name: "pro_rata", type: "checkbox", checked: rules.pro_rata, disabled: !admin }), " ", t("subsidy.rule.pro_rata"));
  const error = h("p", { class: "error", hidden: true });
  const form = h(
    "form",
    { class: "row", id: "subsidy-rules", "data-testid": "subsidy-rules" },
    fields,
    proRata,
    admin && h("button", { type: "submit", class: "primary" }, t("subsidy.rule.save")),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = Object.fromEntries(RULES.map((name) => [name, Number(data.get(name))]));
    body.pro_rata = form.elements.pro_rata.checked;
    try {
      await request("/api/stats/subsidy-rules", { method: "PUT", body });
      onSaved();
    } catch (failure) {
      error.textContent = `${t("error")}: ${failure.message}`;
      error.hidden = false;
    }
  });
  return form;
}

/** The 统计 view in `root`; `tabs` (buttons with data-view="cases" | "stats") switch views. */
export function mountStats(root, tabs) {
  const cases = document.querySelector("main.split");
  const grouping = h("select", { name: "group_by", id: "stats-group" }, GROUPINGS.map((g) => h("option", { value: g, "data-i18n": `stats.by.${g}` }, t(`stats.by.${g}`))));
  const month = h("input", { type: "month", name: "month", id: "stats-month", value: thisMonth() });
  const table = h("div", { class: "scroll" });
  const subsidies = h("div", { class: "scroll" });
  const rules = h("div", {});
  const error = h("p", { class: "error", hidden: true });
  const params = () => ({ group_by: grouping.value, month: month.value || undefined });
  const exportButton = (kind, path, query) =>
    h("button", { type: "button", "data-export": `${path}.${kind}`, onclick: () => download(`${path}.${kind}`, query()).catch(show) }, t(`stats.export.${kind}`));

  function show(failure) {
    error.textContent = `${t("error")}: ${failure.message}`;
    error.hidden = false;
  }

  async function load() {
    error.hidden = true;
    root.dataset.ready = "false";
    try {
      const [answer, sheet, current] = await Promise.all([
        get("/api/stats", params()),
        get("/api/stats/subsidies", { month: month.value || thisMonth() }),
        get("/api/stats/subsidy-rules"),
      ]);
      table.replaceChildren(statsTable(answer));
      subsidies.replaceChildren(subsidyTable(sheet));
      rules.replaceChildren(rulesForm(current, load));
    } catch (failure) {
      show(failure);
    }
    root.dataset.ready = "true";
  }

  root.replaceChildren(
    h("h2", { "data-i18n": "stats.title" }, t("stats.title")),
    h(
      "div",
      { class: "row toolbar" },
      h("label", {}, h("span", { "data-i18n": "stats.group" }, t("stats.group")), " ", grouping),
      h("label", {}, h("span", { "data-i18n": "stats.month" }, t("stats.month")), " ", month),
      exportButton("csv", "/api/stats", params),
      exportButton("xlsx", "/api/stats", params),
    ),
    error,
    table,
    h("h2", { "data-i18n": "subsidy.title" }, t("subsidy.title")),
    rules,
    h("div", { class: "row toolbar" }, exportButton("csv", "/api/stats/subsidies", () => ({ month: month.value || thisMonth() })), exportButton("xlsx", "/api/stats/subsidies", () => ({ month: month.value || thisMonth() }))),
    subsidies,
  );
  grouping.addEventListener("change", load);
  month.addEventListener("change", load);

  let loaded = false;
  function choose(view) {
    for (const button of tabs.querySelectorAll("button[data-view]")) button.setAttribute("aria-pressed", String(button.dataset.view === view));
    root.hidden = view !== "stats";
    cases.hidden = view === "stats";
    if (view === "stats" && !loaded) {
      loaded = true;
      load();
    }
  }
  for (const button of tabs.querySelectorAll("button[data-view]")) button.addEventListener("click", () => choose(button.dataset.view));
  tabs.hidden = false;
  onLanguageChange(() => {
    translate(root);
    if (loaded) load();
  });
}
