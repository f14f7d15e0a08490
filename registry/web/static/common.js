// Shared helpers of the pages: calls to the /v1 API and DOM building with text only (never HTML).
"use strict";

/** Create an element with text content and attributes; children may be nodes or strings. */
function el(tag, text, attrs, children) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children || []) node.append(c);
  return node;
}

/** Call the API; resolves to {ok, status, body} (body is parsed JSON or null). */
async function api(path, options) {
  let response;
  try {
    response = await fetch(path, Object.assign({ headers: { Accept: "application/json" } }, options || {}));
  } catch (e) {
    return { ok: false, status: 0, body: { error: { code: "network", message: "the service cannot be reached" } } };
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return { ok: response.ok, status: response.status, body: body };
}

/** The message of an error body, or a generic one. */
function errorText(result) {
  const e = result && result.body && result.body.error;
  return e ? e.message + " (" + e.code + ")" : "request failed with HTTP " + (result ? result.status : "?");
}

/** Replace the children of a definition list with term/value pairs, skipping empty values. */
function fillList(dl, pairs) {
  dl.replaceChildren();
  for (const [term, value, id] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", term), el("dd", value, id ? { id: id } : {}));
  }
}

/** A short form of a long hex string for tables (the full value stays in the title). */
function short(hex) {
  return typeof hex === "string" && hex.length > 20 ? hex.slice(0, 10) + "…" + hex.slice(-8) : hex;
}
