// Generate ES6 number-serialization vectors the way the cyberphone JSON canonicalization test
// suite does (github.com/cyberphone/json-canonicalization, testdata/numgen.js): random IEEE 754
// bit patterns, NaN and Infinity skipped, each written as "<16 hex digits>,<JavaScript String(x)>".
// The oracle is this JavaScript engine's own Number-to-String conversion (ECMA-262 7.1.12.1),
// which RFC 8785 section 3.2.2.3 adopts.
//
//   node scripts/make_es6_vectors.mjs [COUNT] [OUT_FILE]
//
// Defaults: 3000 lines to tests/vectors/es6_numbers.txt. Deterministic (seeded xorshift), so a
// rerun writes a byte-identical file. Besides uniform bit patterns, a third of the lines are
// integer-valued doubles between 2^53 and 2^70 (where "295147905179352830000"-style canonical forms
// live) and a sixth are doubles near powers of ten, the cases implementations get wrong.
import { writeFileSync } from "node:fs";

const count = Number(process.argv[2] ?? 3000);
const out = process.argv[3] ?? new URL("../tests/vectors/es6_numbers.txt", import.meta.url);

let state = 0x9e3779b97f4a7c15n;
const mask = (1n << 64n) - 1n;
function next64() {
  state ^= (state << 13n) & mask;
  state ^= state >> 7n;
  state ^= (state << 17n) & mask;
  return state & mask;
}

const buffer = new DataView(new ArrayBuffer(8));
function fromBits(bits) {
  buffer.setBigUint64(0, bits);
  return buffer.getFloat64(0);
}
function bitsOf(x) {
  buffer.setFloat64(0, x);
  return buffer.getBigUint64(0);
}

const lines = [];
while (lines.length < count) {
  const r = next64();
  const pick = lines.length % 6;
  let x;
  if (pick < 3) {
    x = fromBits(r);
  } else if (pick < 5) {
    const exponent = 53 + Number(r % 18n); // 2^53 .. 2^70
    x = Number(BigInt.asUintN(exponent, next64()) | (1n << BigInt(exponent - 1)));
  } else {
    const power = Number(r % 600n) - 300;
    x = fromBits(bitsOf(Number(`1e${power}`)) + (next64() % 5n) - 2n);
  }
  if (!Number.isFinite(x)) continue;
  lines.push(`${bitsOf(x).toString(16).padStart(16, "0")},${String(x)}`);
}
writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${lines.length} vectors to ${out}`);
