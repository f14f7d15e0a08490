// The verifier page: send a file or a hash to POST /v1/verify, show the verdict and the version chain.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const fileInput = $("file");
  const drop = $("drop");

  function busy(on) {
    for (const id of ["verify-file", "verify-hash"]) $(id).disabled = on;
    document.body.setAttribute("aria-busy", on ? "true" : "false");
  }

  function showError(message) {
    $("error").textContent = message || "";
  }

  async function showVersions(recordId) {
    const list = $("versions");
    list.replaceChildren();
    $("versions-title").hidden = true;
    if (!recordId) return;
    const result = await api("/v1/records/" + encodeURIComponent(recordId));
    if (!result.ok || !result.body) return;
    for (const v of result.body.versions || []) {
      const where = v.blockNumber !== null && v.blockNumber !== undefined ? " — block " + v.blockNumber : "";
      const when = v.anchoredAt ? ", " + v.anchoredAt : "";
      list.append(el("li", v.status.toUpperCase() + ": " + v.contentHash + where + when));
    }
    $("versions-title").hidden = list.children.length === 0;
    const status = result.body.status;
    if (status) fillStatus(status);
  }

  function fillStatus(status) {
    const dd = document.getElementById("status-value");
    if (dd) dd.textContent = status;
  }

  // "current" only when every check ran: a check this path could not run is said, never hidden.
  function statusOf(v) {
    if (v.verdict !== "VERIFIED") return v.verdict.toLowerCase();
    const missing = v.notChecked || [];
    return missing.length ? "verified; not checked: " + missing.join(", ") : "current";
  }

  function checkedAgainst(v) {
    if (!v.registry) return null;
    const state = v.stateBlock !== null && v.stateBlock !== undefined ? ", state at block " + v.stateBlock : "";
    return "registry " + v.registry + " on chain " + v.chainId + state;
  }

  async function show(result) {
    busy(false);
    if (!result.ok) {
      $("result").hidden = true;
      showError(errorText(result));
      return;
    }
    showError("");
    const v = result.body;
    const verdict = $("verdict");
    verdict.textContent = v.verdict;
    verdict.className = "verdict " + v.verdict;
    $("reason").textContent = v.reason;
    fillList($("details"), [
      ["Office", v.office, "office-value"],
      ["Record id", v.recordId, "record-value"],
      ["Content hash", v.contentHash],
      ["Anchored at (UTC, block time)", v.anchoredAt, "time-value"],
      ["Time-stamp (UTC)", timeStampsOf(v), "timestamp-value"],
      ["Block", v.blockNumber, "block-value"],
      ["Transaction", v.transactionHash, "tx-value"],
      ["Merkle root", v.root],
      ["Signer", v.signer],
      ["Status", statusOf(v), "status-value"],
      ["Superseded by", v.supersededBy],
      ["Reason code", v.reasonCode],
      ["Checked against", checkedAgainst(v), "checked-value"],
    ]);
    const checks = $("checks");
    checks.replaceChildren();
    /* RFC 3161 tokens: the authority's time only for a valid, trusted token; otherwise its status, no time. */
    for (const c of v.checks || []) {
      const item = el("li", c.name + " — " + c.result + (c.detail ? ": " + c.detail : ""));
      item.className = "check " + c.result;
      checks.append(item);
    }
    $("checks-title").hidden = checks.children.length === 0;
    const link = $("proof-link");
    if (v.recordId && v.blockNumber !== null && v.verdict !== "UNKNOWN") {
      const hash = v.verdict === "TAMPERED" ? "" : "&contentHash=" + encodeURIComponent(v.contentHash);
      link.href = "/v1/records/" + encodeURIComponent(v.recordId) + "/proof?download=true" + hash;
      link.setAttribute("download", v.recordId.replaceAll(":", "-") + ".proof.json");
      link.hidden = false;
    } else {
      link.hidden = true;
      link.removeAttribute("href");
    }
    $("result").hidden = false;
    await showVersions(v.recordId);
  }

  async function verifyFile(file) {
    if (!file) { showError("choose a file first"); return; }
    busy(true);
    const form = new FormData();
    form.append("file", file, file.name);
    await show(await api("/v1/verify", { method: "POST", body: form }));
  }

  $("file-form").addEventListener("submit", (e) => { e.preventDefault(); verifyFile(fileInput.files[0]); });
  fileInput.addEventListener("change", () => { if (fileInput.files.length) verifyFile(fileInput.files[0]); });
  $("hash-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    busy(true);
    const body = JSON.stringify({ contentHash: $("hash").value.trim() });
    await show(await api("/v1/verify", { method: "POST", body: body, headers: { "Content-Type": "application/json", Accept: "application/json" } }));
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) verifyFile(files[0]);
  });

  api("/v1/offices").then((result) => {
    if (!result.ok || !result.body) return;
    const nav = $("offices-nav");
    nav.append(el("span", "Offices: "));
    for (const o of result.body.offices) {
      nav.append(el("a", o.code, { href: "/office/" + encodeURIComponent(o.code), title: o.name }));
    }
  });
})();

/** The authorities' times of a verdict's RFC 3161 tokens (a token that is not valid shows its status, no time). */
function timeStampsOf(v) {
  const stamps = v.timestamps || [];
  if (stamps.length === 0) {
    const check = (v.checks || []).find((c) => c.name === "timeStamps");
    return check && check.result === "absent" ? "none (dated by the block's time only)" : null;
  }
  return stamps
    .map((t) => (t.time ? t.time + " by " + t.authority : t.status.toUpperCase() + ", no time shown (" + t.authority + ")"))
    .join("; ");
}
