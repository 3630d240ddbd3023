// Small SVG charts without a library: a monthly line chart over years and stacked bars of area per class.

import { esc, fmt } from "./api.js";

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function niceTicks(lo, hi, n = 4) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((s) => s * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-6; v += step) ticks.push(+v.toFixed(10));
  return ticks;
}

function short(v) {
  const a = Math.abs(v);
  if (a >= 1e4) return `${(v / 1000).toFixed(0)}k`;
  if (a >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (a >= 10 || v === 0) return v.toFixed(0);
  return v.toFixed(a < 1 ? 2 : 1);
}

/**
 * Line chart of monthly values over several years.
 * @param {HTMLElement} el  container (its content is replaced)
 * @param {{years: number[], months?: number, series: {name: string, color?: string, values: (number|null)[]}[],
 *          yLabel?: string, height?: number}} spec  values hold months*years points (null = no data)
 */
export function lineChart(el, spec) {
  const months = spec.months || 12;
  const W = 460, H = spec.height || 190, L = 40, R = 6, T = 8, B = 36;
  const n = spec.years.length * months;
  const all = spec.series.flatMap((s) => s.values.filter((v) => v !== null && Number.isFinite(v)));
  const lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  const ticks = niceTicks(lo, hi);
  const y0 = Math.min(lo, ticks[0]), y1 = Math.max(hi, ticks[ticks.length - 1]);
  const x = (i) => L + ((i + 0.5) / n) * (W - L - R);
  const y = (v) => T + (1 - (v - y0) / (y1 - y0 || 1)) * (H - T - B);
  let svg = `<svg xmlns="${NS}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.yLabel || "series")} per month">`;
  spec.years.forEach((yr, j) => {
    const xa = L + (j / spec.years.length) * (W - L - R);
    if (j % 2 === 0) svg += `<rect x="${xa}" y="${T}" width="${(W - L - R) / spec.years.length}" height="${H - T - B}" fill="#f4f7f6"/>`;
    svg += `<text x="${xa + (W - L - R) / spec.years.length / 2}" y="${H - B + 12}" text-anchor="middle">${yr}</text>`;
  });
  for (const t of ticks) {
    svg += `<line x1="${L}" x2="${W - R}" y1="${y(t)}" y2="${y(t)}" stroke="#e3e8e6"/>`;
    svg += `<text x="${L - 4}" y="${y(t) + 3}" text-anchor="end">${short(t)}</text>`;
  }
  spec.series.forEach((s, k) => {
    const color = s.color || PALETTE[k % PALETTE.length];
    let d = "", pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    svg += `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.4"><title>${esc(s.name)}</title></path>`;
  });
  // legend row
  let lx = L;
  spec.series.forEach((s, k) => {
    const color = s.color || PALETTE[k % PALETTE.length];
    svg += `<rect x="${lx}" y="${H - 14}" width="10" height="3" fill="${color}"/><text x="${lx + 13}" y="${H - 10}">${esc(s.name)}</text>`;
    lx += 18 + 6 * String(s.name).length;
  });
  if (spec.yLabel) svg += `<text x="${W - R}" y="${H - 10}" text-anchor="end" fill="#778">${esc(spec.yLabel)}</text>`;
  svg += "</svg>";
  el.innerHTML = svg;
}

/**
 * Stacked bars: one bar per year, one segment per class (hectares).
 * @param {HTMLElement} el
 * @param {{years: number[], classes: {name: string, color: string}[], values: Object<string, number>[]}} spec
 */
export function stackedBars(el, spec) {
  const W = 460, H = 190, L = 40, R = 6, T = 8, B = 34;
  const totals = spec.values.map((row) => spec.classes.reduce((a, c) => a + (row[c.name] || 0), 0));
  const ticks = niceTicks(0, Math.max(...totals, 1));
  const top = ticks[ticks.length - 1];
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const bw = (W - L - R) / spec.years.length;
  let svg = `<svg xmlns="${NS}" viewBox="0 0 ${W} ${H}" role="img" aria-label="Area by class per year">`;
  for (const t of ticks) {
    svg += `<line x1="${L}" x2="${W - R}" y1="${y(t)}" y2="${y(t)}" stroke="#e3e8e6"/><text x="${L - 4}" y="${y(t) + 3}" text-anchor="end">${short(t)}</text>`;
  }
  spec.years.forEach((yr, j) => {
    let acc = 0;
    const x0 = L + j * bw + bw * 0.15;
    for (const c of spec.classes) {
      const v = spec.values[j][c.name] || 0;
      if (v > 0) {
        svg += `<rect x="${x0.toFixed(1)}" y="${y(acc + v).toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${(y(acc) - y(acc + v)).toFixed(1)}" fill="${c.color}"><title>${yr} ${esc(c.name)}: ${fmt(v)} ha</title></rect>`;
      }
      acc += v;
    }
    svg += `<text x="${L + j * bw + bw / 2}" y="${H - B + 12}" text-anchor="middle">${yr}</text>`;
  });
  let lx = L;
  for (const c of spec.classes) {
    svg += `<rect x="${lx}" y="${H - 13}" width="9" height="9" fill="${c.color}"/><text x="${lx + 12}" y="${H - 5}">${esc(c.name)}</text>`;
    lx += 20 + 5.6 * c.name.length;
  }
  svg += "</svg>";
  el.innerHTML = svg;
}

/** Legend HTML of categorical items [{label, color}]. */
export function legendItems(items) {
  return items.map((i) => `<span class="item"><span class="swatch" style="background:${esc(i.color)}"></span>${esc(i.label)}</span>`).join("");
}

/** Legend HTML of a continuous ramp from items [{value, label, color}] (first and last labels shown). */
export function legendRamp(items) {
  const stops = items.map((i, k) => `${i.color} ${((k / Math.max(items.length - 1, 1)) * 100).toFixed(0)}%`).join(",");
  return `<span class="item">${esc(items[0].label)}<span class="ramp" style="background:linear-gradient(90deg,${stops})"></span>${esc(items[items.length - 1].label)}</span>`;
}

/**
 * Small multiples: one row per series (e.g. six embedding dimensions), months along x over the years.
 * Each row is scaled to its own range; easier to read than overlapping lines for quantised codes.
 * @param {HTMLElement} el
 * @param {{years: number[], months?: number, series: {name: string, color?: string, values: (number|null)[]}[],
 *          yLabel?: string, rowHeight?: number}} spec
 */
export function smallMultiples(el, spec) {
  const months = spec.months || 12;
  const rh = spec.rowHeight || 24;
  const W = 460, L = 40, R = 6, T = 4, B = 18;
  const H = T + spec.series.length * rh + B;
  const n = spec.years.length * months;
  const yw = (W - L - R) / spec.years.length;
  const x = (i) => L + ((i + 0.5) / n) * (W - L - R);
  let svg = `<svg xmlns="${NS}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.yLabel || "series")} per month and year">`;
  spec.years.forEach((yr, j) => {
    if (j % 2 === 0) svg += `<rect x="${L + j * yw}" y="${T}" width="${yw}" height="${spec.series.length * rh}" fill="#f1f5f3"/>`;
    svg += `<text x="${L + j * yw + yw / 2}" y="${H - 5}" text-anchor="middle">${yr}</text>`;
  });
  spec.series.forEach((s, k) => {
    const color = s.color || PALETTE[k % PALETTE.length];
    const vals = s.values.filter((v) => v !== null && Number.isFinite(v));
    const lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
    const top = T + k * rh + 3, h = rh - 6;
    const y = (v) => top + (1 - (v - lo) / (hi - lo || 1)) * h;
    let d = "", pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    svg += `<line x1="${L}" x2="${W - R}" y1="${T + (k + 1) * rh}" y2="${T + (k + 1) * rh}" stroke="#e3e8e6"/>`;
    svg += `<text x="${L - 4}" y="${top + h / 2 + 3}" text-anchor="end" fill="${color}">${esc(s.name)}</text>`;
    svg += `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5" stroke-linejoin="round"><title>${esc(s.name)}: ${short(lo)} … ${short(hi)}</title></path>`;
  });
  svg += "</svg>";
  el.innerHTML = svg;
}
