// The office view: the office, its recent batches and (with its API token) its pending records.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const code = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "").toUpperCase();

  function cell(text, mono, title) {
    const attrs = mono ? { class: "mono" } : {};
    if (title) attrs.title = title;
    return el("td", text === null || text === undefined ? "—" : text, attrs);
  }

  async function loadOffice() {
    const result = await api("/v1/offices/" + encodeURIComponent(code));
    if (!result.ok) { $("error").textContent = errorText(result); return false; }
    const o = result.body;
    $("office-title").textContent = o.code + " — " + o.name;
    document.title = o.code + " — IP Office Anchor Registry";
    fillList($("office-details"), [
      ["Status", o.status, "office-status"],
      ["Register", o.baseURI],
      ["Signers", o.signers ? o.signers.map((s) => s.address + (s.untilBlock ? " (until block " + s.untilBlock + ")" : "")).join(", ") : null],
    ]);
    $("pending-count").textContent = o.pendingCount + " record(s) accepted by this service and waiting for a batch.";
    return true;
  }

  async function loadBatches() {
    const result = await api("/v1/batches?limit=20&office=" + encodeURIComponent(code));
    const body = $("batches").tBodies[0];
    body.replaceChildren();
    body.removeAttribute("aria-busy");
    if (!result.ok) { $("error").textContent = errorText(result); return; }
    for (const b of result.body.batches) {
      const status = b.revoked ? "revoked" : b.status;
      body.append(el("tr", null, {}, [
        cell(short(b.root), true, b.root), cell(b.leafCount), cell(status), cell(b.blockNumber),
        cell(short(b.transactionHash), true, b.transactionHash), cell(b.anchoredAt),
      ]));
    }
    $("no-batches").hidden = result.body.batches.length > 0;
  }

  function authHeaders() {
    return { Authorization: "Bearer " + $("token").value.trim(), Accept: "application/json" };
  }

  async function loadPending() {
    const result = await api("/v1/offices/" + encodeURIComponent(code) + "/pending", { headers: authHeaders() });
    const table = $("pending");
    const body = table.tBodies[0];
    body.replaceChildren();
    if (!result.ok) { $("pending-status").textContent = errorText(result); table.hidden = true; return; }
    $("pending-status").textContent = result.body.count + " pending record(s), " +
      result.body.unfinishedBatches.length + " batch(es) being anchored.";
    for (const r of result.body.records) {
      body.append(el("tr", null, {}, [cell(r.recordId, true), cell(short(r.contentHash), true, r.contentHash),
        cell(r.canonicalization), cell(r.status)]));
    }
    table.hidden = result.body.records.length === 0;
  }

  $("token-form").addEventListener("submit", (e) => { e.preventDefault(); loadPending(); });
  $("anchor-now").addEventListener("click", async () => {
    const button = $("anchor-now");
    button.disabled = true;
    $("pending-status").textContent = "anchoring…";
    const result = await api("/v1/offices/" + encodeURIComponent(code) + "/batches", { method: "POST", headers: authHeaders() });
    button.disabled = false;
    $("pending-status").textContent = result.ok
      ? result.body.anchored + " record(s) anchored in " + result.body.batches.length + " batch(es)."
      : errorText(result);
    if (result.ok) { await loadOffice(); await loadBatches(); await loadPending(); }
  });

  loadOffice().then((ok) => {
    if (ok) { loadBatches(); return; }
    const body = $("batches").tBodies[0];  // no office: no "Loading…" left behind
    body.replaceChildren();
    body.removeAttribute("aria-busy");
  });
})();
