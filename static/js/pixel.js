// Pixel panel: click a pixel -> its monthly series over the years and the class of each year.

import { api, esc } from "./api.js";
import { lineChart, smallMultiples } from "./charts.js";
import { $, toast } from "./panels.js";

/**
 * Render a pixel report into a chart element and a class strip.
 * @param {any} report  /pixel/ answer: {bands, years: [{year, valid, embedding 12x6, reflectance 12xB?, class}]}
 * @param {Object<string,string>} colors  class name -> colour
 */
export function renderPixel(report, chartEl, stripEl, colors, embeddingEl = null, startMonth = 1) {
  const years = report.years.map((y) => y.year);
  const useRefl = report.bands && report.years.some((y) => y.reflectance);
  const names = useRefl ? report.bands : Array.from({ length: 6 }, (_, k) => `dim ${k + 1}`);
  const series = names.map((name, b) => ({
    name,
    values: report.years.flatMap((y) => {
      const m = useRefl ? y.reflectance : y.embedding;
      return m ? m.map((row) => (row[b] === null || row[b] === undefined ? null : row[b])) : Array(12).fill(null);
    }),
  }));
  if (useRefl) lineChart(chartEl, { years, series, startMonth, yLabel: "reflectance", height: 200, name: "pixel_reflectance" });
  else smallMultiples(chartEl, { years, series, startMonth, yLabel: "ESD embedding", name: "pixel_embedding" });
  if (embeddingEl) {
    // the embedding itself, next to the decoded bands
    const dims = Array.from({ length: 6 }, (_, b) => ({
      name: `dim ${b + 1}`,
      values: report.years.flatMap((y) => (y.embedding ? y.embedding.map((row) => row[b]) : Array(12).fill(null))),
    }));
    embeddingEl.closest("details").hidden = !useRefl;
    if (useRefl) smallMultiples(embeddingEl, { years, series: dims, startMonth, yLabel: "ESD embedding", rowHeight: 20, name: "pixel_embedding" });
  }
  if (stripEl) {
    stripEl.innerHTML = report.years.map((y) => {
      const c = y.class;
      const u = y.uncertainty === null || y.uncertainty === undefined ? "" : ` (uncertainty ${y.uncertainty.toFixed(2)})`;
      return c ? `<div style="background:${esc(colors[c] || "#888")}" title="${y.year}: ${esc(c)}${u}">${esc(abbreviate(c))}</div>` : `<div class="none" title="${y.year}: no class">–</div>`;
    }).join("");
  }
}

const REASON_WORDS = { unknown: "unknown class", label_may_be_wrong: "label may be wrong", changed: "changed", uncertain: "uncertain", answered: "answered" };

/**
 * The label sample at this pixel, year by year: its class, why it is in the review queue, the answer,
 * and what drove a change (spectral bands and months of the attribution).
 * @param {Array<any>} samples  /pixel/ answer's "samples"
 */
export function renderSamples(samples, el, colors) {
  if (!el) return;
  if (!samples || !samples.length) {
    el.innerHTML = "";
    return;
  }
  const rows = samples.map((s) => {
    const why = [];
    if (s.top_bands && s.top_bands.length) why.push(`bands ${s.top_bands.join(", ")}`);
    if (s.top_months && s.top_months.length) why.push(`months ${s.top_months.join(", ")}`);
    return `<tr><td>${s.year}</td><td><span class="swatch" style="background:${esc(colors[s.dynamic_class] || "#999")}"></span> ${esc(s.dynamic_class)}${s.answer ? ` <span class="kept">(answer: ${esc(s.answer)})</span>` : ""}</td>
      <td>${esc(REASON_WORDS[s.review_reason] || "")}</td><td>${esc(why.join("; "))}</td></tr>`;
  }).join("");
  el.innerHTML = `<h3>Label #${esc(samples[0].row)} here (uploaded class ${esc(samples[0].static_class)})</h3>
    <table class="small"><thead><tr><th>Year</th><th>Dynamic class</th><th>Review</th><th>What drove a change</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** A short name for narrow cells: "Soybean-cotton" -> "Soy-cot"; short names stay. */
export function abbreviate(name) {
  if (name.length <= 7) return name;
  const parts = name.split(/[-\s_/]+/).filter(Boolean);
  return parts.length > 1 ? parts.map((p) => p.slice(0, 3)).join("-") : name.slice(0, 6);
}

export class PixelPanel {
  constructor(app) {
    this.app = app;
    this.last = null;
    app.map.map.on("click", (e) => {
      if (app.map.drawing || !app.state.analysis) return;
      const bounds = app.map.productBounds;
      if (bounds && !bounds.contains(e.latlng)) {
        toast("Click inside the analysed area to see a pixel");
        return;
      }
      this.query(e.latlng.lat, e.latlng.lng);
    });
  }

  async query(lat, lon) {
    const a = this.app.state.analysis;
    if (!a) return;
    this.app.map.markPixel(lat, lon);
    this.app.showTab("pixel");
    $("pixel-empty").hidden = true;
    $("pixel").hidden = false;
    $("pixel-title").textContent = `Pixel ${lat.toFixed(5)}, ${lon.toFixed(5)}`;
    $("pixel-chart").innerHTML = '<p class="hint">Reading the embeddings…</p>';
    $("pixel-classes").innerHTML = "";
    $("pixel-samples").innerHTML = "";
    try {
      const report = await api(`/api/analyses/${a.id}/pixel/?lon=${lon.toFixed(6)}&lat=${lat.toFixed(6)}`);
      this.last = { lat, lon, report };
      const startMonth = Number((a.parameters || {}).year_start_month || 1);
      renderPixel(report, $("pixel-chart"), $("pixel-classes"), this.app.results.colors(), $("pixel-embedding"), startMonth);
      renderSamples(report.samples, $("pixel-samples"), this.app.results.colors());
    } catch (err) {
      this.last = null;
      $("pixel-chart").innerHTML = `<div class="error" role="alert">${esc(err.message)}</div>`;
    }
    this.app.similar.reset();
  }
}


