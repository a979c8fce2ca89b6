'use strict';

/**
 * Reproducible random UTF-8 text of an exact byte length, for payloads that look like real
 * field values (names, addresses, notes) rather than ASCII-only filler: the mix of 1- to 4-byte
 * code points exercises each implementation's string <-> bytes conversion, which is part of what
 * a field encryptor costs. Seeded, so every run (and every implementation) encrypts the same text.
 */

// mulberry32: a tiny seeded PRNG; statistical quality is irrelevant here, determinism is not.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Code point ranges by UTF-8 width, avoiding surrogates and unassigned-looking extremes.
const RANGES = [
  { bytes: 1, from: 0x20, to: 0x7e, weight: 0.7 }, // printable ASCII
  { bytes: 2, from: 0xc0, to: 0x24f, weight: 0.15 }, // Latin-1 supplement, Latin extended
  { bytes: 3, from: 0x4e00, to: 0x9fff, weight: 0.1 }, // CJK unified ideographs
  { bytes: 4, from: 0x1f300, to: 0x1f5ff, weight: 0.05 }, // pictographs (surrogate pairs in JS)
];

/**
 * @param {number} byteLength exact UTF-8 length of the result
 * @param {number} seed
 * @returns {string}
 */
function randomUtf8(byteLength, seed) {
  const next = mulberry32(seed);
  let out = '';
  let remaining = byteLength;
  while (remaining > 0) {
    let pick = next();
    let range = RANGES[RANGES.length - 1];
    for (const r of RANGES) {
      if (pick < r.weight) {
        range = r;
        break;
      }
      pick -= r.weight;
    }
    if (range.bytes > remaining) range = RANGES[0];
    out += String.fromCodePoint(range.from + Math.floor(next() * (range.to - range.from + 1)));
    remaining -= range.bytes;
  }
  return out;
}

module.exports = { randomUtf8 };
