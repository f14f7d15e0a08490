"""The "why a chain at all" tables: what the chain, RFC 3161 tokens alone and a CT-style log prove and cost.

:func:`comparison` builds both tables for ``report.json`` from the figures measured in
:mod:`registry.evaluate.alternatives` (and the run's earlier phases: probes, governance); each cost
cell names its formula. :func:`section` renders them with the measured details and the privacy
figures of :mod:`registry.evaluate.exposure`; :func:`summary_rows` gives the one-line answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.evaluate import markup as rep

#: Column keys of the cost table, and their headings.
COST_COLUMNS = (
    ("chain", "chain registry"),
    ("rfc3161PerRecord", "RFC 3161, token per record"),
    ("rfc3161PerBatch", "RFC 3161, token per batch root"),
    ("ctlog", "CT-style log (one server)"),
)


def _probe_evidence(figures: dict[str, Any], kinds: tuple[str, ...]) -> str:
    rows = [r for r in figures.get("verdicts", {}).get("rows", []) if r["probe"] in kinds]
    if not rows:
        return "no such probe in this run"
    return f"{sum(1 for r in rows if r['match'])}/{len(rows)} {'/'.join(kinds)} probes gave the expected verdict"


def _proves(alt: dict[str, Any], figures: dict[str, Any]) -> list[dict[str, str]]:
    tsa, ct, chain = alt["rfc3161"], alt["ctlog"], alt["chain"]
    tokens = tsa["perBatch"]["valid"] + tsa["perRecord"]["valid"]
    asked = tsa["perBatch"]["requests"] + tsa["perRecord"]["requests"]
    inc = ct["inclusion"]["lastHead"]
    con = ct["consistency"]
    split = ct["splitView"]
    signed = ct["officeSignedEntries"]
    compromise = [e for e in figures.get("governance", {}).get("events", []) if e.get("event") == "compromise-key"]
    rows = [
        ("time",
         "yes: the block's time (the proposer's clock, bounded by consensus), the same on every node; RFC 3161 "
         "tokens may be added beside it",
         "yes: the authority's signed time (1 s accuracy here), vouched by its key alone",
         "partly: the log's signed head time (its clock, its key); when an entry arrived only to the next head",
         f"chain: {chain['batches']} batches with block times; tokens valid {tokens}/{asked}; "
         f"heads verified {ct['headsVerified']}/{ct['heads']}"),
        ("office origin",
         "yes: the signer was an authorised key of the office at that block (contract check)",
         "no: a token names the authority, not who asked",
         "no, unless offices sign entries (then the log keeps no key history)",
         f"{_probe_evidence(figures, ('unauthorised',))}; a token over a hash no office anchored: "
         f"{tsa['foreignHashTokenStatus']}; office-signed entries: {signed['signatureBytes']} B, "
         f"{rep.num(signed['signUs'], 1)} µs to sign per entry"),
        ("unchanged content",
         "yes: content hash in a Merkle leaf under an anchored root",
         "yes: for the hash that was stamped (per record, or per root with a Merkle path)",
         "yes: leaf in the log's tree, inclusion proof under a signed head",
         f"{_probe_evidence(figures, ('tampered',))}; inclusion proofs verified {inc['verified']}/{inc['proofs']}, "
         f"mutated refused {ct['mutatedProofsRefused']}/{ct['mutatedProofs']}"),
        ("revocation / supersession",
         "yes: revocation by the record's own office only, versions linked on chain, one view answers",
         "no: a token cannot be withdrawn and there is no list to look in",
         "partly: only as appended entries (unless offices sign them, anyone may append one); a verifier must "
         "scan the log after the record",
         _probe_evidence(figures, ("revoked", "superseded"))),
        ("key compromise history",
         "yes: signer validity intervals and compromise marks on chain; anchors after the mark fail",
         "no: only the authority's own certificate status (CRL/OCSP); offices' keys are not involved",
         "no: the log's key is the single point of trust; with it a thief signs any view (witness cosignatures "
         "would narrow this)",
         f"{len(compromise)} compromise-key event(s) in this run's governance phase"),
        ("append-only, no split view",
         "yes: every node holds the same history (consensus; reorganisations bounded by confirmations)",
         "no: nothing is public; whoever holds the authority's key can issue a token with any time (backdating "
         "goes unseen)",
         "append-only provable by consistency proofs; a split view passes every check of a lone client",
         f"consistency proofs verified {con['verified']}/{con['proofs']}; split view of size "
         f"{split.get('treeSize')}: both heads signed {split.get('bothHeadsSigned')}, found without comparing "
         f"heads {split.get('detectedWithoutComparingHeads')}, found by comparing "
         f"{split.get('detectedByComparingHeads')}"),
        ("survives the operator",
         "yes: every office's node keeps the whole state; no single operator",
         "partly: tokens verify offline while the authority's chain is trusted (re-stamp before expiry)",
         "no: new proofs, consistency and revocations need the one server (mirrors must be arranged)",
         "by design (not a figure of this run)"),
        ("public verifiability without the operator",
         "yes: any node or archive; one eth_call per record",
         "partly: offline for whoever holds the token; nothing public to enumerate or audit",
         "partly: a stored proof and head verify offline; whether it is current needs the server",
         f"chain verify {rep.num(chain['verifyMsPerRecord'], 2)} ms/record (live); token check "
         f"{rep.num(tsa['perRecord']['verifyMs'], 2)} ms; inclusion check {rep.num(inc['verifyUs'], 1)} µs"),
    ]  # fmt: skip
    keys = ("property", "chain", "rfc3161", "ctlog", "evidence")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _hours(ms: float | None) -> float:
    return (ms or 0) / 1000 / 3600


def _costs(alt: dict[str, Any]) -> list[dict[str, Any]]:
    tsa, ct, chain = alt["rfc3161"], alt["ctlog"], alt["chain"]
    r_year, b_year = alt["recordsPerYear"], alt["batchesPerYear"]
    price, server = tsa["pricePerToken"], ct["serverCostPerYear"]
    fill = chain["batches"] / max(1, chain["records"])  # batches per record in this run
    pr, pb = tsa["perRecord"], tsa["perBatch"]
    entry = (ct["entryBytesMean"] or 0) + 64  # entry + leaf hash + one interior hash (amortised)
    inc = ct["inclusion"]["lastHead"]
    ct_verify = ((inc["verifyUs"] or 0) + (ct["headVerifyUs"] or 0)) / 1000
    per_batch_bytes = pb["bundleBytes"] + (chain["merklePathBytesPerRecord"] or 0)
    rows: list[tuple[str, str, Any, Any, Any, Any, str]] = [
        ("money per record", alt["currency"], chain["fiatPerRecord"], price, price * fill, server / max(1, r_year),
         "chain: pipeline gas / records x gas price x ETH price; tokens: assumed price (per batch: ÷ records per "
         "batch of this run); log: assumed server cost / records per year"),
        ("operator requests per record", "requests", fill, 1, fill, 1,
         "chain: transactions / records of this run; log: one append per record"),
        ("bytes a record's holder keeps", "bytes", chain["bundleBytesPerRecord"], pr["bundleBytes"], per_batch_bytes,
         (ct["entryBytesMean"] or 0) + (inc["bytesMean"] or 0) + ct["headBytes"],
         "measured: proof bundle files; the token field of a bundle (+ Merkle path per batch); entry + inclusion "
         "proof + signed head"),
        ("verify time per record", "ms", chain["verifyMsPerRecord"], pr["verifyMs"], pb["verifyMs"], ct_verify,
         "measured: live verification with contract calls; offline token check; inclusion + head signature check"),
        ("money per year", alt["currency"], chain["fiatPerYear"], price * r_year, price * b_year, server,
         "chain: pipeline gas x 52 / weeks; tokens: price x records (or batches) per year; log: assumed"),
        ("operator requests per year", "requests", b_year, r_year, b_year, r_year + b_year,
         "batches per year (transactions, tokens, heads) and records per year (tokens, appends)"),
        ("bytes per year kept by the operator or network", "bytes", chain["chainBytesPerYear"],
         r_year * pr["tokenBytes"], b_year * pb["tokenBytes"], r_year * entry + b_year * ct["headBytes"],
         "chain: calldata + logs (+ state on anvil) per batch x batches, manifests (off chain, at each office) not "
         "counted; tokens: DER bytes (kept by offices, "
         "nothing public); log: (entry + 64) x records + heads"),
        ("operator time per year", "hours", None, r_year * _hours(pr["requestMs"]),
         b_year * _hours(pb["requestMs"]),
         (r_year / ct["appendsPerSecond"] if ct["appendsPerSecond"] else 0) / 3600
         + b_year * _hours(ct["signMsPerHead"]),
         "at this run's measured rates: token round trips (local authority), appends and head signatures"),
    ]  # fmt: skip
    keys = ("figure", "unit", "chain", "rfc3161PerRecord", "rfc3161PerBatch", "ctlog", "how")
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    out.append({
        "figure": "operator infrastructure", "unit": "",
        "chain": "the consortium's nodes (one per office, or a provider's endpoint); no operator of its own",
        "rfc3161PerRecord": "a qualified authority paid per token, or an own authority (HSM, certificate)",
        "rfc3161PerBatch": "as per record, one token per batch",
        "ctlog": "one server with storage and backups, plus monitors and witnesses to catch a split view",
        "how": "",
    })  # fmt: skip
    return out


def comparison(alt: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """Both tables for ``report.json``: what each alternative proves (with this run's evidence), what it costs."""
    return {"proves": _proves(alt, figures), "costs": _costs(alt)}


def _cell(value: Any, unit: str, currency: str) -> str:
    if isinstance(value, str):
        return value
    if unit == currency:
        return rep.money(value, currency)
    if isinstance(value, float) and 0 < abs(value) < 0.01:
        return f"{value:.2g}"
    return rep.num(value, 3 if isinstance(value, float) and abs(value) < 1 else 0)


def section(report: dict[str, Any], plots: dict[str, Path]) -> str:
    """The HTML section: both tables, the measured details, and the privacy of sealed records."""
    alt = report["alternatives"]
    cur = alt["currency"]
    tsa, ct, chain, pv = alt["rfc3161"], alt["ctlog"], alt["chain"], alt["privacy"]
    out = ['<section id="alternatives"><h2>Why a chain at all: RFC 3161 tokens alone, a CT-style log</h2>']
    out.append(
        f"<p>The pipeline's {rep.num(alt['records'])} records ({rep.num(alt['batches'])} batches, arrival order) "
        "went through both alternatives in this run: time-stamp tokens from the local RFC 3161 authority (one per "
        f"batch root, and one per record for {rep.num(tsa['perRecord']['requests'])} sampled records), each checked "
        "offline; and a minimal RFC 6962/9162 log (one server, Ed25519 signed tree heads, one head per batch), "
        "every proof checked by an independent verifier. Per year: "
        f"{rep.num(alt['recordsPerYear'])} records, {rep.num(alt['batchesPerYear'])} batches. Assumed: "
        f"{rep.money(tsa['pricePerToken'], cur)} per token, {rep.money(ct['serverCostPerYear'], cur)} per year "
        "for the log server (scenario keys <code>[alternatives]</code>).</p>"
    )
    out.append("<h3>What each proves</h3>")
    out.append(rep.table(["property", "chain registry", "RFC 3161 tokens alone", "CT-style log (one server)",
                          "evidence in this run"],
                         [[r["property"], r["chain"], r["rfc3161"], r["ctlog"], r["evidence"]]
                          for r in alt["comparison"]["proves"]], "wide"))  # fmt: skip
    out.append("<h3>What each costs</h3>")
    head = ["figure", *(label for _, label in COST_COLUMNS)]
    rows = [
        [f"{r['figure']}" + (f" ({r['unit']})" if r["unit"] and r["unit"] != cur else ""),
         *(_cell(r[k], r["unit"], cur) for k, _ in COST_COLUMNS)]
        for r in alt["comparison"]["costs"]
    ]  # fmt: skip
    out.append(rep.table(head, rows, "wide"))
    out.append('<ul class="note">' + "".join(f"<li>{rep._e(r['figure'])}: {rep._e(r['how'])}</li>"
                                             for r in alt["comparison"]["costs"] if r["how"]) + "</ul>")  # fmt: skip
    inc, last = ct["inclusion"]["batchHead"], ct["inclusion"]["lastHead"]
    out.append("<h3>Measured details</h3>")
    out.append(rep.table(["figure", "measured"], [
        ["tokens per batch root: requests, valid, round trip median / max",
         f"{tsa['perBatch']['requests']}, {tsa['perBatch']['valid']}, {rep.num(tsa['perBatch']['requestMs'], 1)} / "
         f"{rep.num(tsa['perBatch']['requestMsMax'], 1)} ms"],
        ["tokens per record (sample): requests, valid, round trip median",
         f"{tsa['perRecord']['requests']}, {tsa['perRecord']['valid']}, "
         f"{rep.num(tsa['perRecord']['requestMs'], 1)} ms"],
        ["token: DER bytes, bytes in a bundle, offline check", f"{tsa['perBatch']['tokenBytes']}, "
         f"{tsa['perBatch']['bundleBytes']}, {rep.num(tsa['perBatch']['verifyMs'], 2)} ms"],
        ["log: entries appended, appends/s", f"{rep.num(ct['entries'])}, {rep.num(ct['appendsPerSecond'], 0)}"],
        ["log: signed heads, bytes each, sign / verify", f"{ct['heads']}, {ct['headBytes']}, "
         f"{rep.num(ct['signMsPerHead'], 3)} ms / {rep.num(ct['headVerifyUs'], 1)} µs"],
        ["inclusion proofs under the batch's head: verified, bytes mean / max, verify",
         f"{rep.num(inc['verified'])}/{rep.num(inc['proofs'])}, {rep.num(inc['bytesMean'], 0)} / {inc['bytesMax']}, "
         f"{rep.num(inc['verifyUs'], 1)} µs"],
        ["inclusion proofs under the last head: verified, bytes mean / max, verify",
         f"{rep.num(last['verified'])}/{rep.num(last['proofs'])}, {rep.num(last['bytesMean'], 0)} / "
         f"{last['bytesMax']}, {rep.num(last['verifyUs'], 1)} µs"],
        ["consistency proofs between heads: verified, bytes mean / max, verify",
         f"{ct['consistency']['verified']}/{ct['consistency']['proofs']}, {rep.num(ct['consistency']['bytesMean'], 0)}"
         f" / {ct['consistency']['bytesMax']}, {rep.num(ct['consistency']['verifyUs'], 1)} µs"],
        ["chain: gas per record (pipeline receipts), bundle bytes, Merkle path bytes",
         f"{rep.num(chain['gasPerRecord'], 1)}, {rep.num(chain['bundleBytesPerRecord'], 0)}, "
         f"{rep.num(chain['merklePathBytesPerRecord'], 0)}"],
    ], "wide"))  # fmt: skip
    if "alternatives" in plots:
        out.append(rep.image(plots["alternatives"], "Money per year by alternative; sealed values per batch"))
    out.append(_privacy(pv, cur))
    out.append("</section>")
    return "".join(out)


def _privacy(pv: dict[str, Any], cur: str) -> str:
    d = pv["sealedPerBatch"]
    out = ["<h3>Privacy: what sealed records' batch sizes and timing reveal</h3>"]
    out.append(
        f"<p>{rep.num(pv['batchesWithSealed'])} of {rep.num(pv['batches'])} batches of this run (pipeline and latency "
        f"rounds) held sealed records, {rep.num(pv['sealedRecords'])} in all: per such batch min "
        f"{rep.num(d['min'])}, median {rep.num(d['median'])}, max {rep.num(d['max'])}. The published manifest "
        "marks each sealed value, so an observer reads each office's count of unpublished filings per batch "
        f"(manifest counts equal the offices' stores: {rep.num(pv['manifestCountsEqualStore'])}) and dates them by "
        f"the batch's block. For example: {rep._e(pv['exampleInference'])}.</p>"
    )
    out.append(rep.table(["office", "pipeline batches", "sealed per batch", "batches per week",
                          "filings dated to within (hours)"],
                         [[o["office"], o["batches"], ", ".join(map(str, o["sealedPerBatch"])) or "none",
                           o["batchesPerWeek"], rep.num(o["intervalHours"], 1)] for o in pv["offices"]]))  # fmt: skip
    out.append(rep.table(["alternative", "what an observer learns about sealed records"], [
        ["chain registry", "per batch: count of sealed values per office (manifest), total leaves (chain), the "
         "block's time; content and ids stay hidden"],
        ["RFC 3161 per record", "nothing public (tokens stay with the office until reveal); the authority sees one "
         "request per sealed record, to the second"],
        ["RFC 3161 per batch root", "as the chain if manifests are published; the authority sees only roots"],
        ["CT-style log", "every sealed record is a public entry: count per head, arrival order among all offices"],
    ]))  # fmt: skip
    pad = pv["padding"]
    cost = pv["paddingCost"]
    out.append(rep.table(["padding (dummy commitments)", "dummies", "share of leaves", "distinct counts seen",
                          "chain: extra gas, manifest bytes", "RFC 3161 per record: extra tokens",
                          "CT log: extra entries, bytes"], [
        [f"constant {pad['constant']['perBatch']} per batch", rep.num(cost["constant"]["dummies"]),
         f"{100 * cost['constant']['overheadOfAllLeaves']:.1f} %",
         f"{pad['distinctCountsBefore']} → {pad['constant']['distinctCountsSeen']}",
         f"{rep.num(cost['constant']['chainExtraGas'], 0)}, {rep.num(cost['constant']['chainExtraManifestBytes'])}",
         f"{rep.num(cost['constant']['rfc3161ExtraTokens'])} ({rep.money(cost['constant']['rfc3161ExtraMoney'], cur)})",
         f"{rep.num(cost['constant']['ctlogExtraEntries'])}, {rep.num(cost['constant']['ctlogExtraBytes'])}"],
        ["next power of two", rep.num(cost["powerOfTwo"]["dummies"]),
         f"{100 * cost['powerOfTwo']['overheadOfAllLeaves']:.1f} %",
         f"{pad['distinctCountsBefore']} → {pad['powerOfTwo']['distinctCountsSeen']}",
         f"{rep.num(cost['powerOfTwo']['chainExtraGas'], 0)}, {rep.num(cost['powerOfTwo']['chainExtraManifestBytes'])}",
         f"{rep.num(cost['powerOfTwo']['rfc3161ExtraTokens'])} "
         f"({rep.money(cost['powerOfTwo']['rfc3161ExtraMoney'], cur)})",
         f"{rep.num(cost['powerOfTwo']['ctlogExtraEntries'])}, {rep.num(cost['powerOfTwo']['ctlogExtraBytes'])}"],
    ], "wide"))  # fmt: skip
    out.append(
        '<p class="note">Dummies are random 32-byte commitments, indistinguishable from salted ones; the chain\'s '
        "gas hardly moves (extra gas = measured gas per extra leaf across the priced batch sizes x dummies), the "
        "manifest grows by the measured bytes of a sealed value per dummy. Padding to a constant hides the count "
        "entirely (every batch shows the same number); a power of two leaves the order of magnitude. Timing: "
        "batches on a fixed schedule (e.g. daily, whatever the volume) date a filing only to its interval; the "
        "counts above are then per interval. A token per record reveals nothing publicly but every filing to "
        "the authority; a log without padding reveals each entry.</p>"
    )
    return "".join(out)


def plot(alt: dict[str, Any], path: Path) -> Path:
    """Money per year of each alternative (log scale), and the sealed count each batch shows, with padding."""
    from registry.evaluate.plots import _pyplot

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.2), dpi=110, gridspec_kw={"width_ratios": [1, 1.4]})
    year = next(r for r in alt["comparison"]["costs"] if r["figure"] == "money per year")
    labels = ["chain", "RFC 3161\nper record", "RFC 3161\nper root", "CT log\n(1 server)"]
    values = [max(float(year[k] or 0), 1e-6) for k, _ in COST_COLUMNS]
    bars = left.bar(labels, values, color=["tab:blue", "tab:orange", "tab:olive", "tab:green"])
    left.set_yscale("log")
    left.bar_label(bars, labels=[rep.money(v, alt["currency"]) for v in values], fontsize=7)
    left.set_ylabel(f"{alt['currency']} per year")
    left.set_title(f"Money per year at {alt['recordsPerYear']:,} records\n(token price and log server assumed)",
                   fontsize=9)  # fmt: skip
    pv = alt["privacy"]
    counts = [b["sealed"] for b in pv["perBatch"]]
    colours = ["tab:blue" if b["part"] == "pipeline" else "tab:purple" for b in pv["perBatch"]]
    right.bar(range(len(counts)), counts, color=colours, label="sealed values an observer counts")
    right.axhline(pv["padding"]["constant"]["perBatch"], color="tab:red", linestyle="--",
                  label="constant padding: what every batch shows")  # fmt: skip
    right.set_ylim(0, max(pv["padding"]["constant"]["perBatch"], 1) * 1.35)
    right.set_xlabel("anchored batch (pipeline in blue, latency rounds in purple)")
    right.set_ylabel("sealed values in the batch's manifest")
    right.set_title("What sealed records' batches reveal", fontsize=9)
    right.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One-line answers for the summary table: cost per year of each alternative, and what sealed batches show."""
    alt = report.get("alternatives")
    if not alt:
        return []
    cur = alt["currency"]
    costs = {r["figure"]: r for r in alt["comparison"]["costs"]}
    year = costs["money per year"]
    split = alt["ctlog"]["splitView"]
    pv = alt["privacy"]
    return [
        ["per year: chain / RFC 3161 per record / per root / CT log",
         " / ".join(rep.money(year[k], cur) for k, _ in COST_COLUMNS),
         "token price and log server cost assumed (scenario [alternatives])"],
        ["CT-style log: split view found without comparing heads",
         rep.num(split.get("detectedWithoutComparingHeads")), "two signed heads of one size, every lone check passes"],
        ["sealed records: batches revealing a count", f"{pv['batchesWithSealed']} / {pv['batches']}",
         f"max {rep.num(pv['sealedPerBatch']['max'])} per batch; constant padding: "
         f"{rep.num(pv['padding']['constant']['dummies'])} dummies"],
    ]  # fmt: skip
