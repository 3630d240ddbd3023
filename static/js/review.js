// Review queue: samples whose yearly class differs from the uploaded one, most anomalous first;
// confirm or correct each (the correction is kept on the label and used by the next run).

import { api, esc, fmt } from "./api.js";
import { $, toast } from "./panels.js";
import { renderPixel } from "./pixel.js";

const PAGE = 20;

export class ReviewPanel {
  constructor(app) {
    this.app = app;
    this.items = [];
    this.shown = 0;
    $("review-more").addEventListener("click", () => this.renderMore());
  }

  async load(a) {
    $("review-empty").hidden = true;
    $("review").hidden = false;
    $("review-list").innerHTML = '<li class="hint">Loading…</li>';
    try {
      this.items = await api(`/api/analyses/${a.id}/review/`);
    } catch (err) {
      $("review-list").innerHTML = `<li class="error">${esc(err.message)}</li>`;
      return;
    }
    const tab = $("tab-review");
    tab.innerHTML = `Review${this.items.length ? ` <span class="badge">${this.items.length}</span>` : ""}`;
    $("review-list").innerHTML = this.items.length ? "" : '<li class="hint">Nothing to review: every sample kept its uploaded class.</li>';
    this.shown = 0;
    this.renderMore();
  }

  renderMore() {
    const classes = (this.app.state.analysis.classes || []).map((c) => c.name);
    const colors = this.app.results.colors();
    for (const s of this.items.slice(this.shown, this.shown + PAGE)) {
      const li = document.createElement("li");
      const kept = s.corrected_class && s.corrected_class[String(s.year)];
      if (kept) li.classList.add("saved");
      li.innerHTML = `<div class="head"><span class="from-to">Label #${esc(s.row)} · ${s.year}:
          <span class="swatch" style="background:${esc(colors[s.static_class] || "#999")}"></span> ${esc(s.static_class)} →
          <span class="swatch" style="background:${esc(colors[s.dynamic_class] || "#999")}"></span> ${esc(s.dynamic_class)}</span>
          <span class="score">anomaly ${fmt(s.anomaly_score, 1)} · conf. ${fmt(s.confidence, 2)}</span></div>
        ${s.attribution && s.attribution.top_months ? `<div class="hint">Months that drove it: ${esc(s.attribution.top_months.join(", "))}</div>` : ""}
        <div class="actions">
          <button type="button" class="small" data-act="chart" aria-expanded="false">Chart</button>
          <button type="button" class="small" data-act="confirm" aria-label="Confirm ${esc(s.dynamic_class)} for label ${esc(s.row)} in ${s.year}">Confirm</button>
          <label class="sr-only" for="rv-${s.id}">Correct class of label ${esc(s.row)} in ${s.year}</label>
          <select id="rv-${s.id}">${classes.map((c) => `<option ${c === s.static_class ? "selected" : ""}>${esc(c)}</option>`).join("")}</select>
          <button type="button" class="small" data-act="correct">Set class</button>
          <span class="kept">${kept ? `kept: ${esc(kept)}` : ""}</span>
        </div>
        <div class="chart" hidden></div><div class="classstrip" hidden></div>`;
      li.querySelector('[data-act="chart"]').addEventListener("click", (e) => this.toggleChart(li, s, e.currentTarget));
      li.querySelector('[data-act="confirm"]').addEventListener("click", () => this.save(li, s, s.dynamic_class));
      li.querySelector('[data-act="correct"]').addEventListener("click", () => this.save(li, s, li.querySelector("select").value));
      $("review-list").appendChild(li);
    }
    this.shown = Math.min(this.items.length, this.shown + PAGE);
    $("review-more").hidden = this.shown >= this.items.length;
    $("review-more").textContent = `Show more (${this.items.length - this.shown} left)`;
  }

  async toggleChart(li, s, btn) {
    const chart = li.querySelector(".chart");
    const strip = li.querySelector(".classstrip");
    const open = chart.hidden;
    chart.hidden = strip.hidden = !open;
    btn.setAttribute("aria-expanded", String(open));
    this.app.results.showYear(s.year);
    this.app.map.markPixel(s.lat, s.lon);
    this.app.map.map.panTo([s.lat, s.lon]);
    if (!open || chart.dataset.loaded) return;
    chart.innerHTML = '<p class="hint">Loading…</p>';
    try {
      const report = await api(`/api/analyses/${this.app.state.analysis.id}/pixel/?lon=${s.lon}&lat=${s.lat}`);
      renderPixel(report, chart, strip, this.app.results.colors());
      chart.dataset.loaded = "1";
    } catch (err) {
      chart.innerHTML = `<div class="error">${esc(err.message)}</div>`;
    }
  }

  async save(li, s, klass) {
    try {
      await api(`/api/labels/${s.label}/correct/`, { json: { year: s.year, klass } });
      s.corrected_class = { ...(s.corrected_class || {}), [String(s.year)]: klass };
      li.classList.add("saved");
      li.querySelector(".kept").textContent = `kept: ${klass}`;
      toast(`Label #${s.row} ${s.year}: ${klass} kept for the next run`);
    } catch (err) {
      toast(`Not saved: ${err.message}`, true);
    }
  }
}
