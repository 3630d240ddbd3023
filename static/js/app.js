/* global L */
// Entry point of the map page: builds the map and the panels and keeps the shared state.

import { api } from "./api.js";
import { MapView } from "./map.js";
import { DataPanel, RunPanel, ResultsPanel, initTabs, toast } from "./panels.js";
import { PixelPanel } from "./pixel.js";
import { ReviewPanel } from "./review.js";
import { SimilarPanel } from "./similar.js";

class App {
  constructor() {
    this.state = { aois: [], labelsets: [], analyses: [], analysis: null };
    this.map = new MapView(document.getElementById("map"));
    this.showTab = initTabs();
    this.run = new RunPanel(this);
    this.results = new ResultsPanel(this);
    this.similar = new SimilarPanel(this);
    this.data = new DataPanel(this);
    this.pixel = new PixelPanel(this);
    this.review = new ReviewPanel(this);
  }

  async init() {
    const [cov] = await Promise.all([this.map.loadCoverage(), this.data.refreshAois(), this.data.refreshLabelsets(), this.run.refreshList()]);
    if (cov) this.run.setYears(cov.years);
    this.map.fitAois();
    const running = this.state.analyses.find((a) => a.status === "running" || a.status === "queued");
    if (running) this.run.watch(running.id);
    document.body.dataset.ready = "1";
  }

  /** Forget the open analysis (deleted): empty results, review and pixel tabs, no product layers. */
  closeAnalysis() {
    this.state.analysis = null;
    this.similar.reset();
    this.map.setProductBounds(undefined);
    this.map.showCompare(null);
    this.map.hideSamples();
    for (const [panel, empty] of [["results", "results-empty"], ["review", "review-empty"], ["pixel", "pixel-empty"]]) {
      document.getElementById(panel).hidden = true;
      document.getElementById(empty).hidden = false;
    }
    document.getElementById("map-legend").hidden = true;
    document.getElementById("tab-review").textContent = "Review";
    delete document.body.dataset.analysis;
  }

  /** Open a finished analysis: results, review queue, pixel queries. */
  async openAnalysis(pk, detail) {
    const a = detail && detail.products ? detail : await api(`/api/analyses/${pk}/`);
    this.state.analysis = a;
    const aoi = this.map.aois.getLayers().filter((l) => l.aoiId === a.aoi);
    this.map.setProductBounds(aoi.length ? L.featureGroup(aoi).getBounds() : undefined);
    this.similar.reset();
    this.map.hideLabels();
    await this.results.show(a);
    this.review.load(a);
    this.similar.fillLabelsets();
    this.map.zoomToAoi(a.aoi);
    this.showTab("results");
    this.run.refreshList();
    document.body.dataset.analysis = String(a.id);
  }
}

const app = new App();
window.esdApp = app;
app.init().catch((err) => toast(`Could not load your data: ${err.message}`, true));
