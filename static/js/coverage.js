// The store's coverage on the first screen: each patch (one ESD tile id over its years) drawn as a dashed
// outline with a permanent label "Mato Grosso, MODIS, 2007-2013", and an ESD preview layer whose year is
// one that covers the view (the latest such year unless the user picks another in the map's selector).

/* global L */

const MAX_NATIVE = 15;

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

/** Years whose footprints touch the box [w, s, e, n], newest first. */
export function yearsCovering(fc, box) {
  const years = new Set();
  for (const f of (fc && fc.features) || []) {
    if (years.has(f.properties.year)) continue;
    if (footprintRings({ features: [f] }).some((r) => ringTouchesBox(r, box))) years.add(f.properties.year);
  }
  return [...years].sort((a, b) => b - a);
}

export class CoverageLayers {
  /** @param {L.Map} map @param {L.Control.Layers} control */
  constructor(map, control) {
    this.map = map;
    this.control = control;
    this.cov = null;
    this.patches = L.featureGroup();
    this.preview = null;
    this.previewYear = null;
    this.pinnedYear = null; // a year the user chose in the selector (else: the newest covering the view)
    this.control.addOverlay(this.patches, "ESD coverage (named patches)");
  }

  /** Draw the store's coverage answer (/api/esd/coverage/); returns its bounds or null. */
  show(cov) {
    this.cov = cov;
    this.patches.clearLayers();
    for (const p of cov.patches || []) {
      const shape = L.geoJSON(p.geometry, { style: { color: "#3a4a8c", weight: 1.5, dashArray: "5 4", fillColor: "#3a4a8c", fillOpacity: 0.06 } });
      shape.bindTooltip(p.label, { permanent: true, direction: "center", className: "patch-label" });
      shape.on("click", () => { if (this.map.getZoom() < 9) this.map.fitBounds(shape.getBounds(), { padding: [30, 30] }); });
      shape.patch = p;
      this.patches.addLayer(shape);
    }
    this.patches.addTo(this.map);
    if (cov.years && cov.years.length) {
      this.preview = new FootprintTileLayer("", {
        minZoom: 6, maxNativeZoom: MAX_NATIVE, maxZoom: 18, attribution: "ESD embeddings preview", className: "esd-preview", opacity: 0.9,
      });
      this.control.addOverlay(this.preview, "ESD preview (year on the map's selector)");
      this.preview.addTo(this.map);
      this._yearControl();
      this.map.on("moveend", () => this.refreshYear());
      this.refreshYear();
    }
    if (cov.bounds && cov.bounds.length === 4) {
      const [w, s, e, n] = cov.bounds;
      return L.latLngBounds([s, w], [n, e]);
    }
    return null;
  }

  _yearControl() {
    const Ctl = L.Control.extend({
      onAdd: () => {
        const div = L.DomUtil.create("div", "leaflet-bar preview-year");
        div.innerHTML = '<label for="preview-year">ESD preview</label> <select id="preview-year"></select>';
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      },
    });
    new Ctl({ position: "bottomright" }).addTo(this.map);
    this.select = document.getElementById("preview-year");
    this.select.addEventListener("change", () => {
      this.pinnedYear = this.select.value ? Number(this.select.value) : null;
      this.refreshYear();
    });
  }

  /** Years of the store that cover the current view, newest first. */
  viewYears() {
    const b = this.map.getBounds();
    return yearsCovering(this.cov.footprints, [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]);
  }

  /** Pick the preview year for the view: the pinned one when it covers it, else the newest covering it. */
  refreshYear() {
    if (!this.preview) return;
    const years = this.viewYears();
    const year = this.pinnedYear !== null && years.includes(this.pinnedYear) ? this.pinnedYear : years.length ? years[0] : null;
    const options = ['<option value="">newest here</option>', ...years.map((y) => `<option value="${y}">${y}</option>`)];
    this.select.innerHTML = options.join("");
    this.select.value = this.pinnedYear !== null && years.includes(this.pinnedYear) ? String(this.pinnedYear) : "";
    this.select.disabled = !years.length;
    this.select.title = years.length ? `Preview of ${year}` : "No ESD data in view";
    this.select.dataset.year = year === null ? "" : String(year);
    if (year === this.previewYear) return;
    this.previewYear = year;
    this.preview.options.rings = year === null ? [] : footprintRings(this.cov.footprints, year);
    this.preview.setUrl(year === null ? "" : `/api/esd/preview/${year}/tiles/{z}/{x}/{y}.png`);
  }

  /**
   * While an analysis is open its results own the map: the patches (outlines and labels) and the store
   * preview step aside (the layers menu brings them back); they return when it is closed.
   */
  setLabelsVisible(on) {
    this.map.getContainer().classList.toggle("hide-patch-labels", !on);
    for (const layer of [this.patches, this.preview]) {
      if (!layer) continue;
      if (on && !this.map.hasLayer(layer)) layer.addTo(this.map);
      if (!on && this.map.hasLayer(layer)) this.map.removeLayer(layer);
    }
  }
}
