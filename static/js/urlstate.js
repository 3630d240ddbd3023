// The page's state in the URL, so a reload or a shared link (for the owner) opens the same view:
//   #a=<analysis id>&y=<year>&l=<layer>&v=<lat>,<lon>,<zoom>
// and the last opened analysis remembered in localStorage, reopened when the URL names none.

const LAST_KEY = "esd:lastAnalysis";

/** Parse the hash into {a, y, l, v: {lat, lon, zoom}} (missing keys absent). */
export function readState(hash = window.location.hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  const out = {};
  if (/^\d+$/.test(p.get("a") || "")) out.a = Number(p.get("a"));
  if (/^\d{4}$/.test(p.get("y") || "")) out.y = Number(p.get("y"));
  if (/^[a-z_]+$/.test(p.get("l") || "")) out.l = p.get("l");
  const v = (p.get("v") || "").split(",").map(Number);
  if (v.length === 3 && v.every(Number.isFinite)) out.v = { lat: v[0], lon: v[1], zoom: v[2] };
  return out;
}

/** The hash of a state (keys in a fixed order). */
export function formatState(s) {
  const parts = [];
  if (s.a) parts.push(`a=${s.a}`);
  if (s.a && s.y) parts.push(`y=${s.y}`);
  if (s.a && s.l) parts.push(`l=${s.l}`);
  if (s.v) parts.push(`v=${s.v.lat.toFixed(5)},${s.v.lon.toFixed(5)},${s.v.zoom}`);
  return parts.length ? `#${parts.join("&")}` : "";
}

export class UrlState {
  /** @param {string} user  the logged-in user's name (the last analysis is remembered per user) */
  constructor(user) {
    this.key = `${LAST_KEY}:${user || ""}`;
    this.state = readState();
    this.initial = { ...this.state };
    this.timer = null;
  }

  /** Merge a change and write it to the URL (replaceState: the back button is not flooded). */
  set(change) {
    Object.assign(this.state, change);
    if (change.a === null) { delete this.state.a; delete this.state.y; delete this.state.l; }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const hash = formatState(this.state);
      const url = `${window.location.pathname}${window.location.search}${hash}`;
      if (url !== `${window.location.pathname}${window.location.search}${window.location.hash}`) window.history.replaceState(null, "", url || window.location.pathname);
    }, 150);
    if (change.a) this.remember(change.a);
    if (change.a === null) this.forget();
  }

  remember(id) { try { window.localStorage.setItem(this.key, String(id)); } catch { /* private mode */ } }

  forget() { try { window.localStorage.removeItem(this.key); } catch { /* private mode */ } }

  /** The analysis to open at start: the URL's, else the last one opened. */
  analysisToOpen() {
    if (this.initial.a) return this.initial.a;
    try { const v = Number(window.localStorage.getItem(this.key)); return v > 0 ? v : null; } catch { return null; }
  }
}
