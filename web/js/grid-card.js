// The grid card of a lookup answer: the grid head and a call button first, the other staff
// behind "more", then grid name and code, community and street, the community office (first
// when the grid has no staff).
import { fill, h, num } from "./dom.js";
import { messageIn, t } from "./i18n.js";

/** The role's name in the page's language (a role the messages do not know: the server's). */
export function roleName(person) {
  const key = `role.${person.role}`;
  const known = t(key);
  return known === key ? (person.role_name ?? person.role) : known;
}

/** Fill `section` with the card of `answer` (GET /api/lookup's body); `extra` goes last. */
export function renderGridCard(section, answer, extra = null) {
  const { grid, community, street, neighbour } = answer;
  const office = answer.office ?? null;
  const staff = grid.staff ?? [];
  const head = staff.find((person) => person.role === "grid_head") ?? staff[0];
  const others = staff.filter((person) => person !== head);
  fill(section,
    h("h2", { "data-testid": "grid-name", id: "card-title" }, grid.name ?? grid.code),
    head
      ? h("div", { class: "head", "data-testid": "staff" },
          staffItem(head, true),
          others.length > 0 && h("details", {},
            h("summary", {}, t("card.more", { n: others.length })),
            h("ul", { class: "plain staff" }, others.map((person) => h("li", {}, staffItem(person, false)))),
          ))
      : office
        ? h("div", { class: "head", "data-testid": "staff" },
            h("p", { class: "muted" }, t("card.asktheoffice")),
            officeItem(office, true))
        : h("p", { class: "muted" }, t("card.nostaff")),
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
        h("dt", {}, t("card.population")),
        h("dd", {}, `${num(grid.residents)} ${t("card.residents")} · ${num(grid.households)} ${t("card.households")}`),
      ],
      office && head && [h("dt", {}, t("card.office")), h("dd", { "data-testid": "office" }, officeItem(office, false))],
    ),
    neighbour && h("p", { class: "hint" }, `${t("card.near")} ${neighbour.name ?? neighbour.code} (${num(neighbour.distance_m)} m)`),
    extra,
  );
  section.hidden = false;
}

/** The community office (GET /api/lookup's `office`): name, address, hours and a call link. */
function officeItem(office, first) {
  const phone = office.phone?.replace(/[^\d+]/g, "");
  return h(
    "div",
    { class: first ? "person first office" : "office", "data-testid": "office-card" },
    h("span", { class: "name" }, office.name),
    phone && h("a", { class: first ? "tel call" : "tel", href: `tel:${phone}` },
      `☎ ${first ? `${t("card.call")} ` : ""}${office.phone}`),
    office.address && h("div", { class: "muted" }, office.address),
    office.hours && h("div", { class: "muted" }, `${t("card.hours")}: ${office.hours}`),
  );
}

function staffItem(person, first) {
  const phone = person.phone?.replace(/[^\d+]/g, "");
  return h(
    "div",
    { class: first ? "person first" : "person" },
    h("span", { class: "role" }, roleName(person)),
    " ",
    h("span", { class: "name" }, person.name),
    phone && h("a", { class: first ? "tel call" : "tel", href: `tel:${phone}` },
      `☎ ${first ? `${t("card.call")} ` : ""}${person.phone}`),
    person.duties && h("div", { class: "muted" }, `${t("card.duties")}: ${duties(person)}`),
  );
}

/** A role's duties in the page's language when they are the default text of that role. */
function duties(person) {
  const key = `duties.${person.role}`;
  return person.duties === messageIn("zh-CN", key) ? t(key) : person.duties;
}
