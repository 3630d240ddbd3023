// The Leaflet map: base map and coverage (basemap.js, coverage.js), AOIs with Leaflet.draw, label and sample
// points, product tiles, swipe.

/* global L */
import { api } from "./api.js";
import { addBaseMap } from "./basemap.js";
import { CoverageLayers } from "./coverage.js";

export { FootprintTileLayer, footprintRings, ringTouchesBox } from "./coverage.js";

// Leaflet.draw 1.0.4 still calls Leaflet 1.9's deprecated L.Polyline._flat, which warns on every call.
if (L.LineUtil && L.LineUtil.isFlat) L.Polyline._flat = L.LineUtil.isFlat;

const DEFAULT_VIEW = { center: [-12.02, -55.95], zoom: 12 };
const MAX_NATIVE = 15; // product tiles are rendered up to this zoom, then scaled

export class MapView {
  /** @param {HTMLElement} el */
  constructor(el) {
    this.map = L.map(el, { zoomControl: true, preferCanvas: false, minZoom: 2, maxZoom: 18 }).setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
    this.map.createPane("products").style.zIndex = 350;
    this.map.createPane("compare").style.zIndex = 360;
    this.map.createPane("heat").style.zIndex = 370;
    this.map.createPane("points").style.zIndex = 450;
    this.layers = L.control.layers({}, {}, { collapsed: true, position: "topright" }).addTo(this.map);
    const d = el.dataset || {};
    this.base = addBaseMap(this.map, this.layers, { url: d.basemapUrl, attribution: d.basemapAttribution, outlineUrl: d.outlineUrl });
    this.coverage = new CoverageLayers(this.map, this.layers);
    L.control.scale({ imperial: false }).addTo(this.map);

    this.aois = L.featureGroup().addTo(this.map);
    this.layers.addOverlay(this.aois, "Areas (AOIs)");
    this.focusAoi = null; // while an analysis is open, only its AOI is outlined (see showAoiOutlines)
    this.labels = L.featureGroup([], { pane: "points" });
    this.layers.addOverlay(this.labels, "Labels");
    this.samples = L.featureGroup([], { pane: "points" });
    this.similar = L.featureGroup([], { pane: "points" });
    this.drawing = false;
    this.product = null;
    this.compare = null;
    this.swipeX = 0.5;
    this._initDraw();
    this._initSwipe();
  }

  _initDraw() {
    const shape = { color: "#1b7f5f", weight: 2, fillOpacity: 0.08 };
    this.draw = new L.Control.Draw({
      position: "topleft",
      draw: {
        polyline: false, circle: false, marker: false, circlemarker: false,
        rectangle: { shapeOptions: shape },
        polygon: { allowIntersection: false, shapeOptions: shape },
      },
      edit: { featureGroup: this.aois, remove: true },
    });
    this.map.addControl(this.draw);
    this.map.on("draw:drawstart draw:editstart draw:deletestart", () => { this.drawing = true; });
    this.map.on("draw:drawstop draw:editstop draw:deletestop", () => { setTimeout(() => { this.drawing = false; }, 50); });
    // Keyboard and screen-reader names for the draw buttons.
    el(this.map.getContainer(), ".leaflet-draw a").forEach((a) => {
      a.setAttribute("role", "button");
      if (!a.getAttribute("aria-label")) a.setAttribute("aria-label", a.title);
    });
  }

  /** Load the store's coverage: named patches and the ESD preview of a year that covers the view. */
  async loadCoverage() {
    let cov;
    try {
      cov = await api("/api/esd/coverage/");
    } catch {
      return null;
    }
    this.coverageBounds = this.coverage.show(cov);
    return cov;
  }

  /**
   * Show the user's AOIs (a GeoJSON FeatureCollection). Leaflet.draw edits single polygons only, so each
   * part of a MultiPolygon is its own layer; every layer gets ``aoiId``, see ``aoiGeometry``.
   */
  setAois(fc) {
    this.aois.clearLayers();
    const style = { color: "#1b7f5f", weight: 2, fillOpacity: 0.06 };
    for (const f of fc.features) {
      const g = f.geometry;
      const parts = g.type === "MultiPolygon" ? g.coordinates : g.type === "Polygon" ? [g.coordinates] : [];
      for (const rings of parts) {
        const layer = L.polygon(L.GeoJSON.coordsToLatLngs(rings, 1), style);
        layer.aoiId = f.id ?? f.properties.id;
        this.aois.addLayer(layer);
      }
    }
    if (this.focusAoi !== null && this.focusAoi !== undefined) this.showAoiOutlines();
  }

  /**
   * AOI outlines over results: with an analysis open (``focusId``) only its AOI is outlined, unfilled, and
   * ``on`` false hides it too; with none open every AOI is drawn as usual.
   */
  showAoiOutlines(focusId = this.focusAoi, on = this.aoiOutlinesOn ?? true) {
    this.focusAoi = focusId;
    this.aoiOutlinesOn = on;
    const normal = { color: "#1b7f5f", weight: 2, opacity: 1, fillOpacity: 0.06 };
    const hidden = { opacity: 0, fillOpacity: 0 };
    for (const l of this.aois.getLayers()) {
      if (focusId === null || focusId === undefined) l.setStyle(normal);
      else if (l.aoiId === focusId && on) l.setStyle({ ...normal, fillOpacity: 0 });
      else l.setStyle(hidden);
    }
  }

  /** The GeoJSON MultiPolygon of an AOI from its layers on the map (after an edit). */
  aoiGeometry(id) {
    const parts = this.aois.getLayers().filter((l) => l.aoiId === id).map((l) => l.toGeoJSON().geometry.coordinates);
    return { type: "MultiPolygon", coordinates: parts };
  }

  fitAois() {
    if (this.aois.getLayers().length) this.map.fitBounds(this.aois.getBounds(), { padding: [30, 30], maxZoom: 15 });
    else if (this.coverageBounds) this.map.fitBounds(this.coverageBounds, { padding: [20, 20], maxZoom: 4 }); // patches with their country around
  }

  zoomToAoi(id) {
    const layers = this.aois.getLayers().filter((l) => l.aoiId === id);
    if (layers.length) this.map.fitBounds(L.featureGroup(layers).getBounds(), { padding: [30, 30], maxZoom: 15 });
  }

  /** Label points of one set, coloured by class. */
  setLabels(fc, colors) {
    this.labels.clearLayers();
    L.geoJSON(fc, {
      pane: "points",
      pointToLayer: (f, ll) => L.circleMarker(ll, { pane: "points", radius: 4, weight: 1, color: "#222", fillColor: colors[f.properties.klass] || "#888", fillOpacity: 0.9 }),
      style: (f) => ({ color: colors[f.properties.klass] || "#888", weight: 1 }),
      onEachFeature: (f, layer) => layer.bindTooltip(`${f.properties.klass} · ${f.properties.reference_date || ""}`),
    }).eachLayer((l) => this.labels.addLayer(l));
    if (!this.map.hasLayer(this.labels)) this.labels.addTo(this.map);
  }

  /** Show a product tile layer (or none); keeps one layer and changes its URL. */
  /** Products are only asked for tiles inside these bounds (the analysis' AOI). */
  setProductBounds(bounds) {
    this.productBounds = bounds;
    for (const l of [this.product, this.compare]) if (l) { this.map.removeLayer(l); }
    this.product = this.compare = null;
  }

  showProduct(url, opacity) {
    if (!url) {
      if (this.product) this.map.removeLayer(this.product);
      return;
    }
    if (!this.product) {
      this.product = L.tileLayer(url, { bounds: this.productBounds, pane: "products", maxNativeZoom: MAX_NATIVE, maxZoom: 18, opacity, className: "product-tiles" });
    } else if (this.product._url !== url) {
      this.product.setUrl(url);
    }
    this.product.setOpacity(opacity);
    if (!this.map.hasLayer(this.product)) this.product.addTo(this.map);
  }

  /** The compare layer shown left of the divider (null hides the swipe). */
  showCompare(url, opacity, labels) {
    const divider = document.getElementById("swipe-divider");
    if (!url) {
      if (this.compare) this.map.removeLayer(this.compare);
      divider.hidden = true;
      this._clip();
      return;
    }
    if (!this.compare) {
      this.compare = L.tileLayer(url, { bounds: this.productBounds, pane: "compare", maxNativeZoom: MAX_NATIVE, maxZoom: 18, opacity, className: "compare-tiles" });
    } else if (this.compare._url !== url) {
      this.compare.setUrl(url);
    }
    this.compare.setOpacity(opacity);
    if (!this.map.hasLayer(this.compare)) this.compare.addTo(this.map);
    document.getElementById("swipe-tag-left").textContent = labels[0];
    document.getElementById("swipe-tag-right").textContent = labels[1];
    divider.hidden = false;
    this._clip();
  }

  _initSwipe() {
    const handle = document.getElementById("swipe-handle");
    let dragging = false;
    const move = (clientX) => {
      const rect = this.map.getContainer().getBoundingClientRect();
      this.swipeX = Math.min(0.98, Math.max(0.02, (clientX - rect.left) / rect.width));
      this._clip();
    };
    handle.addEventListener("pointerdown", (e) => { dragging = true; handle.setPointerCapture(e.pointerId); e.preventDefault(); });
    handle.addEventListener("pointermove", (e) => { if (dragging) move(e.clientX); });
    handle.addEventListener("pointerup", () => { dragging = false; });
    handle.addEventListener("keydown", (e) => {
      if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        this.swipeX = Math.min(0.98, Math.max(0.02, this.swipeX + (e.key === "ArrowLeft" ? -0.05 : 0.05)));
        this._clip();
        e.preventDefault();
      }
    });
    L.DomEvent.disableClickPropagation(handle);
    this.map.on("move zoom resize", () => this._clip());
  }

  /** Compare layer left of the divider, main product right of it (CSS clip in layer-pane pixels). */
  _clip() {
    const products = this.map.getPane("products");
    if (document.getElementById("swipe-divider").hidden) { products.style.clip = ""; return; }
    const size = this.map.getSize();
    const x = Math.round(size.x * this.swipeX);
    document.getElementById("swipe-divider").style.left = `${x}px`;
    const nw = this.map.containerPointToLayerPoint([0, 0]);
    const se = this.map.containerPointToLayerPoint(size);
    this.map.getPane("compare").style.clip = `rect(${nw.y}px, ${nw.x + x}px, ${se.y}px, ${nw.x}px)`;
    products.style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${nw.x + x}px)`;
  }

  /** Dynamic samples as points coloured by their yearly class; changed ones get a thick dark ring. */
  setSamples(samples, colors, onClick) {
    this.samples.clearLayers();
    for (const s of samples) {
      const m = L.circleMarker([s.lat, s.lon], {
        pane: "points", radius: s.changed ? 6 : 4, weight: s.changed ? 3 : 1, color: s.changed ? "#111" : "#33403b",
        fillColor: colors[s.dynamic_class] || "#888", fillOpacity: 0.95,
      });
      m.bindTooltip(`${s.year}: ${s.dynamic_class}${s.changed ? ` (uploaded as ${s.static_class})` : ""}`);
      if (onClick) m.on("click", (e) => { L.DomEvent.stop(e); onClick(s); });
      this.samples.addLayer(m);
    }
    if (!this.map.hasLayer(this.samples)) this.samples.addTo(this.map);
  }

  hideLabels() { this.map.removeLayer(this.labels); }

  hideSamples() { this.map.removeLayer(this.samples); }

  /** A marker where the user clicked for the pixel chart. */
  markPixel(lat, lon) {
    if (!this.pixelMarker) {
      this.pixelMarker = L.circleMarker([lat, lon], { pane: "points", radius: 7, color: "#f0b429", weight: 3, fill: false, interactive: false }).addTo(this.map);
    } else this.pixelMarker.setLatLng([lat, lon]);
  }
}

function el(root, sel) { return Array.from(root.querySelectorAll(sel)); }
