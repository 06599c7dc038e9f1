// "Report a problem here": a resident's report through the Open311 GeoReport v2 endpoint
// (POST /open311/v2/requests.json, form-encoded), at the point of the grid card.
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** A form that reports a problem at (lon, lat); it says the request number when sent. */
export function reportForm(lon, lat, answer) {
  const status = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  const category = h("select", { id: "report-category", name: "service_code", required: true });
  const form = h(
    "form",
    { class: "stack report-form", id: "report" },
    h("h3", {}, t("resident.report.title")),
    h("label", { for: "report-category" }, t("resident.report.category")),
    category,
    h("label", { for: "report-description" }, t("resident.report.description")),
    h("textarea", { id: "report-description", name: "description", rows: 3, maxlength: 2000, required: true }),
    h("button", { class: "primary", type: "submit" }, t("resident.report.send")),
    status,
  );
  fetch("/open311/v2/services.json")
    .then((answer) => answer.json())
    .then((services) => category.replaceChildren(...services.map((s) => h("option", { value: s.service_code }, s.service_name))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    data.set("lat", lat.toFixed(7));
    data.set("long", lon.toFixed(7));
    data.set("address_string", answer.grid.name ?? answer.grid.code);
    const sent = await fetch("/open311/v2/requests.json", { method: "POST", body: new URLSearchParams(data) });
    const body = await sent.json().catch(() => null);
    if (!sent.ok) {
      status.className = "error";
      status.textContent = `${t("error")}: ${body?.detail ?? sent.status}`;
      return;
    }
    status.className = "ok";
    status.textContent = t("resident.report.sent", { id: body[0].service_request_id });
    form.dataset.sent = body[0].service_request_id;
    for (const field of form.querySelectorAll("select, textarea, button")) field.disabled = true;
  });
  return form;
}
