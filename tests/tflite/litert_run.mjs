#!/usr/bin/env node
// Runs a .tflite file in the official LiteRT runtime for the web (npm @litertjs/core:
// LiteRT compiled to WebAssembly with XNNPACK, the CPU path phones and desktops use) under
// Node.js, without a browser, on .npy inputs, and writes each output as .npy.
//
//   litert_run.mjs MODEL.tflite INPUT [INPUT2 ...] OUT_PREFIX [--scale=S] [--n=N]
//                  [--channels-last[=R,..]] [--threads=T]
//     INPUT is X.npy, ARCHIVE.npz:MEMBER or ARCHIVE.npz (member x): N samples, one per
//     row. A float32 model input takes any numeric .npy, converted to float32 (--scale
//     multiplies in float32 first, the `data ... scale=` preprocessing); an int8, uint8 or
//     int32 model input takes a .npy of exactly that dtype, unchanged (int8 IO files).
//     The model's static batch B splits the N samples into N/B runs (N % B must be 0).
//     --channels-last[=R,..]: an input of rank R (default 4) arrives channels-first
//     (N, C, ...) as qscope keeps it and is moved to channels-last (N, ..., C) as TFLite
//     expects; an output of rank R is moved back, so the .npy files compare with qscope's
//     own element by element. Give 3,4 for a model whose rank-3 inputs feed 1-D convs;
//     leave 3 out where a rank-3 input is a set of rows (deepsets' peers). OUT_PREFIX0.npy, OUT_PREFIX1.npy, ...: the outputs in the model's order and
//     dtype (float32, int8, uint8, int32).
//   Exit 77 with a reason when the package cannot be found (LITERT_NODE_MODULES, a
//   node_modules folder, or the normal resolution from this folder); 2 on any error.
//
// Loading without a browser: the package's loader (@litertjs/wasm-utils) runs the
// Emscripten glue through `importScripts` when it exists (a web worker), then reads
// `self.ModuleFactory`. We define `self` (= globalThis) and `importScripts` (evaluate the
// file in this context), and `require`, `__dirname`, `__filename` for the glue, which then
// takes its Node.js path and reads the .wasm from the package folder with fs.
//
// int8 IO: the package's dtype table (dist/index.js, DATATYPES) lists float32, int32 and
// uint8 only, and refuses a model whose input or output tensor is int8 (getDataType throws
// while the model's tensor details are made). We import our own in-memory copy of
// dist/index.js with one row added (int8, Int8Array, element type INT8 = 9); the package
// files are not touched.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { findPackage, loadRuntime, moveChannels, prepareInput, runAll, runtimeLog }
  from './litert_load.mjs';

const require = createRequire(import.meta.url);
const { parseArgs } = require('../peers/args.cjs');
const { npyWrite } = require('../peers/npy.cjs');

function usage() {
  console.error('usage: litert_run.mjs MODEL.tflite INPUT [INPUT2 ...] OUT_PREFIX ' +
                '[--scale=S] [--n=N] [--channels-last[=R,..]] [--threads=T]');
  process.exit(2);
}

async function main() {
  const { pos, opt } = parseArgs(process.argv.slice(2));
  if (pos.length < 3) usage();
  const model = pos[0], prefix = pos[pos.length - 1], inputs = pos.slice(1, -1);
  const pkg = findPackage();
  if (!pkg) {
    console.log('SKIP: @litertjs/core not found (set LITERT_NODE_MODULES to a node_modules ' +
                'folder holding it)');
    process.exit(77);
  }
  const lrt = await loadRuntime(pkg);
  const compiled = await lrt.loadAndCompile(fs.readFileSync(model), {
    accelerator: 'wasm', cpuOptions: { numThreads: Number(opt.threads || 1) },
  });
  const inDetails = compiled.getInputDetails();
  if (inputs.length !== inDetails.length)
    throw new Error(`${model} has ${inDetails.length} inputs, ${inputs.length} given`);
  const ins = inputs.map((spec, i) => prepareInput(spec, inDetails[i], opt));
  const outs = await runAll(lrt, compiled, ins), runs = ins[0].runs;
  outs.forEach((o, k) => {
    let dims = [o.shape[0] * runs, ...o.shape.slice(1)], data = o.data;
    ({ data, dims } = moveChannels(data, dims, false, opt));
    npyWrite(`${prefix}${k}.npy`, dims, data);
  });
  compiled.delete();
}

main().catch((e) => {
  if (runtimeLog.length) console.error(runtimeLog.slice(-20).join('\n'));
  console.error(`litert_run.mjs: ${e.message}`);
  process.exit(2);
});
