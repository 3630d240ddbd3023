// Charts of the map page, drawn by Chart.js 4 (vendored in static/vendor/chartjs-4.4.7, MIT; see
// static/vendor/README.md): area by class per year (stacked bars), a pixel's monthly series over years
// (lines). Axes stay readable from 1 to 40 years (Chart.js skips labels that would overlap), tooltips show
// the values, and every chart has PNG and CSV export buttons. Legends of map layers are plain HTML.

/* global Chart */
import { esc } from "./api.js";

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Short axis numbers: 12345 -> "12k". */
export function short(v) {
  const a = Math.abs(v);
  if (a >= 1e4) return `${(v / 1000).toFixed(0)}k`;
  if (a >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (a >= 10 || v === 0) return v.toFixed(0);
  return v.toFixed(a < 1 ? 2 : 1);
}

/** CSV text of a header and rows (values quoted when needed). */
export function toCsv(header, rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(",")).join("\n") + "\n";
}

function download(name, href) {
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/**
 * Replace the content of ``el`` by a canvas and its export bar, and draw a Chart.js chart in it.
 * @param {HTMLElement} el
 * @param {object} config  Chart.js configuration
 * @param {{name: string, label: string, csv: () => string, height?: number}} opts  file base name, accessible label
 * @returns {Chart}
 */
function mount(el, config, opts) {
  if (el._chart) el._chart.destroy();
  el.innerHTML = `<div class="chartbox" style="height:${opts.height || 200}px"><canvas role="img" aria-label="${esc(opts.label)}"></canvas></div>
    <div class="chart-export"><button type="button" class="icon" data-fmt="png" aria-label="Download ${esc(opts.label)} as PNG">PNG</button><button type="button" class="icon" data-fmt="csv" aria-label="Download ${esc(opts.label)} as CSV">CSV</button></div>`;
  const canvas = el.querySelector("canvas");
  const chart = new Chart(canvas, {
    ...config,
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      ...config.options,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 10, font: { size: 11 } } }, ...(config.options || {}).plugins },
    },
    plugins: [{ id: "white-bg", beforeDraw: (c) => { const x = c.ctx; x.save(); x.fillStyle = "#fff"; x.fillRect(0, 0, c.width, c.height); x.restore(); } }],
  });
  el._chart = chart;
  el.querySelector('[data-fmt="png"]').addEventListener("click", () => download(`${opts.name}.png`, chart.toBase64Image("image/png", 1)));
  el.querySelector('[data-fmt="csv"]').addEventListener("click", () => download(`${opts.name}.csv`, `data:text/csv;charset=utf-8,${encodeURIComponent(opts.csv())}`));
  return chart;
}

/** Year-axis options: one tick per year at most, thinned by Chart.js so labels never overlap. */
function yearTicks() {
  return { autoSkip: true, autoSkipPadding: 8, maxRotation: 0, font: { size: 11 } };
}

/**
 * Stacked bars of area (ha) per class and year.
 * @param {HTMLElement} el
 * @param {{years: number[], classes: {name: string, color: string}[], values: Object<string, number>[], name?: string}} spec
 */
export function stackedBars(el, spec) {
  return mount(el, {
    type: "bar",
    data: {
      labels: spec.years.map(String),
      datasets: spec.classes.map((c) => ({ label: c.name, backgroundColor: c.color, data: spec.values.map((row) => row[c.name] || 0) })),
    },
    options: {
      scales: {
        x: { stacked: true, ticks: yearTicks(), grid: { display: false } },
        y: { stacked: true, title: { display: true, text: "ha" }, ticks: { callback: (v) => short(v) } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${Number(c.raw).toLocaleString("en-US", { maximumFractionDigits: 1 })} ha` } } },
    },
  }, {
    name: spec.name || "area_by_class", label: "Area by class per year", height: 220,
    csv: () => toCsv(["year", ...spec.classes.map((c) => `${c.name} (ha)`)], spec.years.map((y, j) => [y, ...spec.classes.map((c) => spec.values[j][c.name] || 0)])),
  });
}

/**
 * Lines of monthly values over several years (x: year + month), e.g. a pixel's reflectance or embedding.
 * @param {HTMLElement} el
 * @param {{years: number[], months?: number, startMonth?: number, series: {name: string, color?: string, values: (number|null)[]}[],
 *          yLabel?: string, height?: number, name?: string}} spec  values hold months*years points (null = no data)
 */
export function lineChart(el, spec) {
  const months = spec.months || 12;
  const start = (spec.startMonth || 1) - 1; // 0-based calendar month of the first step of a year
  const n = spec.years.length * months;
  // the x value of step i: the year the step belongs to plus its fraction, so ticks fall on year starts
  const xs = Array.from({ length: n }, (_, i) => spec.years[Math.floor(i / months)] + (i % months) / months);
  const when = (i) => {
    const y = spec.years[Math.floor(i / months)];
    const m = (start + (i % months)) % 12;
    const cal = start > 0 && m >= start ? y - 1 : y; // shifted (crop) years are named by the year they end in
    return `${MONTHS[m]} ${cal}`;
  };
  const span = spec.years.length;
  return mount(el, {
    type: "line",
    data: {
      datasets: spec.series.map((s, k) => ({
        label: s.name, borderColor: s.color || PALETTE[k % PALETTE.length], backgroundColor: s.color || PALETTE[k % PALETTE.length],
        data: s.values.map((v, i) => ({ x: xs[i], y: v === null || !Number.isFinite(v) ? null : v })),
        borderWidth: 1.4, pointRadius: span > 6 ? 0 : 1.5, spanGaps: false,
      })),
    },
    options: {
      parsing: false,
      scales: {
        x: {
          type: "linear", min: spec.years[0], max: spec.years[span - 1] + 1,
          ticks: { ...yearTicks(), stepSize: span > 20 ? 5 : span > 10 ? 2 : 1, callback: (v) => (Number.isInteger(v) && v <= spec.years[span - 1] ? String(v) : "") },
        },
        y: { title: { display: Boolean(spec.yLabel), text: spec.yLabel || "" }, ticks: { callback: (v) => short(v) } },
      },
      plugins: {
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? when(items[0].dataIndex) : ""),
            label: (c) => `${c.dataset.label}: ${c.parsed.y === null ? "no data" : Number(c.parsed.y).toFixed(3)}`,
          },
        },
      },
    },
  }, {
    name: spec.name || "series", label: `${spec.yLabel || "series"} per month`, height: spec.height || 200,
    csv: () => toCsv(["year", "step", "month", ...spec.series.map((s) => s.name)], xs.map((_, i) => [spec.years[Math.floor(i / months)], (i % months) + 1, when(i), ...spec.series.map((s) => s.values[i])])),
  });
}

/** The embedding's six dimensions as lines (they share one code scale). */
export function smallMultiples(el, spec) {
  return lineChart(el, { ...spec, height: spec.rowHeight ? spec.rowHeight * 9 : 200 });
}

/** Legend HTML of categorical items [{label, color, note?}]. */
export function legendItems(items) {
  return items.map((i) => `<span class="item"><span class="swatch" style="background:${esc(i.color)}"></span>${esc(i.label)}${i.note ? ` <span class="muted">${esc(i.note)}</span>` : ""}</span>`).join("");
}

/** Legend HTML of a continuous ramp from items [{value, label, color}] (first and last labels shown). */
export function legendRamp(items) {
  const stops = items.map((i, k) => `${i.color} ${((k / Math.max(items.length - 1, 1)) * 100).toFixed(0)}%`).join(",");
  return `<span class="item">${esc(items[0].label)}<span class="ramp" style="background:linear-gradient(90deg,${stops})"></span>${esc(items[items.length - 1].label)}</span>`;
}
