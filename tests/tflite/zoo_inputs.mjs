#!/usr/bin/env node
// Seeded inputs for the zoo's LiteRT test: N samples shaped like a member's committed
// input (X.npy's rows), each element uniform in [-2, 2) from a 32-bit LCG (seed S), so a
// test runs more samples than the fixture's two without committing them.
//   zoo_inputs.mjs X.npy N SEED OUT.npy
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { loadArray, npyWrite } = require('../peers/npy.cjs');

const [src, n, seed, out] = process.argv.slice(2);
const a = loadArray(src);
const per = a.data.length / a.dims[0];
const x = new Float32Array(Number(n) * per);
let s = Number(seed) >>> 0;
for (let i = 0; i < x.length; i++) {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  x[i] = (s / 4294967296) * 4 - 2;
}
npyWrite(out, [Number(n), ...a.dims.slice(1)], x);
