// Submitting a draft for publication (planners do not publish): a planner submits the draft
// with a note (提交审核) or withdraws it; an admin sees who submitted which revision, when and
// why (and that it was edited since, if so) and may send it back with a reason, which the
// planner then sees. The admin publishes through the confirmation in planner-publish.js.
import { del, post, role } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** A time as Beijing time, in the page's language. */
export function beijingTime(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(document.documentElement.lang || "zh-CN", {
    timeZone: "Asia/Shanghai",
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** One line saying where a plan's submission stands (none, submitted by whom, sent back why). */
export function submissionText(sub) {
  if (!sub) return t("submit.none");
  const values = { by: sub.submitted_by, at: beijingTime(sub.submitted_at), revision: sub.revision };
  if (sub.state === "refused") return t("submit.refused", { ...values, admin: sub.refused_by, reason: sub.reason ?? "" });
  return t("submit.submitted", values);
}

/** Whether a plan is a draft waiting for an admin (submitted, not sent back). */
export function waiting(plan) {
  return plan.status === "draft" && plan.submission?.state === "submitted";
}

/** Draw the submission of `plan` into `section` with its actions; `changed(submission)` is
 * called with the server's answer after each act, `failed(error)` on a refusal. */
export function showSubmission(section, plan, { changed, failed }) {
  section.hidden = plan?.status !== "draft";
  if (section.hidden) {
    section.replaceChildren();
    return;
  }
  const sub = plan.submission;
  const admin = role() === "admin";
  const base = `/api/plans/${encodeURIComponent(plan.id)}`;
  const act = (call) => async (event) => {
    event.preventDefault();
    try {
      changed((await call()).submission);
    } catch (error) {
      failed(error);
    }
  };
  const parts = [
    h("h2", { id: "submission-title" }, t("submit.title")),
    h("p", { "data-testid": "submission-state", "data-state": sub?.state ?? "none" }, submissionText(sub)),
  ];
  if (sub?.note) parts.push(h("p", { "data-testid": "submission-note" }, `${t("submit.note")}: ${sub.note}`));
  if (sub?.stale && sub.state === "submitted") parts.push(h("p", { class: "hint", "data-testid": "submission-stale" }, t("submit.stale", { revision: sub.revision })));
  if (sub?.state === "submitted") {
    parts.push(h("p", { class: "row" }, h("button", { type: "button", "data-testid": "submission-withdraw", onclick: act(() => del(`${base}/submit`)) }, t("submit.withdraw"))));
    if (admin) {
      const reason = h("input", { type: "text", id: "refuse-reason", name: "reason", required: true, maxlength: 1000, "data-testid": "refuse-reason" });
      parts.push(
        h("form", { class: "row", onsubmit: act(() => post(`${base}/refuse`, { reason: reason.value })) },
          h("label", { for: "refuse-reason" }, t("submit.reason")), reason,
          h("button", { type: "submit", "data-testid": "submission-refuse" }, t("submit.refuse"))),
      );
    }
  } else if (!admin) {
    const note = h("textarea", { id: "submit-note", name: "note", rows: 2, maxlength: 1000, "data-testid": "submit-note" });
    parts.push(
      h("form", { class: "submit-form", onsubmit: act(() => post(`${base}/submit`, { note: note.value })) },
        h("label", { for: "submit-note" }, t("submit.notelabel")), note,
        h("button", { type: "submit", class: "primary", "data-testid": "submit-plan" }, t("submit.button"))),
    );
  }
  section.replaceChildren(...parts);
}
