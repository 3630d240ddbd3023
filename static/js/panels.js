/* global L */
// Side panels: tabs, Data (AOIs, label sets, uploads), Run (start, progress, cancel) and Results.

import { api, ApiError, esc, fmt } from "./api.js";
import { stackedBars, legendItems, legendRamp } from "./charts.js";
import { AccuracyPanel } from "./accuracy.js";

// The stage line comes from the server's step graph (monitoring/services/pipeline/steps.py), in the page.
const PIPELINE = JSON.parse(document.getElementById("pipeline-stages")?.textContent || "[]");
export const STAGES = PIPELINE.map((s) => s.stage);
const STAGE_NAMES = Object.fromEntries(PIPELINE.map((s) => [s.stage, s.label]));
const LAYER_NAMES = {
  landcover: "Land cover", change_last_year: "Year of last change", change_count: "Number of changes",
  change_from_to: "From → to", similarity: "Similarity to previous year", esd_preview: "ESD preview",
  uncertainty: "Uncertainty (entropy)",
};

export const $ = (id) => document.getElementById(id);

/** Show a short message over the map. */
export function toast(text, isError = false) {
  const t = $("toast");
  t.textContent = text;
  t.classList.toggle("err", isError);
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 6000 : 3000);
}

/** Tabs with arrow-key navigation (WAI-ARIA tabs pattern). */
export function initTabs(onChange = null) {
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  let current = tabs.find((t) => t.getAttribute("aria-selected") === "true") || tabs[0];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    const previous = current;
    current = tab;
    if (onChange && previous !== tab) onChange(tab.id.replace(/^tab-/, ""), previous.id.replace(/^tab-/, ""));
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (d) { const next = tabs[(i + d + tabs.length) % tabs.length]; select(next); next.focus(); }
    });
  });
  return (name) => select($(`tab-${name}`));
}

/* ---------------------------------------------------------------- Data */

function reportHtml(report, what) {
  const rejected = report.rejected || [];
  let html = `<div class="ok">✔ ${esc(what)}: <b>${report.accepted ?? ""}</b> accepted${rejected.length ? `, <b>${rejected.length}</b> rejected` : ""}.</div>`;
  if (report.classes && report.classes.length) {
    html += `<p class="hint">Classes: ${report.classes.map((c) => (typeof c === "string" ? esc(c) : `<span class="swatch" style="background:${esc(c.color)}"></span> ${esc(c.name)}`)).join(", ")}</p>`;
  }
  if (report.warnings && report.warnings.length) html += `<ul class="warnings">${report.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>`;
  html += rejectedTable(rejected);
  return html;
}

function rejectedTable(rejected) {
  if (!rejected || !rejected.length) return "";
  return `<div class="rejected"><table><thead><tr><th>Row</th><th>Why it was rejected</th></tr></thead><tbody>${rejected
    .slice(0, 200).map((r) => `<tr><td>${esc(r.row)}</td><td>${esc(r.reason)}</td></tr>`).join("")}</tbody></table></div>`;
}

function errorHtml(err) {
  const body = err instanceof ApiError ? err.body : null;
  return `<div class="error" role="alert"><b>Upload rejected:</b> ${esc(err.message)}</div>${rejectedTable(body && body.rejected)}`;
}

export class DataPanel {
  constructor(app) {
    this.app = app;
    this.pending = null;
    $("aoi-upload").addEventListener("submit", (e) => { e.preventDefault(); this.uploadAoi(); });
    $("labels-upload").addEventListener("submit", (e) => { e.preventDefault(); this.uploadLabels(); });
    $("aoi-pending").addEventListener("submit", (e) => { e.preventDefault(); this.savePending(); });
    $("aoi-discard").addEventListener("click", () => this.discardPending());
    const map = app.map.map;
    map.on("draw:created", (e) => this.onDrawn(e.layer));
    map.on("draw:edited", (e) => this.onEdited(e.layers));
    map.on("draw:deleted", (e) => this.onDeleted(e.layers));
    this.loadTemplates();
  }

  async loadTemplates() {
    try {
      const names = await api("/api/templates/");
      $("template-links").innerHTML = names.map((n) => `<a href="/api/templates/${encodeURIComponent(n)}" download>${esc(n)}</a>`).join(" ");
      $("template-links").classList.remove("muted");
    } catch (err) {
      $("template-links").textContent = `unavailable (${err.message})`;
    }
  }

  async refreshAois() {
    const fc = await api("/api/aois/");
    this.app.state.aois = fc.features;
    this.app.map.setAois(fc);
    const list = $("aoi-list");
    list.innerHTML = fc.features.length ? "" : '<li class="empty">No areas yet: draw one inside a coverage patch (the dashed, named outlines on the map; click one to zoom in).</li>';
    for (const f of fc.features) {
      const li = document.createElement("li");
      li.innerHTML = `<span class="name">${esc(f.properties.name)}</span><span class="meta">${fmt(f.properties.area_km2)} km²</span>
        <button type="button" class="icon" data-act="zoom" aria-label="Zoom to ${esc(f.properties.name)}" title="Zoom to">Zoom</button>
        <button type="button" class="icon" data-act="rename" aria-label="Rename ${esc(f.properties.name)}" title="Rename">Rename</button>
        <button type="button" class="icon" data-act="delete" aria-label="Delete ${esc(f.properties.name)}" title="Delete">Delete</button>`;
      li.querySelector('[data-act="zoom"]').addEventListener("click", () => this.app.map.zoomToAoi(f.id));
      li.querySelector('[data-act="rename"]').addEventListener("click", () => this.rename(f));
      li.querySelector('[data-act="delete"]').addEventListener("click", () => this.remove(f));
      list.appendChild(li);
    }
    this.app.run.fillSelects();
  }

  async refreshLabelsets() {
    const sets = await api("/api/labelsets/");
    this.app.state.labelsets = sets;
    const list = $("labelset-list");
    list.innerHTML = sets.length ? "" : '<li class="empty">No label sets yet: upload one below.</li>';
    for (const s of sets) {
      const li = document.createElement("li");
      const sw = (s.classes || []).map((c) => `<span class="swatch" title="${esc(c.name)}" style="background:${esc(c.color)}"></span>`).join("");
      li.innerHTML = `<span class="name" title="${esc(s.name)}">${esc(s.name)}</span><span class="swatches">${sw}</span><span class="meta">${s.label_count} labels${s.is_validation ? " · validation" : ""}</span>
        <button type="button" class="icon" data-act="show" aria-label="Show labels of ${esc(s.name)} on the map" title="Show on map">Show</button>
        <button type="button" class="icon" data-act="delete" aria-label="Delete ${esc(s.name)}" title="Delete">Delete</button>`;
      li.querySelector('[data-act="show"]').addEventListener("click", () => this.showLabels(s));
      li.querySelector('[data-act="delete"]').addEventListener("click", () => this.removeLabelset(s));
      list.appendChild(li);
    }
    this.app.run.fillSelects();
    this.app.similar.fillLabelsets();
  }

  async removeLabelset(set) {
    if (!window.confirm(`Delete the label set "${set.name}", its labels and its analyses?`)) return;
    try { await api(`/api/labelsets/${set.id}/`, { method: "DELETE" }); toast(`Deleted "${set.name}"`); } catch (err) { toast(err.message, true); }
    this.app.map.labels.clearLayers();
    await Promise.all([this.refreshLabelsets(), this.app.run.refreshList()]);
  }

  async showLabels(set) {
    const fc = await api(`/api/labelsets/${set.id}/labels/`);
    const colors = Object.fromEntries((set.classes || []).map((c) => [c.name, c.color]));
    this.app.map.setLabels(fc, colors);
    if (this.app.map.labels.getLayers().length) this.app.map.map.fitBounds(this.app.map.labels.getBounds(), { padding: [30, 30], maxZoom: 15 });
  }

  onDrawn(layer) {
    this.discardPending();
    this.pending = layer;
    layer.setStyle({ color: "#d9480f", dashArray: "5 4" });
    layer.addTo(this.app.map.map);
    const form = $("aoi-pending");
    form.hidden = false;
    $("aoi-pending-name").value = `Area ${this.app.state.aois.length + 1}`;
    this.app.showTab("data");
    $("aoi-pending-name").focus();
    $("aoi-pending-name").select();
  }

  discardPending() {
    if (this.pending) this.app.map.map.removeLayer(this.pending);
    this.pending = null;
    $("aoi-pending").hidden = true;
  }

  async savePending() {
    if (!this.pending) return;
    const geometry = this.pending.toGeoJSON().geometry;
    try {
      const aoi = await api("/api/aois/", { json: { name: $("aoi-pending-name").value.trim(), geometry } });
      this.discardPending();
      await this.refreshAois();
      toast(`Saved area "${aoi.properties.name}" (${fmt(aoi.properties.area_km2)} km²)${aoi.warnings && aoi.warnings.length ? ` · ${aoi.warnings.join("; ")}` : ""}`);
      $("run-aoi").value = String(aoi.id);
    } catch (err) {
      toast(`Area not saved: ${err.message}`, true);
    }
  }

  async onEdited(layers) {
    const ids = new Set();
    layers.eachLayer((l) => { if (l.aoiId) ids.add(l.aoiId); });
    const jobs = [...ids].map((id) => api(`/api/aois/${id}/`, { method: "PATCH", json: { geometry: this.app.map.aoiGeometry(id) } }));
    try { await Promise.all(jobs); toast(`Saved ${jobs.length} edited area(s)`); } catch (err) { toast(`Edit not saved: ${err.message}`, true); }
    await this.refreshAois();
  }

  async onDeleted(layers) {
    const ids = new Set();
    layers.eachLayer((l) => { if (l.aoiId) ids.add(l.aoiId); });
    try { await Promise.all([...ids].map((id) => api(`/api/aois/${id}/`, { method: "DELETE" }))); toast(`Deleted ${ids.size} area(s)`); } catch (err) { toast(err.message, true); }
    await this.refreshAois();
  }

  async rename(f) {
    const name = window.prompt("New name", f.properties.name);
    if (!name) return;
    try { await api(`/api/aois/${f.id}/`, { method: "PATCH", json: { name } }); } catch (err) { toast(err.message, true); }
    await this.refreshAois();
  }

  async remove(f) {
    if (!window.confirm(`Delete "${f.properties.name}" and its analyses?`)) return;
    try { await api(`/api/aois/${f.id}/`, { method: "DELETE" }); } catch (err) { toast(err.message, true); }
    await this.refreshAois();
  }

  async uploadAoi() {
    const out = $("aoi-upload-report");
    out.innerHTML = '<p class="hint">Uploading…</p>';
    try {
      const aoi = await api("/api/aois/upload/", { form: new FormData($("aoi-upload")) });
      out.innerHTML = reportHtml({ accepted: 1, warnings: aoi.warnings }, `Area "${aoi.properties.name}" (${fmt(aoi.properties.area_km2)} km²)`);
      $("aoi-upload").reset();
      await this.refreshAois();
      this.app.map.zoomToAoi(aoi.id);
    } catch (err) {
      out.innerHTML = errorHtml(err);
    }
  }

  async uploadLabels() {
    const out = $("labels-upload-report");
    out.innerHTML = '<p class="hint">Uploading and checking every row…</p>';
    const form = new FormData($("labels-upload"));
    for (const [k, v] of [...form.entries()]) if (v === "") form.delete(k);
    try {
      const set = await api("/api/labelsets/upload/", { form });
      out.innerHTML = reportHtml({ ...set.report, classes: set.classes }, `Label set "${set.name}"`);
      $("labels-upload").reset();
      await this.refreshLabelsets();
      $("run-labels").value = String(set.id);
      await this.showLabels(set);
    } catch (err) {
      out.innerHTML = errorHtml(err);
    }
  }
}

/* ---------------------------------------------------------------- Run */

/** Seconds as "40 s" / "3 min". */
function duration(s) {
  return s < 90 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`;
}

/**
 * Progress within the stage and a time estimate: "window 3 of 8 · 1 min elapsed · about 40 s left".
 * The step comes from the workers (``timings.step``); the estimate extrapolates the overall percent over
 * the time since the run started, once there is enough of it to say something.
 */
export function stepText(a, now = Date.now()) {
  if (a.status !== "running") return "";
  const parts = [];
  const step = a.timings && a.timings.step;
  if (step && step.stage === a.stage && step.total) {
    parts.push(step.what === "windows" ? `${step.done} of ${step.total} windows done` : `reading ${step.what}`);
  }
  const started = a.started_at ? Date.parse(a.started_at) : NaN;
  if (Number.isFinite(started)) {
    const elapsed = Math.max(0, (now - started) / 1000);
    parts.push(`${duration(elapsed)} elapsed`);
    if (a.progress >= 5 && a.progress < 100) parts.push(`about ${duration((elapsed * (100 - a.progress)) / a.progress)} left`);
  }
  return parts.join(" · ");
}

/** API field names -> the Run form's words (errors are shown in the form's language). */
const RUN_FIELDS = {
  start_year: "First year", end_year: "Last year", aoi: "Area", label_set: "Label set",
  parameters: "Advanced parameters", name: "Name", year_start_month: "Year starts in",
};

/** A server error in the Run form's words: field names replaced, Python lists/reprs made plain. */
export function runErrorText(err) {
  const body = err instanceof ApiError ? err.body : null;
  // nested field errors ({"parameters": {"colour": ["unknown parameter"]}}) as "Advanced parameters: colour: ..."
  const flat = (v) => (Array.isArray(v) ? v.map(flat).join(" ")
    : v && typeof v === "object" ? Object.entries(v).map(([k, x]) => `${RUN_FIELDS[k] || k}: ${flat(x)}`).join("; ") : String(v));
  let text;
  if (body && typeof body === "object" && typeof body.detail !== "string") text = flat(body);
  else text = err.message || String(err);
  text = text.replace(/\[((?:'[^']*'(?:, )?)+)\]/g, (_, inner) => inner.replace(/'/g, "\""));
  for (const k of ["start_year", "end_year", "label_set", "year_start_month"]) text = text.replace(new RegExp(`\\b${k}\\b`, "g"), RUN_FIELDS[k].toLowerCase());
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Years as short runs: [2007..2013] -> "2007-2013". */
export function yearSpan(years) {
  const runs = [];
  for (const y of [...new Set(years)].sort((a, b) => a - b)) {
    if (runs.length && y === runs[runs.length - 1][1] + 1) runs[runs.length - 1][1] = y;
    else runs.push([y, y]);
  }
  return runs.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(", ");
}

export class RunPanel {
  constructor(app) {
    this.app = app;
    this.timer = null;
    $("run-form").addEventListener("submit", (e) => { e.preventDefault(); this.start(); });
    $("run-cancel").addEventListener("click", () => this.cancel());
    $("run-aoi").addEventListener("change", () => this.aoiChanged());
    for (const id of ["run-start", "run-end"]) $(id).addEventListener("input", () => this.checkYears());
    $("run-stages").innerHTML = STAGES.slice(1, -1).map((s) => `<li data-stage="${s}" title="${esc(STAGE_NAMES[s])}">${s}</li>`).join("");
    this.storeYears = [];
  }

  fillSelects() {
    const fill = (sel, items, label) => {
      const keep = sel.value;
      sel.innerHTML = items.map((i) => `<option value="${i.id}">${esc(label(i))}</option>`).join("");
      if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
      return keep !== sel.value;
    };
    const aoiChanged = fill($("run-aoi"), this.app.state.aois || [], (f) => f.properties.name);
    // validation sets assess maps and never train them: the server refuses them, so they are not offered
    fill($("run-labels"), (this.app.state.labelsets || []).filter((s) => !s.is_validation), (s) => `${s.name} (${s.label_count})`);
    if (aoiChanged) this.aoiChanged();
  }

  /** Years covered by the store (the fallback when no area is chosen). */
  setYears(years) {
    this.storeYears = years || [];
    if (!$("run-aoi").value) this.aoiChanged();
  }

  /** The chosen area's years with ESD data (from the AOI list), or null when no area is chosen. */
  aoiYears() {
    const f = (this.app.state.aois || []).find((x) => String(x.id) === $("run-aoi").value);
    return f ? f.properties.coverage_years || [] : null;
  }

  /** A new area: its covered years become the defaults. */
  aoiChanged() {
    const years = this.aoiYears() ?? this.storeYears;
    if (years.length) {
      $("run-start").value = Math.min(...years);
      $("run-end").value = Math.max(...years);
    } else if (!$("run-start").value) {
      const now = new Date().getFullYear();
      $("run-start").value = now - 5;
      $("run-end").value = now - 1;
    }
    this.checkYears();
  }

  /**
   * Warn about chosen years without ESD data over the area, and refuse (button disabled) when none has any.
   * @returns {boolean} true when the run may start
   */
  checkYears() {
    const years = this.aoiYears();
    const name = $("run-aoi").selectedOptions[0] ? $("run-aoi").selectedOptions[0].textContent : "";
    const warn = $("run-years-warning");
    const s = Number($("run-start").value), e = Number($("run-end").value);
    let ok = true;
    let msg = "";
    if (years === null) {
      $("run-coverage").textContent = this.storeYears.length ? `The ESD store has data for ${yearSpan(this.storeYears)}.` : "";
    } else {
      $("run-coverage").textContent = years.length
        ? `ESD data over "${name}": ${yearSpan(years)}.`
        : `No ESD data over "${name}": draw the area over one of the coverage patches on the map.`;
      if (s && e && s <= e) {
        const chosen = Array.from({ length: e - s + 1 }, (_, i) => s + i);
        const missing = chosen.filter((y) => !years.includes(y));
        if (missing.length === chosen.length) {
          ok = false;
          msg = `None of ${s}-${e} has ESD data over "${name}"${years.length ? `: choose years within ${yearSpan(years)}` : ""}.`;
        } else if (missing.length) {
          msg = `${yearSpan(missing)} ${missing.length === 1 ? "has" : "have"} no ESD data over "${name}": ${missing.length === 1 ? "that year" : "those years"} will be empty.`;
        }
      }
    }
    if (s && e && s > e) { ok = false; msg = "The first year is after the last year."; }
    warn.textContent = msg;
    warn.hidden = !msg;
    warn.classList.toggle("refuse", !ok);
    $("run-start-btn").disabled = !ok;
    return ok;
  }

  async refreshList() {
    const list = await api("/api/analyses/");
    this.app.state.analyses = list;
    const ul = $("analysis-list");
    ul.innerHTML = list.length ? "" : '<li class="empty">No analyses yet.</li>';
    for (const a of list) {
      const li = document.createElement("li");
      if (this.app.state.analysis && this.app.state.analysis.id === a.id) li.classList.add("active");
      const again = ["failed", "cancelled"].includes(a.status);
      const label = a.status === "done" ? "Open" : again ? "Details" : "Watch";
      li.innerHTML = `<span class="name" title="${esc(a.name)}">${esc(a.name || `Analysis ${a.id}`)}</span>
        <span class="status ${esc(a.status)}">${esc(a.status)}</span>
        <button type="button" class="small" data-act="open">${label}</button>
        ${again ? `<button type="button" class="small" data-act="again" aria-label="Run ${esc(a.name || `analysis ${a.id}`)} again">Run again</button>` : ""}
        <button type="button" class="icon" data-act="delete" aria-label="Delete ${esc(a.name || `analysis ${a.id}`)}" title="Delete">Delete</button>`;
      li.querySelector('[data-act="open"]').addEventListener("click", () => (a.status === "done" ? this.app.openAnalysis(a.id) : this.watch(a.id)));
      if (again) li.querySelector('[data-act="again"]').addEventListener("click", () => this.runAgain(a.id));
      li.querySelector('[data-act="delete"]').addEventListener("click", () => this.remove(a));
      ul.appendChild(li);
    }
  }

  /** Start a cancelled or failed analysis again with the same area, labels, years and parameters. */
  async runAgain(pk) {
    try {
      const a = await api(`/api/analyses/${pk}/`);
      $("run-aoi").value = String(a.aoi);
      $("run-labels").value = String(a.label_set);
      $("run-start").value = a.start_year;
      $("run-end").value = a.end_year;
      const params = { ...(a.parameters || {}) };
      $("run-month").value = String(params.year_start_month || 1);
      delete params.year_start_month;
      $("run-params").value = Object.keys(params).length ? JSON.stringify(params) : "";
      $("run-name").value = a.name || "";
      this.checkYears();
      await this.start();
    } catch (err) {
      this.showFormError(runErrorText(err));
    }
  }

  async remove(a) {
    if (!window.confirm(`Delete "${a.name || `analysis ${a.id}`}" and its maps?`)) return;
    try { await api(`/api/analyses/${a.id}/`, { method: "DELETE" }); toast("Analysis deleted"); } catch (err) { toast(err.message, true); return; }
    if (this.app.state.analysis && this.app.state.analysis.id === a.id) this.app.closeAnalysis();
    if (this.watching === a.id) { clearInterval(this.timer); this.watching = null; $("run-status").hidden = true; }
    await this.refreshList();
  }

  /** An error of the form itself, shown just above its Start button (not under a previous run). */
  showFormError(text) {
    $("run-form-error").textContent = text;
    $("run-form-error").hidden = !text;
  }

  async start() {
    this.showFormError("");
    let extra = {};
    const raw = $("run-params").value.trim();
    if (raw) {
      try { extra = JSON.parse(raw); } catch { this.showFormError('Advanced parameters must be JSON, e.g. {"tasgen": {"epochs": 60}}: check the quotes and braces.'); return; }
      if (!extra || typeof extra !== "object" || Array.isArray(extra)) { this.showFormError('Advanced parameters must be a JSON object in braces, e.g. {"tasgen": {"epochs": 60}}.'); return; }
    }
    const body = {
      aoi: Number($("run-aoi").value), label_set: Number($("run-labels").value),
      start_year: Number($("run-start").value), end_year: Number($("run-end").value),
      parameters: { ...extra, year_start_month: Number($("run-month").value) },
    };
    if ($("run-name").value.trim()) body.name = $("run-name").value.trim();
    if (!body.aoi || !body.label_set) { this.showFormError("Choose an area and a label set first (Data tab)."); return; }
    if (!this.checkYears()) { this.showFormError($("run-years-warning").textContent); return; }
    $("run-start-btn").disabled = true;
    try {
      const a = await api("/api/analyses/", { json: body });
      this.watch(a.id);
      // the progress box sits below the form: scroll the panel (not the page) to it
      const panel = $("panel-run");
      panel.scrollTop += $("run-status").getBoundingClientRect().top - panel.getBoundingClientRect().top - 8;
      await this.refreshList();
    } catch (err) {
      this.showFormError(`Not started: ${runErrorText(err)}`);
    } finally {
      this.checkYears();
    }
  }

  showError(text) {
    $("run-error").textContent = text;
    $("run-error").hidden = !text;
  }

  watch(pk) {
    clearInterval(this.timer);
    this.watching = pk;
    $("run-status").hidden = false;
    this.showError("");
    const poll = async () => {
      let a;
      try { a = await api(`/api/analyses/${pk}/`); } catch (err) { this.showError(err.message); clearInterval(this.timer); return; }
      this.render(a);
      const listed = (this.app.state.analyses || []).find((x) => x.id === a.id);
      if (listed && listed.status !== a.status && a.status === "running") { listed.status = a.status; this.refreshList(); }
      if (["done", "failed", "cancelled"].includes(a.status)) {
        clearInterval(this.timer);
        await this.refreshList();
        if (a.status === "done") { toast("Analysis finished"); this.app.openAnalysis(a.id, a); }
      }
    };
    poll();
    this.timer = setInterval(poll, 1000);
  }

  render(a) {
    $("run-title").textContent = a.name || `Analysis ${a.id}`;
    $("run-progress").value = a.progress;
    $("run-percent").textContent = `${a.progress}%`;
    const stage = a.status === "running" || a.status === "queued" ? a.stage : a.status;
    $("run-stage").textContent = STAGE_NAMES[stage] || stage;
    const idx = STAGES.indexOf(a.stage);
    for (const li of $("run-stages").children) {
      const i = STAGES.indexOf(li.dataset.stage);
      li.className = a.status === "done" || i < idx ? "done" : i === idx ? "current" : "";
    }
    $("run-step").textContent = stepText(a);
    $("run-cancel").hidden = !["queued", "running"].includes(a.status);
    if (a.status === "failed") this.showError(`The analysis failed: ${a.error_message || "no message"}`);
    else if (a.status === "cancelled") this.showError("The analysis was cancelled.");
  }

  async cancel() {
    if (!this.watching) return;
    try { this.render(await api(`/api/analyses/${this.watching}/cancel/`, { method: "POST" })); } catch (err) { this.showError(err.message); }
  }
}

/* ---------------------------------------------------------------- Results */

export class ResultsPanel {
  constructor(app) {
    this.app = app;
    this.playing = null;
    $("year-slider").addEventListener("input", () => { this.syncPair(); this.update(); });
    $("year-play").addEventListener("click", () => this.togglePlay());
    for (const r of document.querySelectorAll('input[name="layer"]')) r.addEventListener("change", () => this.update());
    $("layer-opacity").addEventListener("input", () => this.update());
    $("swipe-on").addEventListener("change", () => this.update());
    $("swipe-year").addEventListener("change", () => this.update());
    $("show-samples").addEventListener("change", () => this.updateSamples());
    $("show-changed-only").addEventListener("change", () => this.updateSamples());
    $("transition-pair").addEventListener("change", () => this.renderTransitions());
    $("show-aoi").addEventListener("change", () => this.app.map.showAoiOutlines(undefined, $("show-aoi").checked));
    for (const id of ["fromto-from", "fromto-to"]) $(id).addEventListener("change", () => { this.only = null; this.update(); });
    this.only = null; // one from-to code shown alone (legend click), or null for all
  }

  get a() { return this.app.state.analysis; }
  get year() { return this.a.years[Number($("year-slider").value)]; }
  get layer() { return document.querySelector('input[name="layer"]:checked').value; }

  /** @param {any} a  the analysis detail @param {{year?: number, layer?: string}} [opts]  from a permalink */
  async show(a, opts = {}) {
    $("results-empty").hidden = true;
    $("results").hidden = false;
    $("results-title").textContent = a.name || `Analysis ${a.id}`;
    const slider = $("year-slider");
    slider.max = a.years.length - 1;
    const yi = opts.year ? a.years.indexOf(opts.year) : -1;
    slider.value = yi >= 0 ? yi : a.years.length - 1;
    const radio = opts.layer && document.querySelector(`input[name="layer"][value="${opts.layer}"]`);
    if (radio) radio.checked = true;
    this.only = null;
    for (const id of ["fromto-from", "fromto-to"]) $(id).innerHTML = a.years.map((y) => `<option value="${y}">${y}</option>`).join("");
    $("swipe-year").innerHTML = a.years.map((y, i) => `<option value="${i}">${y}</option>`).join("");
    $("swipe-year").value = "0";
    this.syncPair();
    this.legends = null;
    try { this.legends = await api(`/api/analyses/${a.id}/legends/`); } catch { this.legends = null; }
    this.samples = null;
    this.renderAreas();
    this.renderAccuracy();
    this.renderDownloads();
    const pairs = (a.stats && a.stats.areas && a.stats.areas.transitions) || [];
    $("transition-pair").innerHTML = pairs.map((t, i) => `<option value="${i}">${t.from_year} → ${t.to_year}</option>`).join("");
    this.renderTransitions();
    this.update();
    if ($("show-samples").checked) this.updateSamples();
  }

  /** The from -> to years follow the slider: the previous year -> the slider's year (first -> second at the start). */
  syncPair() {
    if (!this.a) return;
    const ys = this.a.years;
    const i = Math.max(1, Number($("year-slider").value));
    if (ys.length < 2) return;
    $("fromto-from").value = String(ys[i - 1]);
    $("fromto-to").value = String(ys[i]);
    this.only = null;
  }

  colors() { return Object.fromEntries((this.a.classes || []).map((c) => [c.name, c.color])); }

  /** The product of the chosen kind for a year index (per-year kinds) or the single one (multi-year kinds). */
  product(kind, yi, pinned = false) {
    const year = this.a.years[yi];
    const ps = this.a.products.filter((p) => p.kind === kind);
    if (kind === "change_from_to" && pinned) {
      // any two years, computed by the server from their land-cover maps (one colour per changed pair)
      const y0 = Number($("fromto-from").value), y1 = Number($("fromto-to").value);
      const lc = this.a.products.filter((p) => p.kind === "landcover");
      if (!lc.some((p) => p.year === y0) || !lc.some((p) => p.year === y1)) return undefined;
      return { kind, year: y0, year_to: y1, tiles: `/api/analyses/${this.a.id}/fromto/${y0}/${y1}/tiles/{z}/{x}/{y}.png` };
    }
    if (kind === "similarity") return ps.find((p) => p.year_to === year) || ps.find((p) => p.year === year);
    if (kind === "change_from_to") return ps.find((p) => p.year_to === year && p.year !== year) || ps[0];
    return ps.find((p) => p.year === year) || (ps.length === 1 ? ps[0] : undefined);
  }

  update() {
    const a = this.a;
    if (!a) return;
    const yi = Number($("year-slider").value);
    $("year-value").textContent = String(a.years[yi]);
    $("similar-year").textContent = `${a.years[yi]} (the year on the slider)`;
    const opacity = Number($("layer-opacity").value) / 100;
    const kind = this.layer;
    $("fromto-row").hidden = kind !== "change_from_to";
    const p = this.product(kind, yi, true);
    const url = p && kind === "change_from_to" && this.only !== null ? `${p.tiles}${p.tiles.includes("?") ? "&" : "?"}only=${this.only}` : p ? p.tiles : null;
    this.app.map.showProduct(url, opacity);
    this.prefetch(kind, yi);
    this.app.url.set({ y: a.years[yi], l: kind });
    const swipe = $("swipe-on").checked;
    $("swipe-year").disabled = !swipe;
    const q = swipe ? this.product(kind, Number($("swipe-year").value)) : null;
    this.app.map.showCompare(q ? q.tiles : null, opacity, q ? [productLabel(q, a.years[Number($("swipe-year").value)]), productLabel(p, a.years[yi])] : []);
    this.renderLegend(kind, p);
    if ($("show-samples").checked) this.updateSamples();
  }

  renderLegend(kind, p) {
    let items = this.legends && this.legends[kind === "change_last_year" ? "change_last_year" : kind];
    if (!items && kind === "landcover") items = (this.a.classes || []).map((c, i) => ({ value: i, label: c.name, color: c.color }));
    let html = "";
    if (kind === "change_from_to" && items && p) {
      html = this.fromToLegend(items, p);
    } else if (items && items.length) {
      const continuous = (["similarity", "change_count"].includes(kind) && items.length > 6) || kind === "uncertainty";
      html = continuous ? legendRamp(items) : legendItems(items.slice(0, 24));
      if (items.length > 24 && !continuous) html += `<span class="item muted">+${items.length - 24} more</span>`;
    } else if (kind === "esd_preview") html = '<span class="item muted">Embedding dimensions 1–3 as RGB</span>';
    $("legend").innerHTML = html;
    const ml = $("map-legend");
    ml.innerHTML = `<b>${esc(LAYER_NAMES[kind])}${p ? ` · ${esc(productLabel(p, this.year))}` : " · not available"}</b>${html}`;
    ml.hidden = false;
    for (const b of document.querySelectorAll(".legend-pick")) {
      b.addEventListener("click", () => { const v = Number(b.dataset.value); this.only = this.only === v ? null : v; this.update(); });
    }
  }

  /**
   * From -> to legend: one colour per pair, only the pairs that occur between the shown years, largest area
   * first (from the statistics' transition matrix); each entry is a button that shows that change alone.
   */
  fromToLegend(items, p) {
    const areas = this.a.stats && this.a.stats.areas;
    const t = areas && (areas.transitions || []).find((x) => x.from_year === p.year && x.to_year === p.year_to);
    const byLabel = Object.fromEntries(items.map((i) => [i.label, i]));
    const rows = [];
    if (t) {
      areas.classes.forEach((from, i) => areas.classes.forEach((to, j) => {
        const ha = t.matrix_ha[i][j];
        const item = byLabel[`${from} → ${to}`];
        if (i !== j && ha > 0 && item) rows.push({ ...item, ha });
      }));
      rows.sort((a, b) => b.ha - a.ha);
    } else rows.push(...items.filter((i) => i.value !== null));
    const shown = rows.slice(0, 16);
    let html = shown.map((r) => `<button type="button" class="item legend-pick${this.only === r.value ? " on" : ""}" data-value="${r.value}" aria-pressed="${this.only === r.value}" title="Show only ${esc(r.label)}"><span class="swatch" style="background:${esc(r.color)}"></span>${esc(r.label)}${r.ha !== undefined ? ` <span class="muted">${fmt(r.ha, 0)} ha</span>` : ""}</button>`).join("");
    if (rows.length > shown.length) html += `<span class="item muted">+${rows.length - shown.length} smaller changes</span>`;
    if (!rows.length) html += '<span class="item muted">No change between these years</span>';
    const unchanged = items.find((i) => i.value === null);
    if (unchanged && this.only === null) html += legendItems([unchanged]);
    return html;
  }

  /**
   * Ask the browser for the tiles of the neighbouring years in view (per-year layers), so moving the slider
   * shows cached maps instead of half-drawn ones.
   */
  prefetch(kind, yi) {
    const layer = this.app.map.product;
    if (!layer || !layer._tiles) return;
    const coords = Object.values(layer._tiles).map((t) => t.coords).filter(Boolean).slice(0, 24);
    this.prefetched = this.prefetched || new Set();
    for (const j of [yi + 1, yi - 1]) {
      if (j < 0 || j >= this.a.years.length) continue;
      const q = this.product(kind, j);
      if (!q || (kind !== "landcover" && kind !== "similarity" && kind !== "esd_preview")) continue;
      for (const c of coords) {
        const src = L.Util.template(q.tiles, { z: c.z, x: c.x, y: c.y, s: "" });
        if (this.prefetched.has(src)) continue;
        this.prefetched.add(src);
        const img = new Image();
        img.src = src;
      }
    }
  }

  async updateSamples() {
    if (!$("show-samples").checked || !this.a) { this.app.map.hideSamples(); return; }
    if (!this.samples) {
      const body = await api(`/api/analyses/${this.a.id}/samples/?limit=5000`);
      this.samples = body.results;
    }
    const only = $("show-changed-only").checked;
    const year = this.year;
    const shown = this.samples.filter((s) => s.year === year && (!only || s.changed));
    this.app.map.setSamples(shown, this.colors(), (s) => this.app.pixel.query(s.lat, s.lon));
  }

  /** Move the slider to a year (when it is one of the analysis). */
  showYear(year) {
    const i = this.a ? this.a.years.indexOf(year) : -1;
    if (i < 0) return;
    $("year-slider").value = String(i);
    this.syncPair();
    this.update();
  }

  togglePlay() {
    const btn = $("year-play");
    if (this.playing) {
      clearInterval(this.playing);
      this.playing = null;
      btn.textContent = "▶";
      btn.setAttribute("aria-label", "Play the years");
      return;
    }
    btn.textContent = "❚❚";
    btn.setAttribute("aria-label", "Pause");
    this.playing = setInterval(() => {
      const s = $("year-slider");
      s.value = String((Number(s.value) + 1) % (Number(s.max) + 1));
      this.syncPair();
      this.update();
    }, 1200);
  }

  renderAreas() {
    const areas = this.a.stats && this.a.stats.areas;
    if (!areas) { $("area-chart").innerHTML = '<p class="muted">No statistics.</p>'; return; }
    const colors = this.colors();
    stackedBars($("area-chart"), {
      years: areas.years,
      classes: areas.classes.map((c) => ({ name: c, color: colors[c] || "#999" })),
      values: areas.area_ha,
    });
  }

  renderTransitions() {
    const areas = this.a && this.a.stats && this.a.stats.areas;
    const t = areas && areas.transitions && areas.transitions[Number($("transition-pair").value || 0)];
    if (!t) { $("transition-table").innerHTML = ""; return; }
    const cls = areas.classes;
    let html = `<table><thead><tr><th>${t.from_year} ↓ / ${t.to_year} →</th>${cls.map((c) => `<th class="num">${esc(c)}</th>`).join("")}</tr></thead><tbody>`;
    t.matrix_ha.forEach((row, i) => {
      html += `<tr><th>${esc(cls[i])}</th>${row.map((v, j) => `<td class="num${i === j ? " diag" : ""}">${fmt(v, 0)}</td>`).join("")}</tr>`;
    });
    html += "</tbody></table>";
    if (t.changed_ha !== undefined) html += `<p class="hint">Changed: ${fmt(t.changed_ha, 0)} ha</p>`;
    html += this.temporalTable();
    $("transition-table").innerHTML = html;
  }

  /** Pixel-years the temporal step (smoothing + HMM) moved, per pair of classes, all years together. */
  temporalTable() {
    const tm = this.a && this.a.stats && this.a.stats.temporal;
    if (!tm || !tm.changed_pixel_years) return "";
    const cls = tm.classes;
    let html = `<h4>Changed by the temporal step</h4><p class="hint">Pixel-years moved from the class of their own year (row) to the consistent class (column): ${fmt(tm.changed_total, 0)} of ${fmt(tm.pixel_years, 0)}; year-to-year changes ${fmt(tm.changes_before, 0)} → ${fmt(tm.changes_after, 0)}.</p>`;
    html += `<table class="temporal-changed"><thead><tr><th>before ↓ / after →</th>${cls.map((c) => `<th class="num">${esc(c)}</th>`).join("")}</tr></thead><tbody>`;
    tm.changed_pixel_years.forEach((row, i) => {
      html += `<tr><th>${esc(cls[i])}</th>${row.map((v, j) => `<td class="num${i === j ? " diag" : ""}">${i === j ? "" : fmt(v, 0)}</td>`).join("")}</tr>`;
    });
    return html + "</tbody></table>";
  }

  renderAccuracy() {
    if (!this.accuracy) this.accuracy = new AccuracyPanel(this.app, $("accuracy"));
    this.accuracy.render();
  }

  renderDownloads() {
    const id = this.a.id;
    const links = [
      [`/api/analyses/${id}/samples/?fmt=geojson`, "Samples GeoJSON"],
      [`/api/analyses/${id}/samples/?fmt=csv`, "Samples CSV"],
      [`/api/analyses/${id}/samples/?fmt=gpkg`, "Samples GPKG"],
      [`/api/analyses/${id}/stats/?fmt=csv`, "Statistics CSV"],
      [`/api/analyses/${id}/export.html`, "Stand-alone HTML"],
    ];
    const maps = this.a.products.filter((q) => q.kind !== "similarity");
    $("downloads").innerHTML = links.map(([href, label]) => `<a href="${esc(href)}" download>${esc(label)}</a>`).join("")
      + `<div class="row cog"><label for="cog-select" class="inline">Map</label><select id="cog-select">${maps
        .map((p) => `<option value="${esc(p.package || p.download)}">${esc(LAYER_NAMES[p.kind] || p.kind)} · ${esc(productLabel(p, p.year))}</option>`).join("")}</select>
        <label for="cog-crs" class="inline">in</label><select id="cog-crs">
          <option value="native">the analysis grid's CRS</option><option value="EPSG:4326">WGS 84 (EPSG:4326)</option>
          <option value="utm">the local UTM zone</option></select>
        <a id="cog-link" href="#" download>Download map</a></div>
        <p class="hint">A zip: the COG, its class names (.aux.xml, shown by QGIS and gdalinfo), a QGIS style (.qml) and the code table.</p>`;
    const link = () => {
      const v = $("cog-select").value;
      $("cog-link").href = v ? `${v}${v.endsWith(".zip") ? `?crs=${encodeURIComponent($("cog-crs").value)}` : ""}` : "#";
    };
    $("cog-select").addEventListener("change", link);
    $("cog-crs").addEventListener("change", link);
    link();
  }
}

function productLabel(p, year) {
  if (!p) return "";
  if (p.kind === "change_from_to" || p.kind === "similarity") return `${p.year}→${p.year_to}`;
  if (!p.year) return "all years";
  return String(p.year || year);
}


