// The Leaflet map: offline base layers, AOIs with Leaflet.draw, label and sample points, product tiles, swipe.

/* global L */
import { api } from "./api.js";

// Leaflet.draw 1.0.4 still calls Leaflet 1.9's deprecated L.Polyline._flat, which warns on every call.
if (L.LineUtil && L.LineUtil.isFlat) L.Polyline._flat = L.LineUtil.isFlat;

const DEFAULT_VIEW = { center: [-12.02, -55.95], zoom: 12 };
const MAX_NATIVE = 15; // product tiles are rendered up to this zoom, then scaled

export class MapView {
  /** @param {HTMLElement} el */
  constructor(el) {
    this.map = L.map(el, { zoomControl: true, preferCanvas: false, maxZoom: 18 }).setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
    this.map.createPane("products").style.zIndex = 350;
    this.map.createPane("compare").style.zIndex = 360;
    this.map.createPane("heat").style.zIndex = 370;
    this.map.createPane("points").style.zIndex = 450;
    this.blank = L.layerGroup();
    this.baseLayers = { "Plain background": this.blank };
    this.overlays = {};
    this.blank.addTo(this.map);
    this.osm = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19,
      attribution: "© OpenStreetMap contributors",
    });
    this.baseLayers["OpenStreetMap (online)"] = this.osm;
    this.layers = L.control.layers(this.baseLayers, this.overlays, { collapsed: true, position: "topright" }).addTo(this.map);
    L.control.scale({ imperial: false }).addTo(this.map);

    this.aois = L.featureGroup().addTo(this.map);
    this.layers.addOverlay(this.aois, "Areas (AOIs)");
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

  /** Load the store's coverage: ESD preview base layers per year and the footprints (when the API has them). */
  async loadCoverage() {
    let cov;
    try {
      cov = await api("/api/esd/coverage/");
    } catch {
      return null;
    }
    const years = cov.years || [];
    years.slice().reverse().forEach((year, k) => {
      const rings = footprintRings(cov.footprints, year);
      const layer = new FootprintTileLayer(`/api/esd/preview/${year}/tiles/{z}/{x}/{y}.png`, {
        minZoom: 6, maxNativeZoom: MAX_NATIVE, maxZoom: 18, attribution: "ESD embeddings preview", className: "esd-preview", rings,
      });
      this.layers.addBaseLayer(layer, `ESD preview ${year}`);
      if (k === 0) {
        this.map.removeLayer(this.blank);
        layer.addTo(this.map);
      }
    });
    if (cov.footprints) {
      const fp = L.geoJSON(cov.footprints, { style: { color: "#555", weight: 1, dashArray: "4 3", fill: false }, interactive: false });
      fp.addTo(this.map);
      this.layers.addOverlay(fp, "ESD coverage");
    }
    if (cov.bounds && cov.bounds.length === 4) {
      const [w, s, e, n] = cov.bounds;
      this.coverageBounds = L.latLngBounds([s, w], [n, e]);
    }
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
  }

  /** The GeoJSON MultiPolygon of an AOI from its layers on the map (after an edit). */
  aoiGeometry(id) {
    const parts = this.aois.getLayers().filter((l) => l.aoiId === id).map((l) => l.toGeoJSON().geometry.coordinates);
    return { type: "MultiPolygon", coordinates: parts };
  }

  fitAois() {
    if (this.aois.getLayers().length) this.map.fitBounds(this.aois.getBounds(), { padding: [30, 30], maxZoom: 15 });
    else if (this.coverageBounds) this.map.fitBounds(this.coverageBounds, { padding: [20, 20] });
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

/**
 * A tile layer that only asks for tiles touching some polygon ring ([[lon, lat], ...]): the server answers 404
 * outside the data, which the browser would report as errors.
 */
export const FootprintTileLayer = L.TileLayer.extend({
  _isValidTile(coords) {
    if (!L.TileLayer.prototype._isValidTile.call(this, coords)) return false;
    const rings = this.options.rings;
    if (!rings) return true;
    const b = this._tileCoordsToBounds(coords);
    const box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    return rings.some((ring) => ringTouchesBox(ring, box));
  },
});

/** The outer rings of the footprints of one year (or all, when year is null). */
export function footprintRings(fc, year = null) {
  const rings = [];
  for (const f of (fc && fc.features) || []) {
    if (year !== null && f.properties && f.properties.year !== undefined && f.properties.year !== year) continue;
    const g = f.geometry;
    if (!g) continue;
    if (g.type === "Polygon") rings.push(g.coordinates[0]);
    else if (g.type === "MultiPolygon") for (const p of g.coordinates) rings.push(p[0]);
  }
  return rings;
}

function inRing(x, y, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function segmentsCross(a, b, c, d) {
  const o = (p, q, r) => Math.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]));
  return o(a, b, c) !== o(a, b, d) && o(c, d, a) !== o(c, d, b);
}

/** True when the polygon ring and the box [w, s, e, n] overlap (vertex inside, corner inside, or edges cross). */
export function ringTouchesBox(ring, [w, s, e, n]) {
  if (ring.some(([x, y]) => x > w && x < e && y > s && y < n)) return true;
  const corners = [[w, s], [e, s], [e, n], [w, n]];
  if (corners.some(([x, y]) => inRing(x, y, ring))) return true;
  for (let i = 0; i < ring.length - 1; i++) {
    for (let k = 0; k < 4; k++) if (segmentsCross(ring[i], ring[i + 1], corners[k], corners[(k + 1) % 4])) return true;
  }
  return false;
}

function el(root, sel) { return Array.from(root.querySelectorAll(sel)); }
