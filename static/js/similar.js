// Similar pixels: ask the server for pixels like the clicked one, show a heat layer with a threshold,
// and add the chosen ones to a label set as new labels of a class.

/* global L */
import { api, esc } from "./api.js";
import { $, toast } from "./panels.js";

export class SimilarPanel {
  constructor(app) {
    this.app = app;
    this.result = null;
    this.heat = null;
    this.selected = new Set();
    $("similar-btn").addEventListener("click", () => this.ask());
    $("similar-threshold").addEventListener("input", () => this.render());
    $("similar-threshold").addEventListener("change", () => this.updateHeat());
    $("similar-add").addEventListener("submit", (e) => { e.preventDefault(); this.add(); });
    $("similar-top").addEventListener("click", () => {
      const boxes = Array.from($("similar-list").querySelectorAll("input[type=checkbox]"));
      boxes.slice(0, 10).forEach((b) => { if (!b.checked) { b.checked = true; b.dispatchEvent(new Event("change")); } });
    });
    $("similar-labelset").addEventListener("change", () => {
      $("similar-labelset").dataset.chosen = $("similar-labelset").value;
      this.fillClasses();
      this.updateButton();
    });
  }

  get threshold() { return Number($("similar-threshold").value) / 100; }

  /**
   * The label sets as choices; the analysis's own set is the default (and marked), so "Add" never goes to
   * an unrelated set unless the user picks one.
   */
  fillLabelsets() {
    const sel = $("similar-labelset");
    const keep = sel.dataset.chosen;
    const a = this.app.state.analysis;
    sel.innerHTML = (this.app.state.labelsets || [])
      .map((s) => `<option value="${s.id}">${esc(s.name)}${a && a.label_set === s.id ? " (this analysis)" : ""}</option>`).join("");
    if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
    else if (a && [...sel.options].some((o) => o.value === String(a.label_set))) sel.value = String(a.label_set);
    this.fillClasses();
    this.updateButton();
  }

  /** The name of the chosen target set. */
  targetName() {
    const set = (this.app.state.labelsets || []).find((s) => String(s.id) === $("similar-labelset").value);
    return set ? set.name : "";
  }

  updateButton() {
    $("similar-add-btn").textContent = `Add ${this.selected.size} selected as labels`;
    $("similar-target").textContent = this.targetName() ? `to "${this.targetName()}"` : "";
  }

  /** Show or hide the heat layer and the points (they belong to the Pixel tab). */
  setVisible(on) {
    const map = this.app.map.map;
    for (const layer of [this.heat, this.app.map.similar]) {
      if (!layer) continue;
      if (on && this.result && !map.hasLayer(layer)) layer.addTo(map);
      if (!on && map.hasLayer(layer)) map.removeLayer(layer);
    }
  }

  fillClasses() {
    const set = (this.app.state.labelsets || []).find((s) => String(s.id) === $("similar-labelset").value);
    $("similar-class-options").innerHTML = (set ? set.classes : []).map((c) => `<option value="${esc(c.name)}"></option>`).join("");
  }

  reset() {
    delete $("similar-labelset").dataset.chosen;
    this.result = null;
    this.selected.clear();
    $("similar").hidden = true;
    $("similar-msg").innerHTML = "";
    if (this.heat) this.app.map.map.removeLayer(this.heat);
    this.app.map.similar.clearLayers();
  }

  async ask() {
    const a = this.app.state.analysis;
    const px = this.app.pixel.last;
    if (!a || !px) { $("similar-msg").innerHTML = '<p class="hint">Click a pixel on the map first.</p>'; return; }
    const year = this.app.results.year;
    $("similar-msg").innerHTML = `<p class="hint">Searching ${year}…</p>`;
    $("similar-btn").disabled = true;
    try {
      this.result = await api(`/api/analyses/${a.id}/similar/`, { json: { lon: px.lon, lat: px.lat, year } });
      this.result.pixels.sort((p, q) => q.similarity - p.similarity);
      this.selected.clear();
      $("similar").hidden = false;
      $("similar-msg").innerHTML = "";
      this.fillLabelsets();
      const klass = (px.report.years.find((y) => y.year === year) || {}).class;
      if (klass && !$("similar-class").value) $("similar-class").value = klass;
      this.updateHeat();
      this.render();
    } catch (err) {
      $("similar-msg").innerHTML = `<div class="error" role="alert">${esc(err.message)}</div>`;
    } finally {
      $("similar-btn").disabled = false;
    }
  }

  updateHeat() {
    if (!this.result || !this.result.tiles) return;
    const url = this.result.tiles.replace(/threshold=[0-9.]+/, `threshold=${this.threshold.toFixed(2)}`);
    if (!this.heat) this.heat = L.tileLayer(url, { bounds: this.app.map.productBounds, pane: "heat", maxNativeZoom: 15, maxZoom: 18, opacity: 0.85, className: "similar-tiles" });
    else this.heat.setUrl(url);
    const map = this.app.map;
    if (!map.map.hasLayer(this.heat)) this.heat.addTo(map.map);
  }

  /** The pixels above the threshold as a checklist and as points on the map (chosen ones in orange). */
  render() {
    const t = this.threshold;
    $("similar-threshold-value").textContent = t.toFixed(2);
    const shown = this.result.pixels.filter((p) => p.similarity >= t);
    $("similar-count").textContent = `${shown.length} of ${this.result.count} pixels`;
    const list = $("similar-list");
    list.innerHTML = "";
    const group = this.app.map.similar;
    group.clearLayers();
    shown.slice(0, 300).forEach((p, i) => {
      const key = `${p.lon},${p.lat}`;
      const li = document.createElement("li");
      li.innerHTML = `<label><input type="checkbox" ${this.selected.has(key) ? "checked" : ""}> #${i + 1}
        <span class="simbar" style="width:${Math.round(4 + (56 * (p.similarity - t)) / Math.max(1 - t, 1e-6))}px"></span> ${p.similarity.toFixed(3)}
        <span class="muted">${p.lat.toFixed(4)}, ${p.lon.toFixed(4)}</span></label>`;
      const box = li.querySelector("input");
      const style = (on) => (on
        ? { radius: 7, weight: 2, color: "#12352b", fillColor: "#f0b429", fillOpacity: 1 }
        : { radius: 3, weight: 0, color: "#fff", fillColor: "#fff", fillOpacity: 0.75 });
      const marker = L.circleMarker([p.lat, p.lon], { pane: "points", ...style(this.selected.has(key)) });
      const toggle = (on) => {
        if (on) this.selected.add(key); else this.selected.delete(key);
        box.checked = on;
        marker.setStyle(style(on));
        if (on) marker.bringToFront();
        this.updateButton();
      };
      box.addEventListener("change", () => toggle(box.checked));
      marker.on("click", (e) => { L.DomEvent.stop(e); toggle(!this.selected.has(key)); });
      marker.bindTooltip(`similarity ${p.similarity.toFixed(3)}`);
      group.addLayer(marker);
      list.appendChild(li);
    });
    if (!this.app.map.map.hasLayer(group)) group.addTo(this.app.map.map);
    this.updateButton();
  }

  async add() {
    if (!this.selected.size) { $("similar-msg").innerHTML = '<p class="hint">Tick the pixels to add first.</p>'; return; }
    const points = [...this.selected].map((k) => k.split(",").map(Number));
    const set = $("similar-labelset").value;
    const target = this.targetName();
    const klass = $("similar-class").value.trim();
    const year = this.app.results.year;
    const month = Number((this.app.state.analysis.parameters || {}).year_start_month || 1);
    // a date inside the analysis year: mid-year of the (possibly shifted) year
    const date = new Date(Date.UTC(year - (month > 1 ? 1 : 0), month - 1 + 6, 15)).toISOString().slice(0, 10);
    try {
      const added = await api(`/api/labelsets/${set}/labels/`, { json: { points, klass, reference_date: date } });
      const n = Array.isArray(added) ? added.length : (added.features || []).length;
      $("similar-msg").innerHTML = `<div class="report"><div class="ok">✔ Added ${n} labels of class "${esc(klass)}" to the label set "${esc(target)}". They are used by the next run on that set.</div></div>`;
      toast(`Added ${n} labels to "${target}"`);
      this.selected.clear();
      this.render();
      await this.app.data.refreshLabelsets();
    } catch (err) {
      $("similar-msg").innerHTML = `<div class="error" role="alert">${esc(err.message)}</div>`;
    }
  }
}
