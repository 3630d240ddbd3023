/* global L */
// Entry point of the map page: builds the map and the panels and keeps the shared state; the view, the open
// analysis, its year and layer live in the URL (urlstate.js).

import { api } from "./api.js";
import { MapView } from "./map.js";
import { DataPanel, RunPanel, ResultsPanel, initTabs, toast } from "./panels.js";
import { PixelPanel } from "./pixel.js";
import { ReviewPanel } from "./review.js";
import { SimilarPanel } from "./similar.js";
import { UrlState } from "./urlstate.js";

class App {
  constructor() {
    this.state = { aois: [], labelsets: [], analyses: [], analysis: null };
    this.url = new UrlState(document.body.dataset.user || "");
    this.map = new MapView(document.getElementById("map"));
    this.showTab = initTabs((to, from) => this.onTab(to, from));
    this.run = new RunPanel(this);
    this.results = new ResultsPanel(this);
    this.similar = new SimilarPanel(this);
    this.data = new DataPanel(this);
    this.pixel = new PixelPanel(this);
    this.review = new ReviewPanel(this);
  }

  async init() {
    const [cov] = await Promise.all([this.map.loadCoverage(), this.data.refreshAois(), this.data.refreshLabelsets(), this.run.refreshList()]);
    this.state.coverage = cov;
    this.run.setYears(cov ? cov.years : []);
    const view = this.url.initial.v;
    const reopen = this.url.analysisToOpen();
    const listed = reopen && this.state.analyses.find((a) => a.id === reopen);
    if (listed && listed.status === "done") {
      await this.openAnalysis(reopen, null, { year: this.url.initial.y, layer: this.url.initial.l, keepView: Boolean(view) });
    } else if (reopen && this.url.initial.a) {
      toast(listed ? `Analysis ${reopen} is ${listed.status}` : `Analysis ${reopen} is not one of yours`, !listed);
    }
    if (view) this.map.map.setView([view.lat, view.lon], view.zoom);
    else if (!this.state.analysis) this.map.fitAois();
    this.map.map.on("moveend", () => {
      const c = this.map.map.getCenter();
      this.url.set({ v: { lat: c.lat, lon: c.lng, zoom: this.map.map.getZoom() } });
    });
    const running = this.state.analyses.find((a) => a.status === "running" || a.status === "queued");
    if (running) this.run.watch(running.id);
    document.body.dataset.ready = "1";
  }

  /** Tab changes: the similar-pixels layers belong to the Pixel tab. */
  onTab(to, from) {
    if (from === "pixel") this.similar.setVisible(false);
    if (to === "pixel") this.similar.setVisible(true);
  }

  /** Forget the open analysis (deleted): empty results, review and pixel tabs, no product layers. */
  closeAnalysis() {
    this.state.analysis = null;
    this.similar.reset();
    this.map.setProductBounds(undefined);
    this.map.showCompare(null);
    this.map.hideSamples();
    this.map.showAoiOutlines(null);
    this.map.coverage.setLabelsVisible(true);
    for (const [panel, empty] of [["results", "results-empty"], ["review", "review-empty"], ["pixel", "pixel-empty"]]) {
      document.getElementById(panel).hidden = true;
      document.getElementById(empty).hidden = false;
    }
    document.getElementById("map-legend").hidden = true;
    document.getElementById("tab-review").textContent = "Review";
    delete document.body.dataset.analysis;
    this.url.set({ a: null });
  }

  /**
   * Open a finished analysis: results, review queue, pixel queries.
   * @param {number} pk
   * @param {any} [detail]  its API detail when the caller has it
   * @param {{year?: number, layer?: string, keepView?: boolean}} [opts]  from a permalink
   */
  async openAnalysis(pk, detail, opts = {}) {
    let a;
    try {
      a = detail && detail.products ? detail : await api(`/api/analyses/${pk}/`);
    } catch (err) {
      toast(`Could not open analysis ${pk}: ${err.message}`, true);
      this.url.forget();
      return;
    }
    this.state.analysis = a;
    const aoi = this.map.aois.getLayers().filter((l) => l.aoiId === a.aoi);
    this.map.setProductBounds(aoi.length ? L.featureGroup(aoi).getBounds() : undefined);
    this.map.showAoiOutlines(a.aoi, document.getElementById("show-aoi").checked);
    this.map.coverage.setLabelsVisible(false);
    this.similar.reset();
    this.map.hideLabels();
    await this.results.show(a, opts);
    this.review.load(a);
    this.similar.fillLabelsets();
    if (!opts.keepView) this.map.zoomToAoi(a.aoi);
    this.showTab("results");
    this.run.refreshList();
    document.body.dataset.analysis = String(a.id);
    this.url.set({ a: a.id, y: this.results.year, l: this.results.layer });
  }
}

const app = new App();
window.esdApp = app;
app.init().catch((err) => toast(`Could not load your data: ${err.message}`, true));
