// An expandable JSON view: objects and arrays are <details> elements whose children are built
// when first opened, so a large body costs nothing until someone looks inside.

import { h } from "./dom.js";

function scalar(value) {
  if (value === null) return h("span", { class: "j-null" }, "null");
  switch (typeof value) {
    case "string":
      return h("span", { class: "j-str" }, JSON.stringify(value));
    case "number":
      return h("span", { class: "j-num" }, String(value));
    case "boolean":
      return h("span", { class: "j-bool" }, String(value));
    default:
      return h("span", {}, String(value));
  }
}

function preview(value) {
  if (Array.isArray(value)) return `[${value.length}]`;
  const keys = Object.keys(value);
  const shown = keys.slice(0, 4).join(", ");
  return `{${shown}${keys.length > 4 ? ", …" : ""}}`;
}

/** A node for `value`; `open` levels start expanded, but for the keys in `shut`. */
export function jsonTree(value, open = 1, label = null, shut = null) {
  const name = label === null ? null : h("span", { class: "j-key" }, `${label}: `);
  if (value === null || typeof value !== "object") {
    return h("div", { class: "j-row" }, name, scalar(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const details = h("details", { class: "j-node" }, h("summary", {}, name, h("span", { class: "j-preview" }, preview(value))));
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    const body = h("div", { class: "j-children" });
    for (const [k, v] of entries) body.append(jsonTree(v, shut && shut.has(k) ? 0 : open - 1, k));
    details.append(body);
  };
  details.addEventListener("toggle", () => details.open && build());
  if (open > 0) {
    build();
    details.open = true;
  }
  return details;
}

/** Pretty JSON text (for copying). */
export function jsonText(value) {
  return JSON.stringify(value, null, 2);
}
