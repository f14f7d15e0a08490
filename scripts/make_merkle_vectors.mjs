// Generate OpenZeppelin StandardMerkleTree test vectors for the anchor registry.
//
// How to run (the library is NOT a project dependency; install it in a
// throw-away folder outside the repository):
//
//   mkdir -p /tmp/ozmt && cd /tmp/ozmt && npm init -y >/dev/null \
//     && npm install --no-audit --no-fund @openzeppelin/merkle-tree@1.0.8
//   cd /path/to/repo
//   OZ_MERKLE_DIR=/tmp/ozmt/node_modules node scripts/make_merkle_vectors.mjs
//   # or: node scripts/make_merkle_vectors.mjs /tmp/ozmt/node_modules [OUT_FILE]
//
// OZ_MERKLE_DIR / argv[2] may point either at the node_modules folder or at
// the folder that contains it. The output defaults to
// tests/vectors/oz_merkle.json (relative to the repository root) and is
// fully deterministic: rerunning produces a byte-identical file.
//
// Leaf encoding: ["string", "bytes32", "string", "bytes32"]
// Leaf values:   [recordId, contentHash, canonicalization, supersedes]
// Trees are built with the library defaults (sortLeaves: true).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PKG = '@openzeppelin/merkle-tree';
const EXPECTED_VERSION = '1.0.8';
const LEAF_ENCODING = ['string', 'bytes32', 'string', 'bytes32'];
const CANONICALIZATIONS = ['xml-c14n2', 'json-jcs', 'raw', 'sealed'];
const ZERO32 = '0x' + '00'.repeat(32);
const SIZES = [1, 2, 3, 4, 5, 7, 8, 16, 33, 100, 257];

const scriptDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(scriptDir, '..');

function locatePackage(dir) {
  if (!dir) {
    throw new Error(`set OZ_MERKLE_DIR (or pass argv[2]) to the node_modules folder holding ${PKG}@${EXPECTED_VERSION}`);
  }
  const candidates = [path.resolve(dir, PKG), path.resolve(dir, 'node_modules', PKG)];
  for (const c of candidates) {
    if (existsSync(path.join(c, 'package.json'))) return c;
  }
  throw new Error(`${PKG} not found under ${dir}`);
}

const pkgDir = locatePackage(process.argv[2] ?? process.env.OZ_MERKLE_DIR);
const pkgJson = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
if (pkgJson.version !== EXPECTED_VERSION) {
  throw new Error(`expected ${PKG}@${EXPECTED_VERSION}, found ${pkgJson.version}`);
}
const require = createRequire(path.join(pkgDir, 'package.json'));
const { StandardMerkleTree } = require(pkgDir);

const outFile = path.resolve(process.argv[3] ?? path.join(repoRoot, 'tests', 'vectors', 'oz_merkle.json'));

/** sha256 of a UTF-8 string, as a Buffer. */
function sha256(s) {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Deterministic 0x-prefixed bytes32 derived from a label. */
function hash32(label) {
  return '0x' + sha256(label).toString('hex');
}

/** Deterministic integer in [0, n) derived from a label. */
function pick(label, n) {
  return sha256(label).readUInt32BE(0) % n;
}

/** Deterministic decimal string of `digits` digits derived from a label. */
function digitsOf(label, digits) {
  return String(sha256(label).readUInt32BE(4) % 10 ** digits).padStart(digits, '0');
}

function recordId(caseName, i, attempt) {
  const label = `oz-merkle-vector:id:${caseName}:${i}:${attempt}`;
  switch (pick(label, 3)) {
    case 0:
      return `EP:${digitsOf(label, 7)}:${['A1', 'A2', 'B1', 'B2'][pick(label + ':kind', 4)]}`;
    case 1:
      return `US:2026${digitsOf(label, 6)}:${['A1', 'B1', 'B2'][pick(label + ':kind', 3)]}`;
    default:
      return `EM:018${digitsOf(label, 6)}`;
  }
}

function makeValues(caseName, size) {
  const seen = new Set();
  const values = [];
  for (let i = 0; i < size; i++) {
    let attempt = 0;
    let id = recordId(caseName, i, attempt);
    while (seen.has(id)) id = recordId(caseName, i, ++attempt);
    seen.add(id);
    const contentHash = hash32(`oz-merkle-vector:content:${caseName}:${i}`);
    const canon = CANONICALIZATIONS[pick(`oz-merkle-vector:canon:${caseName}:${i}`, CANONICALIZATIONS.length)];
    // Roughly one leaf in four supersedes an earlier version.
    const supersedes =
      pick(`oz-merkle-vector:supersedes:${caseName}:${i}`, 4) === 0
        ? hash32(`oz-merkle-vector:previous:${caseName}:${i}`)
        : ZERO32;
    values.push([id, contentHash, canon, supersedes]);
  }
  return values;
}

const cases = SIZES.map(size => {
  const name = `n${size}`;
  const values = makeValues(name, size);
  const tree = StandardMerkleTree.of(values, LEAF_ENCODING);
  const dump = tree.dump();
  const root = tree.root;
  const leaves = values.map((value, i) => {
    const proof = tree.getProof(i);
    const leafHash = tree.leafHash(value);
    if (!StandardMerkleTree.verify(root, LEAF_ENCODING, value, proof)) {
      throw new Error(`self-check failed for ${name}[${i}]`);
    }
    const treeIndex = dump.values[i].treeIndex;
    if (dump.tree[treeIndex] !== leafHash) throw new Error(`treeIndex mismatch for ${name}[${i}]`);
    return { index: i, treeIndex, leafHash, proof };
  });
  return { name, size, leafEncoding: LEAF_ENCODING, values, root, tree: dump.tree, leaves };
});

const doc = {
  description:
    'StandardMerkleTree vectors: leaves = keccak256(keccak256(abi.encode(values))); ' +
    'nodes = keccak256(sorted pair); leaves sorted by hash (sortLeaves: true). ' +
    '"values" are in input order; "leaves[i]" belongs to values[i]; "tree" is tree.dump().tree.',
  generator: 'scripts/make_merkle_vectors.mjs',
  library: `${PKG}@${pkgJson.version}`,
  format: 'standard-v1',
  options: { sortLeaves: true },
  leafEncoding: LEAF_ENCODING,
  cases,
};

mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(doc, null, 1) + '\n');
console.log(`wrote ${cases.length} cases to ${outFile}`);
