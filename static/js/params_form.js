// The analysis parameters as a form, built from the API schema (component AnalysisParametersRequest).
// Self-contained: it fills #run-params-form inside the "Advanced parameters" section and writes the
// values a user changes into the JSON box #run-params, which the Run panel sends as `parameters`.
// Empty fields are left out (the server's defaults, shown as placeholders, apply).

const FORM_ID = "run-params-form";
const BOX_ID = "run-params";
const ROOT = "AnalysisParametersRequest";
const SKIP = new Set(["year_start_month"]); // the Run panel has its own field for it

function resolve(schema, node) {
  if (node && node.$ref) return schema.components.schemas[node.$ref.split("/").pop()];
  if (node && node.allOf && node.allOf.length === 1) return { ...resolve(schema, node.allOf[0]), ...node, allOf: undefined };
  return node || {};
}

function input(schema, name, prop, path) {
  const p = resolve(schema, prop);
  const id = `param-${path.join("-")}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = name;
  label.title = p.description || "";
  let el;
  if (p.enum) {
    el = document.createElement("select");
    el.append(new Option(`default (${p.default ?? "none"})`, ""));
    for (const v of p.enum) if (v !== null && v !== "") el.append(new Option(String(v), String(v)));
  } else if (p.type === "boolean") {
    el = document.createElement("select");
    el.append(new Option(`default (${p.default})`, ""), new Option("yes", "true"), new Option("no", "false"));
  } else {
    el = document.createElement("input");
    el.type = p.type === "integer" || p.type === "number" ? "number" : "text";
    if (p.minimum !== undefined) el.min = p.minimum;
    if (p.maximum !== undefined) el.max = p.maximum;
    el.step = p.type === "integer" ? "1" : "any";
    el.placeholder = p.default === undefined || p.default === null ? "default" : String(p.default);
  }
  el.id = id;
  el.dataset.path = JSON.stringify(path);
  el.dataset.kind = p.type === "boolean" ? "boolean" : p.type === "integer" || p.type === "number" ? "number" : "text";
  const row = document.createElement("div");
  row.className = "param";
  row.append(label, el);
  return row;
}

function build(schema, node, path, container) {
  for (const [name, prop] of Object.entries(resolve(schema, node).properties || {})) {
    if (path.length === 0 && SKIP.has(name)) continue;
    const p = resolve(schema, prop);
    if (p.type === "array") continue; // change_pair: kept in the JSON box
    if (p.properties) {
      const set = document.createElement("details");
      set.className = "box";
      const summary = document.createElement("summary");
      summary.textContent = name;
      summary.title = p.description || "";
      set.append(summary);
      build(schema, p, [...path, name], set);
      container.append(set);
    } else {
      container.append(input(schema, name, prop, [...path, name]));
    }
  }
}

function sync(form, box) {
  let value = {};
  try { value = box.value.trim() ? JSON.parse(box.value) : {}; } catch { return; } // the user's JSON wins
  for (const el of form.querySelectorAll("[data-path]")) {
    const path = JSON.parse(el.dataset.path);
    let node = value;
    for (const key of path.slice(0, -1)) node = node[key] = typeof node[key] === "object" && node[key] ? node[key] : {};
    const key = path[path.length - 1];
    if (el.value === "") delete node[key];
    else node[key] = el.dataset.kind === "number" ? Number(el.value) : el.dataset.kind === "boolean" ? el.value === "true" : el.value;
  }
  for (const [k, v] of Object.entries(value)) if (v && typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length) delete value[k];
  box.value = Object.keys(value).length ? JSON.stringify(value) : "";
}

async function init() {
  const form = document.getElementById(FORM_ID);
  const box = document.getElementById(BOX_ID);
  if (!form || !box) return;
  const response = await fetch("/api/schema/?format=json", { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const schema = await response.json();
  if (!schema.components?.schemas?.[ROOT]) return;
  build(schema, schema.components.schemas[ROOT], [], form);
  form.addEventListener("change", () => sync(form, box));
}

init();
