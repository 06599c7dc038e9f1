// Publishing as an act: before a plan is put in force, the admin sees what it changes against
// the plan in force (grids changed, residents moved, open incidents in the changed grids, whose
// grid must be checked) and confirms in a dialog. The API puts a plan in force at once: it has
// no effective date yet, so the dialog says "at once" rather than offering a date it would ignore.
import { get } from "./api.js";
import { h, num } from "./dom.js";
import { t } from "./i18n.js";

/** Ask the admin to confirm publishing `plan`; resolves true (publish) or false (cancel). */
export async function confirmPublish(plan) {
  const summary = await publishSummary(plan.id);
  const dialog = h(
    "dialog",
    { class: "card confirm", id: "publish-dialog", "aria-labelledby": "publish-title" },
    h("h2", { id: "publish-title" }, t("publish.title", { plan: `${plan.id} · ${plan.name}` })),
    h("ul", { "data-testid": "publish-summary" },
      h("li", {}, `${t("publish.grids")}: `, h("strong", { "data-testid": "publish-grids" }, summary.grids ?? "–")),
      h("li", {}, `${t("publish.residents")}: `, h("strong", { "data-testid": "publish-residents" }, summary.residents == null ? "–" : num(summary.residents))),
      h("li", {}, `${t("publish.incidents")}: `, h("strong", { "data-testid": "publish-incidents" }, summary.incidents ?? "–")),
    ),
    h("p", { class: "hint" }, t("publish.when")),
    h("form", { method: "dialog", class: "row" },
      h("button", { value: "publish", class: "primary", "data-testid": "publish-confirm" }, t("publish.confirm")),
      h("button", { value: "cancel", "data-testid": "publish-cancel" }, t("publish.cancel")),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "publish");
      dialog.remove();
    });
  });
}

async function publishSummary(planId) {
  try {
    const diff = await get(`/api/plans/${encodeURIComponent(planId)}/diff`, { against: "published" });
    const changed = new Set([...diff.added, ...diff.removed, ...diff.flows.flatMap((f) => [f.from, f.to])]);
    let incidents = null;
    try {
      const open = await get("/api/layers/incidents");
      incidents = open.features.filter((f) => f.properties.status !== "closed" && changed.has(f.properties.grid_code)).length;
    } catch {
      incidents = null; // not fatal: the summary says "–"
    }
    return { grids: changed.size, residents: diff.residents_moved, incidents };
  } catch {
    return {};
  }
}
