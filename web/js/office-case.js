// The case panel of /office: one incident, its stage and limits, the steps the signed-in user
// may take now (the server's `actions`: nobody sees a button for another role's step), what a
// step needs (a department or staff member to dispatch to, hours of an extension, a
// satisfaction), the photos before and after, and the timeline.
import { get, objectUrl, patch, upload } from "./api.js";
import { fill, h } from "./dom.js";
import { language, t } from "./i18n.js";
import { statusBadge, timeline } from "./incidents.js";

const DISPATCH = new Set(["dispatch", "redispatch"]);
const HOURS = new Set(["request_extension", "approve_extension"]);
const REASON = new Set(["return", "request_extension", "reject"]);

/** Show the case `answer` (GET /api/incidents/{id}) in `box`; `onChange()` after each step. */
export function showCase(box, answer, { onChange } = {}) {
  const { incident, events, responsible = [], departments = [], photos = [] } = answer;
  const path = `/api/incidents/${encodeURIComponent(incident.id)}`;
  const staffName = new Map(responsible.map((p) => [p.staff_id, p.name]));
  const deptName = new Map(departments.map((d) => [d.code, d.name]));
  const actions = incident.actions ?? [];
  const error = h("p", { class: "error", hidden: true, role: "alert" });
  const note = h("input", { name: "note", "data-i18n-placeholder": "case.note", placeholder: t("case.note") });
  const target = h(
    "select",
    { name: "target", "data-testid": "dispatch-target" },
    h("optgroup", { label: t("case.departments") }, departments.map((d) => h("option", { value: `department:${d.code}` }, `${d.name}${d.phone ? ` (${d.phone})` : ""}`))),
    h("optgroup", { label: t("case.staff") }, responsible.map((p) => h("option", { value: `assignee:${p.staff_id}` }, `${p.name} (${t(`role.${p.role}`)})`))),
  );
  const hours = h("input", { name: "hours", type: "number", min: "0.5", max: "400", step: "0.5", value: String(incident.extension_hours ?? 8), "data-testid": "hours" });
  const satisfaction = h(
    "select",
    { name: "satisfaction", "data-testid": "satisfaction" },
    [5, 4, 3, 2, 1].map((n) => h("option", { value: String(n) }, t(`case.satisfaction.${n}`))),
  );
  const needs = (kind) => actions.some((a) => kind.has(a.action));

  const fail = (failure) => {
    error.textContent = `${t("error")}: ${failure.message}`;
    error.hidden = false;
  };
  const reload = async () => {
    showCase(box, await get(path), { onChange });
    onChange?.();
  };
  const act = async (action) => {
    const body = { version: incident.version, action };
    if (note.value.trim()) body.note = note.value.trim();
    if (DISPATCH.has(action)) {
      const [field, value] = target.value.split(/:(.*)/s);
      body[field] = value;
    }
    if (HOURS.has(action)) body.hours = Number(hours.value);
    if (action === "evaluate") body.satisfaction = Number(satisfaction.value);
    if (REASON.has(action) && !body.note) {
      note.focus();
      fail(new Error(t("case.reason")));
      return;
    }
    try {
      await patch(path, body);
    } catch (failure) {
      fail(failure);
      return;
    }
    await reload();
  };

  const file = h("input", { type: "file", name: "file", accept: "image/jpeg,image/png,image/webp", "data-testid": "photo-file" });
  const kind = h(
    "select",
    { name: "kind" },
    ["before", "after"].map((k) => h("option", { value: k, selected: k === (["handling", "handled"].includes(incident.status) ? "after" : "before") }, t(`case.kind.${k}`))),
  );
  const send = async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    const form = new FormData();
    form.append("file", file.files[0]);
    form.append("kind", kind.value);
    try {
      await upload(`${path}/photos`, form);
    } catch (failure) {
      fail(failure);
      return;
    }
    await reload();
  };
  const gallery = h("div", { class: "photos", "data-testid": "photos" });
  for (const photo of photos) {
    const img = h("img", { alt: t(`case.kind.${photo.kind}`), width: 96, dataset: { seq: String(photo.seq), kind: photo.kind } });
    objectUrl(photo.url).then((url) => {
      img.src = url;
      img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    }, fail);
    gallery.append(h("figure", {}, img, h("figcaption", { class: "muted" }, t(`case.kind.${photo.kind}`))));
  }

  const label = (a) => (language() === "zh-CN" ? a.label : a.label_en) || t(`action.${a.action}`);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  fill(
    box,
    h("h2", {}, incident.category, " ", statusBadge(incident.status), incident.overdue && [" ", h("span", { class: "badge overdue" }, t("office.overdue"))]),
    h("p", { class: "muted" }, `${incident.id} · ${t("office.pickgrid")} ${incident.grid_code ?? "–"}`),
    incident.description && h("p", {}, incident.description),
    h(
      "dl",
      { class: "facts", "data-testid": "case-facts" },
      incident.stage && [h("dt", {}, t("case.stage")), h("dd", {}, language() === "zh-CN" ? incident.stage : incident.stage_en)],
      h("dt", {}, t("case.stage_deadline")),
      h(
        "dd",
        { "data-testid": "stage-deadline", dataset: { at: incident.stage_deadline ?? "" } },
        when(incident.stage_deadline),
        incident.stage_overdue && [" ", h("span", { class: "badge overdue" }, t("case.stage_overdue"))],
        incident.due_soon && [" ", h("span", { class: "badge soon" }, t("case.due_soon"))],
      ),
      h("dt", {}, t("office.deadline")),
      h("dd", {}, when(incident.deadline)),
      incident.department && [h("dt", {}, t("case.department")), h("dd", { "data-testid": "department" }, deptName.get(incident.department) ?? incident.department)],
      incident.assignee && [h("dt", {}, t("office.assignee")), h("dd", {}, staffName.get(incident.assignee) ?? incident.assignee)],
      incident.extension_hours != null && [h("dt", {}, t("case.extension")), h("dd", { "data-testid": "extension" }, t("case.extension_pending", { hours: incident.extension_hours }))],
      incident.satisfaction != null && [h("dt", {}, t("case.satisfaction")), h("dd", {}, t(`case.satisfaction.${incident.satisfaction}`))],
    ),
    actions.length > 0 && [
      needs(DISPATCH) && h("label", {}, t("case.dispatch_to"), " ", target),
      needs(HOURS) && h("label", {}, t("case.hours"), " ", hours),
      actions.some((a) => a.action === "evaluate") && h("label", {}, t("case.satisfaction"), " ", satisfaction),
      note,
      h(
        "div",
        { class: "toolbar", "data-testid": "actions" },
        actions.map((a) => h("button", { type: "button", class: "primary", dataset: { action: a.action }, onclick: () => act(a.action) }, label(a))),
      ),
    ],
    actions.length === 0 && h("p", { class: "muted", "data-testid": "no-actions" }, t("case.noactions")),
    error,
    h("h3", {}, t("case.photos")),
    gallery,
    h("form", { class: "row", "data-testid": "photo-form", onsubmit: send }, kind, file, h("button", { type: "submit" }, t("case.upload"))),
    h("h3", {}, t("office.timeline")),
    timeline(events),
  );
  box.hidden = false;
  box.dataset.id = incident.id;
  box.dataset.status = incident.status;
  box.dataset.version = String(incident.version);
  box.dataset.photos = String(photos.length);
}
