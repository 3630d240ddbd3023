// JSON API client: session cookie auth, CSRF header on writes, errors as ApiError with the server's body.

export class ApiError extends Error {
  /** @param {number} status @param {any} body */
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

/** The server's message in words: DRF's {"detail"}, field errors, or the HTTP status. */
export function describe(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    const parts = Object.entries(body)
      .filter(([k]) => k !== "rejected")
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : v}`);
    if (parts.length) return parts.join("; ");
  }
  if (typeof body === "string" && body && !body.trimStart().startsWith("<")) return body.slice(0, 300);
  return `the server answered ${status}`;
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

/**
 * Call the API and return the parsed JSON body (null for 204).
 * @param {string} url
 * @param {{method?: string, json?: any, form?: FormData}} [opts]
 */
export async function api(url, opts = {}) {
  const method = opts.method || (opts.json !== undefined || opts.form ? "POST" : "GET");
  const headers = { Accept: "application/json" };
  let body;
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (opts.form) body = opts.form;
  else if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  let resp;
  try {
    resp = await fetch(url, { method, headers, body, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, { detail: `network error: ${err.message}` });
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json().catch(() => null) : await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

/** Escape text for innerHTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Small number formatting: 1234.5 -> "1,234.5". */
export function fmt(n, digits = 1) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
