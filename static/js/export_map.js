/* global L */
// Viewer of the stand-alone HTML map export (inlined into the file by monitoring/services/html_export.py).
// Reads its layers from the page's JSON (#export-data); needs nothing from a network.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("export-data").textContent);
  const $ = (id) => document.getElementById(id);
  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const colors = Object.fromEntries(data.classes.map((c) => [c.name, c.color]));

  const map = L.map("map", { zoomControl: true, attributionControl: true });
  map.attributionControl.setPrefix("Leaflet");
  map.fitBounds(data.bounds, { padding: [20, 20] });
  const osm = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19, attribution: "© OpenStreetMap contributors",
  });

  const landcover = {};
  for (const l of data.landcover) {
    landcover[l.year] = L.imageOverlay(l.url, l.bounds, { opacity: 0.8, className: "landcover-overlay", alt: `Land cover ${l.year}` });
  }
  const maps = data.maps.map((m) => L.imageOverlay(m.url, m.bounds, { opacity: 0.8, className: "change-overlay", alt: m.name }));
  const aoi = L.geoJSON(data.aoi, { style: { color: "#222222", weight: 2, fill: false } });

  function popup(p) {
    const rows = Object.entries(p).map(([k, v]) => `<tr><th>${esc(k.replace(/_/g, " "))}</th><td>${esc(v)}</td></tr>`);
    return `<table>${rows.join("")}</table>`;
  }
  const samples = {};
  for (const [year, fc] of Object.entries(data.samples)) {
    samples[year] = L.geoJSON(fc, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {
        radius: 5, weight: f.properties.changed ? 2 : 1, color: f.properties.changed ? "#000000" : "#333333",
        fillColor: colors[f.properties.dynamic_class] || "#888888", fillOpacity: 0.9, className: "sample-marker",
      }),
      onEachFeature: (f, layer) => layer.bindPopup(popup(f.properties)),
    });
  }

  const Panel = L.Control.extend({
    options: { position: "topright" },
    onAdd() {
      const el = $("export-panel");
      el.hidden = false;
      L.DomEvent.disableClickPropagation(el);
      L.DomEvent.disableScrollPropagation(el);
      return el;
    },
  });
  new Panel().addTo(map);

  let shown = [];
  function update() {
    const year = data.years[Number($("export-year").value)];
    const opacity = Number($("export-opacity").value) / 100;
    $("export-year-value").textContent = String(year);
    $("samples-name").textContent = `Dynamic samples ${year}`;
    for (const layer of shown) map.removeLayer(layer);
    shown = [];
    if ($("show-osm").checked) shown.push(osm);
    const choice = $("export-layer").value;
    const change = choice === "landcover" ? null : Number(choice);
    if ($("show-landcover").checked && change === null && landcover[year]) {
      landcover[year].setOpacity(opacity);
      shown.push(landcover[year]);
    }
    if ($("show-landcover").checked && change !== null) {
      maps[change].setOpacity(opacity);
      shown.push(maps[change]);
    }
    $("landcover-name").textContent = change === null ? `Land cover ${year}` : data.maps[change].name;
    $("export-legend").hidden = change !== null;
    const legend = $("export-map-legend");
    legend.hidden = change === null;
    legend.innerHTML = change === null ? "" : data.maps[change].legend.map((i) =>
      `<div class="legend-item"><span class="swatch" style="background:${esc(i.color)}"></span>${esc(i.name)}</div>`).join("");
    if ($("show-aoi").checked) shown.push(aoi);
    if ($("show-samples").checked && samples[year]) shown.push(samples[year]);
    for (const layer of shown) layer.addTo(map);
    document.body.dataset.year = String(year);
  }
  for (const id of ["export-year", "export-opacity", "export-layer", "show-landcover", "show-samples", "show-aoi", "show-osm"]) {
    $(id).addEventListener("input", update);
  }
  update();
  document.body.dataset.ready = "1";
})();
