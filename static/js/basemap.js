// Base map: a world outline shipped with the app (Natural Earth 1:50m countries from the world-atlas npm
// package, static/basemap/) always drawn underneath, and an optional XYZ tile layer (ESD_BASEMAP_URL, e.g.
// OpenStreetMap where the machine reaches it) over it. Offline, or where tiles fail, the outline shows
// through: the map is never blank.

/* global L, topojson */

/**
 * Add the base layers to a Leaflet map and its layer control.
 * @param {L.Map} map
 * @param {L.Control.Layers} control
 * @param {{url?: string, attribution?: string, outlineUrl?: string}} config  from the #map element's data-*
 * @returns {{outline: L.LayerGroup, tiles: L.TileLayer|null, ready: Promise<number>}}  ready resolves to the
 *   number of country shapes drawn (0 when the outline could not be read).
 */
export function addBaseMap(map, control, config) {
  map.createPane("basemap").style.zIndex = 150;
  map.getContainer().classList.add("has-outline");
  const renderer = L.canvas({ pane: "basemap", padding: 0.2 });
  const outline = L.layerGroup();
  outline.addTo(map);
  let tiles = null;
  if (config.url) {
    tiles = L.tileLayer(config.url, { maxZoom: 19, attribution: config.attribution || "", className: "basemap-tiles", pane: "tilePane" });
    control.addBaseLayer(tiles, `Map tiles (${hostOf(config.url)})`);
    control.addBaseLayer(L.layerGroup(), "Offline outline only");
    tiles.addTo(map);
  }
  control.addOverlay(outline, "Country outlines (offline)");
  const ready = config.outlineUrl ? loadOutline(config.outlineUrl, renderer, outline) : Promise.resolve(0);
  return { outline, tiles, ready };
}

async function loadOutline(url, renderer, group) {
  try {
    const resp = await fetch(url, { credentials: "same-origin" });
    if (!resp.ok) return 0;
    const topo = await resp.json();
    const fc = topojson.feature(topo, topo.objects.countries);
    const layer = L.geoJSON(fc, {
      renderer, pane: "basemap", interactive: false,
      style: { color: "#9aa89f", weight: 0.8, fillColor: "#f3f1e8", fillOpacity: 1 },
    });
    group.addLayer(layer);
    return fc.features.length;
  } catch {
    return 0;
  }
}

function hostOf(url) {
  try { return new URL(url.replace(/\{[a-z]\}/g, "a")).host; } catch { return "XYZ"; }
}
