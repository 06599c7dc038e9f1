// Publishing as an act: before a plan is put in force, the admin sees what it changes against
// the plan in force (grids changed, residents moved, open incidents in the changed grids, whose
// grid must be checked), picks the date it takes effect (default today: at once) and confirms.
// A later date keeps the plan in force until that day; the server moves the open incidents then.
// Beside the summary stands the planner's submission (who, when, the note; edited since?), or
// a line saying nobody submitted it (an admin may still publish it).
import { get } from "./api.js";
import { h, num } from "./dom.js";
import { t } from "./i18n.js";
import { beijingTime } from "./planner-submit.js";

/** Today in Beijing time, as YYYY-MM-DD (what a date input holds). */
function today() {
  const beijing = new Date(Date.now() + 8 * 3600 * 1000);
  return beijing.toISOString().slice(0, 10);
}

/** Ask the admin to confirm publishing `plan`; resolves null (cancel) or
 * `{ effective_from: "YYYY-MM-DD" }` (today: at once). */
export async function confirmPublish(plan) {
  const summary = await publishSummary(plan.id);
  const date = h("input", { type: "date", id: "publish-date", name: "effective_from", value: today(), min: today(), required: true, "data-testid": "publish-date" });
  const dialog = h(
    "dialog",
    { class: "card confirm", id: "publish-dialog", "aria-labelledby": "publish-title" },
    h("h2", { id: "publish-title" }, t("publish.title", { plan: `${plan.id} · ${plan.name}` })),
    h("ul", { "data-testid": "publish-summary" },
      h("li", {}, `${t("publish.grids")}: `, h("strong", { "data-testid": "publish-grids" }, summary.grids ?? "–")),
      h("li", {}, `${t("publish.residents")}: `, h("strong", { "data-testid": "publish-residents" }, summary.residents == null ? "–" : num(summary.residents))),
      h("li", {}, `${t("publish.incidents")}: `, h("strong", { "data-testid": "publish-incidents" }, summary.incidents ?? "–")),
    ),
    submissionBlock(plan),
    h("p", { class: "row" }, h("label", { for: "publish-date" }, t("publish.date")), date),
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
      resolve(dialog.returnValue === "publish" ? { effective_from: date.value || today() } : null);
      dialog.remove();
    });
  });
}

/** What the planner submitted (who, when, which revision, the note), or that nobody did. */
function submissionBlock(plan) {
  const sub = plan.submission;
  if (sub?.state !== "submitted") return h("p", { class: "hint", "data-testid": "publish-submission", "data-state": "none" }, t("publish.unsubmitted"));
  return h("section", { "data-testid": "publish-submission", "data-state": "submitted" },
    h("h3", {}, t("publish.submission")),
    h("p", { "data-testid": "publish-submitted-by" }, t("publish.submittedby", { by: sub.submitted_by, at: beijingTime(sub.submitted_at), revision: sub.revision })),
    sub.note ? h("blockquote", { "data-testid": "publish-note" }, sub.note) : null,
    sub.stale ? h("p", { class: "warn", "data-testid": "publish-stale" }, t("publish.stale", { head: plan.head, revision: sub.revision })) : null,
  );
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
