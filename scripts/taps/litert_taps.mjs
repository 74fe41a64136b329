#!/usr/bin/env node
// Dumps every tensor a .tflite computes, as LiteRT (npm @litertjs/core, XNNPACK on
// WebAssembly) computes it, into an .npz in qscope's taps layout (docs/formats.md, "Taps"),
// for `taps compare FILE.npz` in qscope.
//
//   litert_taps.mjs MODEL.tflite INPUT [INPUT2 ...] OUT.npz [--scale=S] [--n=N]
//                   [--channels-last[=R,..]] [--threads=T] [--patched=PATCHED.tflite]
//     INPUT, --scale, --n, --channels-last, --threads: as tests/tflite/litert_run.mjs
//     (docs/litert.md). Every operator output of the first subgraph becomes a model output;
//     each is written under its tensor name (qscope's exporter names a value's tensor by the
//     value), its rows of every run concatenated, in its own dtype (int8 codes, float32,
//     uint8, int32; other dtypes are left out). With --channels-last, rank-R tensors are
//     moved back to qscope's (N, C, ...) order, except those whose name marks qscope's own
//     order (`::plain`, `::nc1w`). The inputs are written as fed, in qscope's order.
//     --patched also keeps the rewritten model.
//   Exit 77 with a reason when the package cannot be found (LITERT_NODE_MODULES); 2 on any
//   error.
//
// Exposing every tensor works on any .tflite without a schema compiler: a flatbuffer field
// holding a vector is an offset to it, so a new int32 vector of tensor indices appended at
// the end of the file (4-byte aligned) and the subgraph's `outputs` offset pointed at it make
// them outputs; the model's signature_defs offset is pointed at an appended empty vector, so
// the runtime takes the subgraph's outputs rather than the signature's. Nothing else moves.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { findPackage, loadRuntime, moveChannels, prepareInput, runAll, runtimeLog }
  from '../../tests/tflite/litert_load.mjs';
import { exposeAll } from './tflite_fb.mjs';

const require = createRequire(import.meta.url);
const { parseArgs } = require('../../tests/peers/args.cjs');
const { npzWrite } = require('../../tests/peers/npy.cjs');

// Whether a tensor of this name is in qscope's own order whatever its rank.
const plainOrder = (name) => /::(plain|nc1w)/.test(name);

async function main() {
  const { pos, opt } = parseArgs(process.argv.slice(2));
  if (pos.length < 3) {
    console.error('usage: litert_taps.mjs MODEL.tflite INPUT [INPUT2 ...] OUT.npz [--scale=S] ' +
                  '[--n=N] [--channels-last[=R,..]] [--threads=T] [--patched=FILE]');
    process.exit(2);
  }
  const file = pos[0], outFile = pos[pos.length - 1], inputs = pos.slice(1, -1);
  const pkg = findPackage();
  if (!pkg) {
    console.log('SKIP: @litertjs/core not found (set LITERT_NODE_MODULES to a node_modules ' +
                'folder holding it)');
    process.exit(77);
  }
  const { model, names } = exposeAll(fs.readFileSync(file));
  if (opt.patched) fs.writeFileSync(opt.patched, model);
  const lrt = await loadRuntime(pkg);
  const compiled = await lrt.loadAndCompile(model, {
    accelerator: 'wasm', cpuOptions: { numThreads: Number(opt.threads || 1) },
  });
  const inDetails = compiled.getInputDetails(), outDetails = compiled.getOutputDetails();
  if (inputs.length !== inDetails.length)
    throw new Error(`${file} has ${inDetails.length} inputs, ${inputs.length} given`);
  if (outDetails.length !== names.length)
    throw new Error(`the runtime shows ${outDetails.length} outputs, ${names.length} were set`);
  const ins = inputs.map((spec, i) => prepareInput(spec, inDetails[i], opt));
  const outs = await runAll(lrt, compiled, ins), runs = ins[0].runs;
  const entries = [];
  const add = (name, data, dims) => {
    if (!plainOrder(name)) ({ data, dims } = moveChannels(data, dims, false, opt));
    if (!entries.some((e) => e.name === name)) entries.push({ name, dims, data });
  };
  inDetails.forEach((d, i) =>
    add(d.name, ins[i].data, [ins[i].shape[0] * runs, ...ins[i].shape.slice(1)]));
  outs.forEach((o, j) => add(names[j], o.data, [o.shape[0] * runs, ...o.shape.slice(1)]));
  npzWrite(outFile, entries);
  compiled.delete();
  console.log(`${outFile}: ${entries.length} arrays, ${runs * ins[0].shape[0]} samples`);
}

main().catch((e) => {
  if (runtimeLog.length) console.error(runtimeLog.slice(-20).join('\n'));
  console.error(`litert_taps.mjs: ${e.message}`);
  process.exit(2);
});
