// The grid card of a lookup answer: grid name and code, community and street, the staff by
// role with their public phone (tap to call), office address and duties.
import { fill, h, num } from "./dom.js";
import { t } from "./i18n.js";

/** Fill `section` with the card of `answer` (GET /api/lookup's body). */
export function renderGridCard(section, answer) {
  const { grid, community, street, neighbour } = answer;
  const office = grid.office ?? community.office ?? null;
  fill(section,
    h("h2", { "data-testid": "grid-name" }, grid.name ?? grid.code),
    h(
      "dl",
      {},
      h("dt", {}, t("card.code")),
      h("dd", { "data-testid": "grid-code" }, grid.code),
      h("dt", {}, t("card.community")),
      h("dd", { "data-testid": "community" }, community.short_name ?? community.name),
      h("dt", {}, t("card.street")),
      h("dd", { "data-testid": "street" }, street.short_name ?? street.name),
      grid.residents != null && [
        h("dt", {}, t("card.residents")),
        h("dd", {}, `${num(grid.residents)} ${t("card.residents")} · ${num(grid.households)} ${t("card.households")}`),
      ],
      office && [h("dt", {}, t("card.office")), h("dd", {}, office)],
    ),
    h("h3", {}, t("card.staff")),
    grid.staff?.length
      ? h("ul", { class: "plain staff", "data-testid": "staff" }, grid.staff.map(staffItem))
      : h("p", { class: "muted" }, t("card.nostaff")),
    neighbour && h("p", { class: "hint" }, `${t("card.near")} ${neighbour.name ?? neighbour.code} (${num(neighbour.distance_m)} m)`),
  );
  section.hidden = false;
}

function staffItem(person) {
  return h(
    "li",
    {},
    h("span", { class: "role" }, person.role_name ?? person.role),
    " ",
    h("span", { class: "name" }, person.name),
    person.phone && h("a", { class: "tel", href: `tel:${person.phone.replace(/[^\d+]/g, "")}`, title: t("card.call") }, `☎ ${person.phone}`),
    person.duties && h("div", { class: "muted" }, `${t("card.duties")}: ${person.duties}`),
  );
}
