// Active review queue: the sample-years whose review is worth most (unknown first, then by the value of a
// review: uncertainty, anomaly, disagreement of TasGen's stages, diversity), reviewed / to-review counts,
// keyboard moves, confirm / correct (stored), new classes, and "Apply reviews" (a re-run with the answers).

import { api, esc, fmt } from "./api.js";
import { $, toast } from "./panels.js";
import { renderPixel } from "./pixel.js";

const PAGE = 20;
const REASONS = {
  unknown: "unknown class",
  label_may_be_wrong: "label may be wrong",
  changed: "changed",
  uncertain: "uncertain",
};

export class ReviewPanel {
  constructor(app) {
    this.app = app;
    this.items = [];
    this.counts = {};
    this.shown = 0;
    this.active = -1;
    this.status = "all";
    $("review-more").addEventListener("click", () => this.renderMore());
    $("review-apply").addEventListener("click", () => this.apply());
    $("review-newclass").addEventListener("submit", (e) => { e.preventDefault(); this.addClass(); });
    $("review-bulk").addEventListener("submit", (e) => { e.preventDefault(); this.nameUnknown(); });
    for (const btn of document.querySelectorAll("#review-filter button")) {
      btn.addEventListener("click", () => { this.status = btn.dataset.status; this.reload(); });
    }
    document.addEventListener("keydown", (e) => this.onKey(e));
  }

  get analysis() { return this.app.state.analysis; }

  classes() { return (this.analysis.classes || []).map((c) => c.name); }

  async load(a) {
    $("review-empty").hidden = true;
    $("review").hidden = false;
    this.status = "all";
    await this.reload(a);
  }

  async reload(a = this.analysis) {
    $("review-list").innerHTML = '<li class="hint">Loading…</li>';
    for (const btn of document.querySelectorAll("#review-filter button")) btn.setAttribute("aria-pressed", String(btn.dataset.status === this.status));
    let body;
    try {
      body = await api(`/api/analyses/${a.id}/review/?status=${this.status}&limit=1000`);
    } catch (err) {
      $("review-list").innerHTML = `<li class="error">${esc(err.message)}</li>`;
      return;
    }
    this.items = body.results;
    this.setCounts(body.counts);
    $("review-list").innerHTML = this.items.length ? "" : `<li class="hint">${this.status === "reviewed" ? "No answers yet." : "Nothing to review."}</li>`;
    this.shown = 0;
    this.active = -1;
    this.renderMore();
    this.fillClassSelects();
  }

  setCounts(counts) {
    this.counts = counts;
    const c = counts;
    $("review-counts").innerHTML = `<strong>${c.unreviewed}</strong> to review · <strong>${c.reviewed}</strong> reviewed` +
      (c.unknown ? ` · <span class="reason r-unknown">${c.unknown} unknown</span>` : "") +
      (c.label_may_be_wrong ? ` · ${c.label_may_be_wrong} label may be wrong` : "");
    $("tab-review").innerHTML = `Review${c.unreviewed ? ` <span class="badge">${c.unreviewed}</span>` : ""}`;
    const apply = $("review-apply");
    apply.disabled = !c.reviewed;
    apply.textContent = `Apply reviews (${c.reviewed})`;
    $("review-bulk").hidden = !c.unknown;
  }

  fillClassSelects() {
    const opts = this.classes().map((c) => `<option>${esc(c)}</option>`).join("");
    $("review-bulk-class").innerHTML = opts;
    for (const sel of document.querySelectorAll("#review-list select")) {
      const value = sel.value;
      sel.innerHTML = opts;
      sel.value = value;
    }
  }

  renderMore() {
    const colors = this.app.results.colors();
    const classes = this.classes();
    for (let k = this.shown; k < Math.min(this.items.length, this.shown + PAGE); k++) {
      const s = this.items[k];
      const li = document.createElement("li");
      li.tabIndex = -1;
      li.dataset.index = String(k);
      li.dataset.sample = String(s.id);
      if (s.answer) li.classList.add("saved");
      const att = s.attribution || {};
      const why = [];
      if (att.top_bands && att.top_bands.length) why.push(`bands ${att.top_bands.join(", ")}`);
      if (att.top_months && att.top_months.length) why.push(`months ${att.top_months.join(", ")}`);
      li.innerHTML = `<div class="head"><span class="from-to">Label #${esc(s.row)} · ${s.year}:
          <span class="swatch" style="background:${esc(colors[s.static_class] || "#999")}"></span> ${esc(s.static_class)} →
          <span class="swatch" style="background:${esc(colors[s.dynamic_class] || "#999")}"></span> ${esc(s.dynamic_class)}</span>
          <span class="reason r-${esc(s.review_reason)}">${esc(REASONS[s.review_reason] || s.review_reason)}</span></div>
        <div class="score">value ${fmt(s.review_value, 2)} · anomaly ${fmt(s.anomaly_score, 1)} · conf. ${fmt(s.confidence, 2)}${s.suggested_class ? ` · TasGen saw <strong>${esc(s.suggested_class)}</strong> in the label's own year` : ""}</div>
        ${why.length ? `<div class="hint">What drove it: ${esc(why.join("; "))}</div>` : ""}
        <div class="actions">
          <button type="button" class="small" data-act="chart" aria-expanded="false">Chart</button>
          <button type="button" class="small" data-act="confirm" aria-label="Confirm ${esc(s.dynamic_class)} for label ${esc(s.row)} in ${s.year}">Confirm</button>
          <label class="sr-only" for="rv-${s.id}">Correct class of label ${esc(s.row)} in ${s.year}</label>
          <select id="rv-${s.id}">${classes.map((c) => `<option ${c === (s.answer || s.static_class) ? "selected" : ""}>${esc(c)}</option>`).join("")}</select>
          <button type="button" class="small" data-act="correct">Set class</button>
          <button type="button" class="small" data-act="undo" ${s.answer ? "" : "hidden"}>Undo</button>
          <span class="kept">${s.answer ? `${s.action === "confirm" ? "confirmed" : "corrected"}: ${esc(s.answer)}` : ""}</span>
        </div>
        <div class="chart" hidden></div><div class="classstrip" hidden></div>`;
      li.querySelector('[data-act="chart"]').addEventListener("click", (e) => this.toggleChart(li, s, e.currentTarget));
      li.querySelector('[data-act="confirm"]').addEventListener("click", () => this.save(li, s, s.dynamic_class));
      li.querySelector('[data-act="correct"]').addEventListener("click", () => this.save(li, s, li.querySelector("select").value));
      li.querySelector('[data-act="undo"]').addEventListener("click", () => this.save(li, s, null));
      li.addEventListener("click", () => this.setActive(k, false));
      $("review-list").appendChild(li);
    }
    this.shown = Math.min(this.items.length, this.shown + PAGE);
    $("review-more").hidden = this.shown >= this.items.length;
    $("review-more").textContent = `Show more (${this.items.length - this.shown} left)`;
  }

  item(k) { return $("review-list").querySelector(`li[data-index="${k}"]`); }

  setActive(k, focus = true) {
    if (k < 0 || k >= this.items.length) return;
    while (k >= this.shown) this.renderMore();
    const old = this.item(this.active);
    if (old) old.classList.remove("active");
    this.active = k;
    const li = this.item(k);
    li.classList.add("active");
    if (focus) {
      li.focus();
      li.scrollIntoView({ block: "nearest" });
    }
    const s = this.items[k];
    this.app.results.showYear(s.year);
    this.app.map.markPixel(s.lat, s.lon);
  }

  onKey(e) {
    if ($("panel-review").hidden || $("review").hidden || !this.items.length) return;
    if (e.target.closest && e.target.closest("input, select, textarea")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const s = this.items[this.active];
    const li = this.item(this.active);
    if (e.key === "j" || e.key === "ArrowDown") this.setActive(this.active + 1);
    else if (e.key === "k" || e.key === "ArrowUp") this.setActive(Math.max(0, this.active - 1));
    else if (s && e.key === "c") this.save(li, s, s.dynamic_class);
    else if (s && e.key === "u") this.save(li, s, null);
    else if (s && e.key === "Enter") li.querySelector('[data-act="chart"]').click();
    else if (s && /^[1-9]$/.test(e.key) && this.classes()[Number(e.key) - 1]) this.save(li, s, this.classes()[Number(e.key) - 1]);
    else return;
    e.preventDefault();
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
      const report = await api(`/api/analyses/${this.analysis.id}/pixel/?lon=${s.lon}&lat=${s.lat}`);
      renderPixel(report, chart, strip, this.app.results.colors());
      chart.dataset.loaded = "1";
    } catch (err) {
      chart.innerHTML = `<div class="error">${esc(err.message)}</div>`;
    }
  }

  async save(li, s, klass) {
    try {
      const body = await api(`/api/analyses/${this.analysis.id}/reviews/`, { json: { samples: [s.id], klass } });
      s.answer = klass || "";
      s.action = klass === null ? "" : klass === s.dynamic_class ? "confirm" : "correct";
      this.setCounts(body.counts);
      if (li) {
        li.classList.toggle("saved", Boolean(klass));
        li.querySelector(".kept").textContent = klass ? `${s.action === "confirm" ? "confirmed" : "corrected"}: ${klass}` : "";
        li.querySelector('[data-act="undo"]').hidden = !klass;
      }
      toast(klass ? `Label #${s.row} ${s.year}: ${klass} ${s.action === "confirm" ? "confirmed" : "kept"} for the next run` : `Label #${s.row} ${s.year}: answer removed`);
      if (klass && this.active === Number(li && li.dataset.index)) this.setActive(this.active + 1);
    } catch (err) {
      toast(`Not saved: ${err.message}`, true);
    }
  }

  async addClass() {
    const input = $("review-newclass-name");
    try {
      const body = await api(`/api/labelsets/${this.analysis.label_set}/classes/`, { json: { name: input.value } });
      this.analysis.classes = body.classes;
      this.fillClassSelects();
      $("review-bulk-class").value = input.value.trim();
      toast(`Class “${input.value.trim()}” added to the label set`);
      input.value = "";
    } catch (err) {
      toast(`Class not added: ${err.message}`, true);
    }
  }

  async nameUnknown() {
    const klass = $("review-bulk-class").value;
    let ids;
    try {
      const body = await api(`/api/analyses/${this.analysis.id}/review/?reason=unknown&status=unreviewed&limit=1000`);
      ids = body.results.map((s) => s.id);
      if (!ids.length) return toast("No unanswered unknown samples");
      await api(`/api/analyses/${this.analysis.id}/reviews/`, { json: { samples: ids, klass } });
    } catch (err) {
      return toast(`Not saved: ${err.message}`, true);
    }
    toast(`${ids.length} unknown samples named ${klass}`);
    await this.reload();
  }

  async apply() {
    const btn = $("review-apply");
    btn.disabled = true;
    try {
      const a = await api(`/api/analyses/${this.analysis.id}/apply-reviews/`, { method: "POST" });
      toast("Applying reviews: new maps in a few seconds");
      this.app.run.refreshList();
      this.app.run.watch(a.id);
    } catch (err) {
      toast(`Reviews not applied: ${err.message}`, true);
      btn.disabled = false;
    }
  }
}
