#!/usr/bin/env node
// Runs an ONNX file in ONNX Runtime for Node.js on .npy inputs and writes .npy outputs,
// times it, or compares two output files. No npm dependency but onnxruntime-node, which
// is found through ORT_NODE_MODULES (a node_modules folder) or the normal resolution.
//
//   run_ort.js run MODEL.onnx OUT_PREFIX INPUT... [--threads=N] [--scale=S] [--shape=d,d]
//       INPUT is X.npy or ARCHIVE.npz:MEMBER (stored or deflated); --scale multiplies
//       every input element in float32 (the `data ... scale=` preprocessing); --shape sets
//       the per-sample shape (e.g. 1,28,28). Writes OUT_PREFIX0.npy, OUT_PREFIX1.npy, ...
//   run_ort.js bench MODEL.onnx INPUT [--threads=N] [--scale=S] [--shape=..] [--repeat=R] [--n=N]
//                    [--warmup=W]
//       Prints {"median_ms":..,"min_ms":..,"max_ms":..,"samples":..,"max_rss_kb":..} for one
//       run over the whole input (the first N samples: one batch), after W untimed runs
//       (default 1); max_rss_kb is this process's peak resident memory (scripts/bench/).
//   Every mode takes --opt=all|extended|basic|disabled, ONNX Runtime's graph optimization
//   level (default all).
//   run_ort.js compare GOT.npy WANT.npy --step=S [--min-top1=P] [--min-within=P]
//                      [--min-identical=P]
//       Top-1 agreement (argmax per row), the share of elements within one step S and the
//       share identical (within 1e-3 of a step: the same int8 code dequantized); prints
//       them as JSON and exits 1 when below the minimums (percent).
//   run_ort.js balls OUT.npy N SEED
//       Writes N seeded (N, 1, 64, 64) float32 images in the manner of qscope's synth:balls
//       (soft-edged balls on a shaded, noisy background with clutter; not the same draws):
//       inputs for det_balls, whose data qscope only generates in memory.
'use strict';
const fs = require('fs');
const path = require('path');
const { npyParse, npyWrite, loadInput } = require('../peers/npy.cjs');
const { parseArgs } = require('../peers/args.cjs');

function ort() {
  const base = process.env.ORT_NODE_MODULES;
  return require(base ? path.resolve(base, 'onnxruntime-node') : 'onnxruntime-node');
}

async function session(model, opt) {
  const threads = Number(opt.threads || 1);
  return ort().InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: opt.opt || 'all',
  });
}

async function cmdRun(pos, opt) {
  const [model, prefix, ...inputs] = pos;
  const s = await session(model, opt);
  const feeds = {};
  inputs.forEach((spec, i) => {
    const a = loadInput(spec, opt);
    feeds[s.inputNames[i]] = new (ort().Tensor)('float32', a.data, a.dims);
  });
  const out = await s.run(feeds);
  s.outputNames.forEach((name, i) => npyWrite(`${prefix}${i}.npy`, out[name].dims, out[name].data));
}

async function cmdBench(pos, opt) {
  const [model, input] = pos;
  const s = await session(model, opt);
  const a = loadInput(input, opt);
  const feeds = { [s.inputNames[0]]: new (ort().Tensor)('float32', a.data, a.dims) };
  const repeat = Number(opt.repeat || 5);
  const warmup = opt.warmup !== undefined ? Number(opt.warmup) : 1;
  for (let i = 0; i < warmup; i++) await s.run(feeds);
  const t = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    await s.run(feeds);
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((x, y) => x - y);
  console.log(JSON.stringify({ median_ms: t[Math.floor(t.length / 2)], min_ms: t[0],
                               max_ms: t[t.length - 1], samples: a.dims[0],
                               max_rss_kb: process.resourceUsage().maxRSS }));
}

function cmdCompare(pos, opt) {
  const got = npyParse(fs.readFileSync(pos[0]), pos[0]);
  const want = npyParse(fs.readFileSync(pos[1]), pos[1]);
  if (got.data.length !== want.data.length || got.dims.join() !== want.dims.join())
    throw new Error(`shapes differ: ${got.dims} vs ${want.dims}`);
  const step = Number(opt.step);
  const rows = got.dims[0], cols = got.data.length / rows;
  let agree = 0, within = 0, same = 0, maxSteps = 0;
  for (let r = 0; r < rows; r++) {
    let ag = 0, aw = 0;
    for (let c = 0; c < cols; c++) {
      const g = got.data[r * cols + c], w = want.data[r * cols + c];
      if (g > got.data[r * cols + ag]) ag = c;
      if (w > want.data[r * cols + aw]) aw = c;
      const d = Math.abs(g - w) / step;
      if (d <= 1.0 + 1e-3) within++;
      if (d <= 1e-3) same++;
      if (d > maxSteps) maxSteps = d;
    }
    if (ag === aw) agree++;
  }
  const res = { samples: rows, top1_agreement_pct: 100 * agree / rows,
                within_one_step_pct: 100 * within / got.data.length,
                identical_pct: 100 * same / got.data.length,
                max_diff_steps: maxSteps, step };
  console.log(JSON.stringify(res));
  const ok = res.top1_agreement_pct >= Number(opt['min-top1'] || 0) &&
             res.within_one_step_pct >= Number(opt['min-within'] || 0) &&
             res.identical_pct >= Number(opt['min-identical'] || 0);
  process.exitCode = ok ? 0 : 1;
}

// ---- seeded ball images (a small PRNG: mulberry32, and Box-Muller for the noise)

function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const range = (lo, hi) => lo + (hi - lo) * next();
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, range, normal };
}

function cmdBalls(pos) {
  const [file, nstr, seedstr] = pos;
  const n = Number(nstr), side = 64, r = rng(Number(seedstr));
  const f = new Float32Array(n * side * side);
  for (let s = 0; s < n; s++) {
    const img = f.subarray(s * side * side, (s + 1) * side * side);
    const level = r.range(0.1, 0.35), gx = r.range(-0.05, 0.05), gy = r.range(-0.05, 0.05);
    for (let i = 0; i < side; i++)
      for (let j = 0; j < side; j++)
        img[i * side + j] = level + gx * (j / 31.5 - 1) + gy * (i / 31.5 - 1);
    for (let c = 0; c < 4; c++) { // clutter: boxes that darken or brighten
      const add = r.next() < 0.3 ? r.range(-0.6, -0.15) : r.range(0.15, 0.6);
      const x0 = Math.floor(r.range(0, 56)), y0 = Math.floor(r.range(0, 56));
      const w = Math.floor(r.range(2, 12)), h = Math.floor(r.range(1, 4));
      for (let i = y0; i < Math.min(side, y0 + h); i++)
        for (let j = x0; j < Math.min(side, x0 + w); j++) img[i * side + j] += add;
    }
    if (r.next() < 0.25) { // glare: a bright streak
      const add = r.range(4, 12), row = Math.floor(r.range(0, 63));
      for (let j = 0; j < side; j++) img[row * side + j] += add;
    }
    const balls = 1 + Math.floor(r.next() * 6);
    for (let b = 0; b < balls; b++) {
      const d = r.next() < 0.5 ? r.range(2, 15) : r.range(15, 20), rad = d / 2;
      const cx = r.range(rad, side - rad), cy = r.range(rad, side - rad);
      const c = r.range(0.15, 0.6), edge = r.range(0.6, 1.4);
      for (let i = 0; i < side; i++)
        for (let j = 0; j < side; j++) {
          const dist = Math.hypot(j + 0.5 - cx, i + 0.5 - cy);
          const cover = Math.min(1, Math.max(0, (rad - dist) / edge + 0.5));
          if (cover > 0)
            img[i * side + j] = (1 - cover) * img[i * side + j] +
              cover * (level + c * (1 - 0.25 * (dist / rad) ** 2));
        }
    }
    for (let i = 0; i < side * side; i++) img[i] += 0.03 * r.normal();
  }
  npyWrite(file, [n, 1, side, side], f);
}

async function main() {
  const { pos, opt } = parseArgs(process.argv.slice(2));
  const cmd = pos.shift();
  if (cmd === 'run') await cmdRun(pos, opt);
  else if (cmd === 'bench') await cmdBench(pos, opt);
  else if (cmd === 'compare') cmdCompare(pos, opt);
  else if (cmd === 'balls') cmdBalls(pos);
  else throw new Error('usage: run_ort.js run|bench|compare|balls ...');
}

main().catch((e) => { console.error(`run_ort.js: ${e.message}`); process.exit(2); });
