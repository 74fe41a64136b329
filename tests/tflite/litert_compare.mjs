#!/usr/bin/env node
// Compares a peer runtime's outputs with qscope's on the same samples and prints the
// figures as one JSON line; exits 1 when a stated bound is not met.
//
//   litert_compare.mjs GOT.npy WANT.npy [--labels=FILE.npz:y] [--step=S] [--ref=REF.npy]
//                      [--dequant=SCALE,ZERO_POINT]
//                      [--max-rel=R] [--max-err-ratio=K] [--min-same=P] [--min-top1=P]
//                      [--max-acc-diff=P] [--max-steps=K] [--label=TEXT]
//   litert_compare.mjs --table=FILE.jsonl
//     Prints the JSON lines of FILE (each one compare's, with its --label as `label`, or
//     {"label":..,"note":..}) as a table.
//
// --dequant: GOT holds int8 or uint8 codes (a file exported with io=int8|uint8), read as
// (q - ZERO_POINT) * SCALE in float32, as a DEQUANTIZE op computes them.
// Figures (each sample is one row of the (N, ...) outputs):
//   rel_inf      max over samples of ||got - want||_inf / ||want||_inf (the row's largest
//                difference over its largest magnitude: a per-sample relative error that
//                a near-zero element cannot blow up);
//   max_abs      the largest absolute difference;
//   same_pct     with --step (an int8 output's scale): the share of elements on the same
//                quantization level, |got - want| < step / 2 (both sides are dequantized
//                int8, so equal levels differ by float rounding at most); else exact float
//                equality;
//   top1_pct     samples whose argmax agree (over the whole row: the class, or for a heat
//                map the peak cell);
//   acc_got, acc_want: top-1 accuracy against integer labels, when --labels is given;
//   err_want, err_got: with --ref (qscope's fp32 outputs), the rel_inf of WANT and of GOT
//                from REF: the error each side's quantized variant makes.
// Bounds: rel_inf <= --max-rel, err_got <= --max-err-ratio * err_want, same_pct >=
// --min-same, max_abs <= (K + 1/4) --step with --max-steps=K (levels K apart, with the
// dequantized values' float rounding), top1_pct >= --min-top1, |acc_got - acc_want| <= --max-acc-diff (percentage
// points); each only when given.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { loadArray } = require('../peers/npy.cjs');
const { parseArgs } = require('../peers/args.cjs');

function argmax(a, from, n) {
  let best = 0;
  for (let c = 1; c < n; c++) if (a[from + c] > a[from + best]) best = c;
  return best;
}

function compare(got, want, labels, step) {
  const rows = want.dims[0], cols = want.data.length / rows;
  let same = 0, agree = 0, rightGot = 0, rightWant = 0, maxAbs = 0, relInf = 0;
  for (let r = 0; r < rows; r++) {
    let diff = 0, mag = 0;
    for (let c = 0; c < cols; c++) {
      const g = got.data[r * cols + c], w = want.data[r * cols + c], d = Math.abs(g - w);
      if (step ? d < step / 2 : d === 0) same++;
      diff = Math.max(diff, d);
      mag = Math.max(mag, Math.abs(w));
    }
    maxAbs = Math.max(maxAbs, diff);
    relInf = Math.max(relInf, mag > 0 ? diff / mag : diff);
    const ag = argmax(got.data, r * cols, cols), aw = argmax(want.data, r * cols, cols);
    if (ag === aw) agree++;
    if (labels) {
      if (ag === Number(labels[r])) rightGot++;
      if (aw === Number(labels[r])) rightWant++;
    }
  }
  const pct = (k, n) => Number((100 * k / n).toFixed(4));
  const res = { samples: rows, elements: rows * cols, same: same, same_pct: pct(same, rows * cols),
                rel_inf: relInf, max_abs: maxAbs, top1_pct: pct(agree, rows) };
  if (step) res.step = step;
  if (labels) Object.assign(res, { acc_got: pct(rightGot, rows), acc_want: pct(rightWant, rows) });
  return res;
}

// Percentages keep two decimals (99.99 is not 100), other figures three digits.
function cell(v, key) {
  if (v === undefined) return '-';
  if (key.endsWith('pct') || key.startsWith('acc')) return v.toFixed(2);
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

function printTable(file) {
  const cols = [['samples', 'samples'], ['same', 'same'], ['same_pct', 'same_%'],
                ['rel_inf', 'rel'], ['err_want', 'err_qscope'], ['err_got', 'err_peer'],
                ['max_abs', 'max_abs'], ['top1_pct', 'top1_%'], ['acc_got', 'acc_peer_%'],
                ['acc_want', 'acc_qscope_%']];
  const pad = (t, w) => t.padStart(w);
  console.log('model / variant'.padEnd(24) + cols.map(([, h]) => pad(h, 13)).join(''));
  for (const line of fs.readFileSync(file, 'utf8').trim().split('\n').filter((l) => l)) {
    const o = JSON.parse(line);
    console.log(o.label.padEnd(24) +
                (o.note ? ' ' + o.note : cols.map(([k]) => pad(cell(o[k], k), 13)).join('')));
  }
}

function main() {
  const { pos, opt } = parseArgs(process.argv.slice(2));
  if (opt.table) return printTable(opt.table);
  if (pos.length !== 2) {
    console.error('usage: litert_compare.mjs GOT.npy WANT.npy [--labels=F.npz:y] [--step=S] ' +
                  '[--ref=REF.npy] [--dequant=S,Z] [--max-rel=R] [--max-err-ratio=K] [--min-same=P] ' +
                  '[--min-top1=P] [--max-acc-diff=P] [--max-steps=K]');
    process.exit(2);
  }
  const got = loadArray(pos[0]), want = loadArray(pos[1]);
  if (opt.dequant) {
    const [scale, zp] = opt.dequant.split(',').map(Number);
    got.data = Float32Array.from(got.data, (q) => Math.fround((q - zp) * Math.fround(scale)));
  }
  if (got.dims.join() !== want.dims.join())
    throw new Error(`shapes differ: [${got.dims}] vs [${want.dims}]`);
  let labels = null;
  if (opt.labels) {
    labels = loadArray(opt.labels).data;
    if (labels.length < want.dims[0]) throw new Error(`${opt.labels}: fewer labels than samples`);
  }
  const res = compare(got, want, labels, opt.step ? Number(opt.step) : 0);
  if (opt.ref) {
    const ref = loadArray(opt.ref);
    res.err_want = compare(want, ref, null, 0).rel_inf;
    res.err_got = compare(got, ref, null, 0).rel_inf;
  }
  const fails = [];
  const ratio = opt['max-err-ratio'];
  if (ratio !== undefined && !(res.err_got <= Number(ratio) * res.err_want))
    fails.push(`error from the reference ${res.err_got} > ${ratio} x ${res.err_want}`);
  if (opt['max-rel'] !== undefined && !(res.rel_inf <= Number(opt['max-rel'])))
    fails.push(`rel_inf ${res.rel_inf} > ${opt['max-rel']}`);
  if (opt['max-steps'] !== undefined && opt.step !== undefined &&
      !(res.max_abs <= (Number(opt['max-steps']) + 0.25) * Number(opt.step)))
    fails.push(`max_abs ${res.max_abs} > ${opt['max-steps']} steps`);
  if (opt['min-same'] !== undefined && !(res.same_pct >= Number(opt['min-same'])))
    fails.push(`same ${res.same_pct} % < ${opt['min-same']} %`);
  if (opt['min-top1'] !== undefined && !(res.top1_pct >= Number(opt['min-top1'])))
    fails.push(`top-1 agreement ${res.top1_pct} % < ${opt['min-top1']} %`);
  if (labels && opt['max-acc-diff'] !== undefined &&
      !(Math.abs(res.acc_got - res.acc_want) <= Number(opt['max-acc-diff'])))
    fails.push(`accuracy ${res.acc_got} % vs ${res.acc_want} %`);
  if (fails.length) res.failed = fails;
  if (opt.label) res.label = opt.label;
  console.log(JSON.stringify(res));
  process.exit(fails.length ? 1 : 0);
}

try {
  main();
} catch (e) {
  console.error(`litert_compare.mjs: ${e.message}`);
  process.exit(2);
}
