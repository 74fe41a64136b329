// What runs a .tflite in @litertjs/core under Node.js, shared by tests/tflite/litert_run.mjs
// and scripts/taps/litert_taps.mjs: finding the package, loading the runtime as a web worker
// would (litert_run.mjs's header says how), the channels move and the input preparation.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const { loadArray } = require('../peers/npy.cjs');
const here = path.dirname(fileURLToPath(import.meta.url));

// The @litertjs/core folder, or null.
export function findPackage() {
  const bases = [];
  if (process.env.LITERT_NODE_MODULES) bases.push(path.resolve(process.env.LITERT_NODE_MODULES));
  for (let d = here; ; d = path.dirname(d)) {
    bases.push(path.join(d, 'node_modules'));
    if (path.dirname(d) === d) break;
  }
  for (const b of bases) {
    const p = path.join(b, '@litertjs', 'core');
    if (fs.existsSync(path.join(p, 'dist', 'index.js'))) return p;
  }
  return null;
}

// The worker-style globals the package's loader and the Emscripten glue look for.
function defineWorkerGlobals(wasmDir) {
  globalThis.self = globalThis;
  globalThis.require = createRequire(path.join(wasmDir, 'glue.cjs'));
  globalThis.__dirname = wasmDir;
  globalThis.importScripts = (...urls) => {
    for (const u of urls) {
      const file = u.startsWith('file:') ? fileURLToPath(u) : u;
      globalThis.__filename = file;
      vm.runInThisContext(fs.readFileSync(file, 'utf8'), { filename: file });
    }
  };
}

// Our copy of the package's entry: the int8 row added to its dtype table and its one
// import named by absolute URL (a data: module cannot resolve a package name).
async function importPatchedCore(pkg) {
  let src = fs.readFileSync(path.join(pkg, 'dist', 'index.js'), 'utf8');
  const row = '\n  {\n    dtype: "int8",\n    typedArrayConstructor: Int8Array,\n' +
              '    elementType: ElementType.INT8\n  },';
  const table = 'var DATATYPES = Object.freeze([';
  const utilsImport = 'from "@litertjs/wasm-utils"';
  if (!src.includes(table) || !src.includes(utilsImport))
    throw new Error(`${pkg}/dist/index.js: not the layout this runner knows (2.5.x)`);
  const utils = require.resolve('@litertjs/wasm-utils', { paths: [pkg] });
  src = src.replace(table, table + row)
           .replace(utilsImport, `from ${JSON.stringify(pathToFileURL(utils).href)}`);
  return import('data:text/javascript;base64,' + Buffer.from(src).toString('base64'));
}

export const TYPED = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array };

// Moves axis 1 to the end (toLast) or the last axis to 1, for C-order DATA of shape DIMS,
// when opt['channels-last'] names DIMS' rank.
export function moveChannels(data, dims, toLast, opt) {
  const flag = opt['channels-last'];
  const ranks = flag === true ? [4] : flag ? String(flag).split(',').map(Number) : [];
  if (!ranks.includes(dims.length)) return { data, dims };
  const n = dims[0], c = toLast ? dims[1] : dims[dims.length - 1];
  const inner = data.length / (n * c);
  const out = new data.constructor(data.length);
  for (let s = 0; s < n; s++)
    for (let k = 0; k < c; k++)
      for (let i = 0; i < inner; i++) {
        const first = (s * c + k) * inner + i, last = (s * inner + i) * c + k;
        if (toLast) out[last] = data[first];
        else out[first] = data[last];
      }
  const d = toLast ? [n, ...dims.slice(2), dims[1]]
                   : [n, dims[dims.length - 1], ...dims.slice(1, -1)];
  return { data: out, dims: d };
}

// An input as the model's dtype, N samples by the model's per-sample shape.
export function prepareInput(spec, detail, opt) {
  const arr = loadArray(spec);
  let data;
  if (detail.dtype === 'float32') {
    const scale = opt.scale !== undefined ? Math.fround(Number(opt.scale)) : null;
    data = new Float32Array(arr.data.length);
    // u8 * float32 is exact in double, so fround gives the float32 product qscope computes.
    for (let i = 0; i < data.length; i++)
      data[i] = Math.fround(scale !== null ? Number(arr.data[i]) * scale : Number(arr.data[i]));
  } else if (arr.data instanceof TYPED[detail.dtype]) {
    data = arr.data;
  } else {
    throw new Error(`${spec}: the model's input ${detail.name} is ${detail.dtype}; ` +
                    `give a .npy of that dtype (this one is ${arr.descr})`);
  }
  let dims = arr.dims;
  if (opt.n && Number(opt.n) < dims[0]) {
    const per = data.length / dims[0];
    dims = [Number(opt.n), ...dims.slice(1)];
    data = data.subarray(0, dims[0] * per);
  }
  ({ data, dims } = moveChannels(data, dims, true, opt));
  const shape = Array.from(detail.shape), per = shape.slice(1).reduce((a, b) => a * b, 1);
  const batch = shape[0];
  if (batch < 1) throw new Error(`${detail.name}: dynamic batch ${batch} (write a static one)`);
  if (dims.slice(1).reduce((a, b) => a * b, 1) !== per)
    throw new Error(`${spec}: per-sample shape [${dims.slice(1)}] does not match the ` +
                    `model's [${shape.slice(1)}]`);
  if (dims[0] % batch)
    throw new Error(`${spec}: ${dims[0]} samples do not split into runs of the model's ` +
                    `batch ${batch}`);
  return { data, shape, per, runs: dims[0] / batch };
}

// Runs a compiled model once per batch of the prepared inputs `ins` (prepareInput) and
// gathers every output, all runs end to end: [{ shape, per, data }] in the runtime's order.
export async function runAll(lrt, compiled, ins) {
  const runs = ins[0].runs;
  if (ins.some((x) => x.runs !== runs)) throw new Error('the inputs differ in sample count');
  const outs = compiled.getOutputDetails().map((d) => {
    const shape = Array.from(d.shape), per = shape.reduce((a, b) => a * b, 1);
    return { shape, per, data: new TYPED[d.dtype](per * runs) };
  });
  for (let r = 0; r < runs; r++) {
    const feeds = ins.map((x) => new lrt.Tensor(
      x.data.slice(r * x.per * x.shape[0], (r + 1) * x.per * x.shape[0]), x.shape));
    const results = await compiled.run(feeds);
    results.forEach((t, k) => {
      outs[k].data.set(t.toTypedArray(), r * outs[k].per);
      t.delete();
    });
    feeds.forEach((t) => t.delete());
  }
  return outs;
}

// The runtime's setup log (environment, accelerator registry, the WebGPU and NPU probes that
// find nothing under Node), printed on every load: kept here, shown only on an error.
export const runtimeLog = [];

// Loads LiteRT from package folder pkg; returns the package's API (our patched copy).
export async function loadRuntime(pkg) {
  const wasmDir = path.join(pkg, 'wasm');
  defineWorkerGlobals(wasmDir);
  const lrt = await importPatchedCore(pkg);
  globalThis.Module = { print: (s) => runtimeLog.push(s), printErr: (s) => runtimeLog.push(s) };
  const warn = console.warn;
  console.warn = (...a) => runtimeLog.push(a.join(' '));
  await lrt.loadLiteRt(wasmDir + '/');
  console.warn = warn;
  return lrt;
}
