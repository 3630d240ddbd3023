// The accuracy panel of the results: two figures, each saying what it is.
//  (a) agreement of the map with the user's own labels at their reference years (spatially grouped CV);
//  (b) with a validation label set: accuracy and error-adjusted class areas with 95% confidence
//      intervals (Olofsson et al. 2014), one table per map year with validation labels.

import { api, esc, fmt } from "./api.js";

const pct = (v) => (v === null || v === undefined ? "–" : `${fmt(v * 100, 1)}%`);
const pm = (e, scale = 100, digits = 1) => (e.ci95 === null || e.ci95 === undefined ? "" : ` ± ${fmt(e.ci95 * scale, digits)}`);

function swatch(color) {
  return `<span class="swatch" style="background:${esc(color || "#999")}"></span>`;
}

/** HTML of figure (a), from ``stats.accuracy`` (method ``reference_grouped_cv``). */
export function agreementHtml(acc, colors) {
  if (!acc || acc.oa === undefined || acc.oa === null) {
    const why = acc && acc.error ? esc(acc.error) : "too few labels";
    return `<p class="muted" id="agreement-none">No agreement figure: ${why}.</p>`;
  }
  if (acc.method !== "reference_grouped_cv") {
    return `<p class="muted">This analysis ran before the agreement figure existed: run it again to measure it.</p>`;
  }
  const users = acc.users || {};
  const producers = acc.producers || {};
  const rows = (acc.classes || []).filter((c) => c in producers || c in users).map((c) =>
    `<tr><td>${swatch(colors[c])} ${esc(c)}</td><td class="num">${pct(users[c])}</td><td class="num">${pct(producers[c])}</td></tr>`).join("");
  const km = acc.block_size >= 1000 ? `${fmt(acc.block_size / 1000, 1)} km` : `${fmt(acc.block_size, 0)} m`;
  return `<div id="agreement" data-method="${esc(acc.method)}">
    <h4>Agreement with your labels (grouped cross-validation)</h4>
    <div class="accgrid">
      <div class="kpi"><b>${pct(acc.oa)}</b><span>agreement with your labels</span></div>
      <div class="kpi"><b>${fmt(acc.kappa, 3)}</b><span>kappa</span></div>
      <div class="kpi"><b>${fmt(acc.labels ?? acc.n_samples, 0)}</b><span>labels · ${acc.folds}-fold, ${acc.blocks} blocks</span></div></div>
    <p class="hint">Each label's class at its reference year, predicted by a map trained on the dynamic samples of other
      places (${km} blocks held out together). It is agreement with the training labels, not an area-weighted map accuracy:
      mark a label set as validation for that.</p>
    <div class="tablewrap"><table><thead><tr><th>Class</th><th class="num">User's</th><th class="num">Producer's</th></tr></thead>
      <tbody>${rows}</tbody></table></div></div>`;
}

/** HTML of figure (b), from ``stats.validation`` (method ``olofsson2014``). */
export function validationHtml(v, colors) {
  if (!v || !v.assessments) return "";
  const skipped = Object.entries(v.skipped || {}).filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k.replaceAll("_", " ")}`).join(", ");
  const tables = v.assessments.map((a) => {
    const rows = a.per_class.map((c) => c.left_out ? `<tr class="muted"><td>${swatch(colors[c.class])} ${esc(c.class)}</td>
      <td class="num">${fmt(c.n_map, 0)}</td><td colspan="2">left out: fewer than 2 labels</td>
      <td class="num">${fmt(c.mapped_area, 0)}</td><td class="num">–</td></tr>` : `<tr><td>${swatch(colors[c.class])} ${esc(c.class)}</td>
      <td class="num">${fmt(c.n_map, 0)}</td>
      <td class="num">${pct(c.users.value)}${pm(c.users)}</td>
      <td class="num">${pct(c.producers.value)}${pm(c.producers)}</td>
      <td class="num">${fmt(c.mapped_area, 0)}</td>
      <td class="num">${c.area.value === null ? "–" : fmt(c.area.value, 0)}${pm(c.area, 1, 0)}</td></tr>`).join("");
    const warn = (a.warnings || []).map((w) => `<li>${esc(w)}</li>`).join("");
    return `<div class="validation-year" data-year="${a.year}">
      <div class="accgrid">
        <div class="kpi"><b>${pct(a.overall.value)}${pm(a.overall)}</b><span>overall accuracy ${a.year} (95% CI)</span></div>
        <div class="kpi"><b>${fmt(a.n_samples, 0)}</b><span>validation labels</span></div>
        <div class="kpi"><b>${pct(a.coverage)}</b><span>of the mapped area described</span></div></div>
      <div class="tablewrap"><table><thead><tr><th>Class ${a.year}</th><th class="num">n</th><th class="num">User's</th>
        <th class="num">Producer's</th><th class="num">Mapped ha</th><th class="num">Adjusted ha (95% CI)</th></tr></thead>
        <tbody>${rows}</tbody></table></div>${warn ? `<ul class="warnings">${warn}</ul>` : ""}</div>`;
  }).join("");
  return `<div id="validation" data-method="${esc(v.method)}">
    <h4>Validation with “${esc(v.label_set_name)}” (area-adjusted, Olofsson et al. 2014)</h4>
    <p class="hint">Held-back labels compared with the map of their year; accuracies and class areas weighted by the mapped
      area of each class, with 95% confidence intervals.${skipped ? ` Not used: ${esc(skipped)}.` : ""}</p>${tables}</div>`;
}

/** The whole accuracy panel, with the control that assesses the map with a validation label set. */
export class AccuracyPanel {
  constructor(app, el) {
    this.app = app;
    this.el = el;
  }

  colors() { return Object.fromEntries((this.app.state.analysis.classes || []).map((c) => [c.name, c.color])); }

  render() {
    const a = this.app.state.analysis;
    if (!a) return;
    const stats = a.stats || {};
    const candidates = (this.app.state.labelsets || []).filter((s) => s.id !== a.label_set);
    const current = stats.validation ? stats.validation.label_set : null;
    const options = candidates.map((s) => `<option value="${s.id}"${s.id === current ? " selected" : ""}>${esc(s.name)}${s.is_validation ? " (validation)" : ""}</option>`).join("");
    this.el.innerHTML = agreementHtml(stats.accuracy, this.colors())
      + validationHtml(stats.validation, this.colors())
      + (candidates.length ? `<div class="row wrap validate-row">
          <label for="validation-set" class="inline">Validation set</label><select id="validation-set">${options}</select>
          <button type="button" id="validation-btn">${current ? "Assess again" : "Assess the map"}</button></div>
          <p class="hint">The chosen label set is marked as validation: it is held back and can no longer train an analysis.</p>`
        : '<p class="hint">Upload a second label set, held back from training, to validate the map with area-adjusted accuracy.</p>')
      + '<p id="validation-msg" role="status"></p>';
    const btn = this.el.querySelector("#validation-btn");
    if (btn) btn.addEventListener("click", () => this.assess());
  }

  async assess() {
    const a = this.app.state.analysis;
    const id = Number(this.el.querySelector("#validation-set").value);
    const msg = this.el.querySelector("#validation-msg");
    msg.className = "hint";
    msg.textContent = "Assessing…";
    try {
      const v = await api(`/api/analyses/${a.id}/validation/`, { json: { label_set: id } });
      a.stats = { ...(a.stats || {}), validation: v };
      this.render();
      await this.app.data.refreshLabelsets();  // the set is now marked as validation (list, Run form)
    } catch (err) {
      msg.className = "error";
      msg.setAttribute("role", "alert");
      msg.textContent = err.message;
    }
  }
}
