// A tiny element builder: h("li", {class: "x", onclick}, child, …). Text is always text.

export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A number with thousands separators, in the page's language. */
export function num(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(document.documentElement.lang || "zh-CN", {
    maximumFractionDigits: digits,
  });
}

/** A signed percentage: +12% / −8%. */
export function pct(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const rounded = Math.round(value * 100);
  return `${rounded > 0 ? "+" : ""}${rounded}%`;
}

/** Replace the children of `el` (nested arrays flattened; null, undefined and false skipped). */
export function fill(el, ...children) {
  el.replaceChildren(...h("div", {}, ...children).childNodes);
  return el;
}
