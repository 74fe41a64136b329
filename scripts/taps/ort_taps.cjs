#!/usr/bin/env node
// Dumps the intermediate values of an ONNX model as ONNX Runtime (onnxruntime-node) computes
// them into an .npz in qscope's taps layout (docs/formats.md, "Taps"), for
// `taps compare FILE.npz` in qscope.
//
//   ort_taps.cjs MODEL.onnx OUT.npz INPUT [INPUT2 ...] [--scale=S] [--shape=d,d] [--n=N]
//                [--threads=T] [--opt=all|extended|basic|disabled] [--all]
//     INPUT, --scale, --shape, --threads, --opt: as tests/onnx/run_ort.js (one run over all
//     the samples; --n keeps the first N). Every node output becomes a graph output, except
//     (without --all) a DequantizeLinear's output, a QuantizeLinear's float input and the
//     values before it through a Relu or Clip: what ONNX Runtime's QDQ fusion folds into
//     QLinearConv / QGemm, where a graph output would stop the fusion and change the
//     arithmetic being dumped. A value
//     named V::int8 (qscope's QDQ export names V's QuantizeLinear output so) is written as V,
//     its int8 codes; every other value under its own name. float32, float64, int8, uint8,
//     int32 and int64 values are written; other dtypes are left out. The inputs are written
//     as fed.
//   Exit 77 with a reason when onnxruntime-node cannot be loaded (ORT_NODE_MODULES); 2 on
//   any error.
//
// Adding outputs works on any .onnx without protobuf tooling: GraphProto's `output` is a
// repeated field, so ValueInfoProto entries appended at the end of the graph's bytes (field
// 12, each holding only a name) extend it; the ModelProto is written again with the graph
// field's new length, every other field copied byte for byte.
'use strict';
const fs = require('fs');
const path = require('path');
const { npzWrite, loadInput, DTYPES } = require('../../tests/peers/npy.cjs');
const { parseArgs } = require('../../tests/peers/args.cjs');

const MODEL_GRAPH = 7, GRAPH_NODE = 1, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12;
const NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_OP_TYPE = 4, VALUEINFO_NAME = 1;

// The fields of a protobuf message in buf[start, end): [{ num, wire, at, end, value }],
// `at` the tag's offset, `end` the field's; length-delimited ones with [vstart, vend).
function fields(buf, start = 0, end = buf.length) {
  const out = [];
  let p = start;
  const varint = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      if (p >= end) throw new Error(`a varint runs past offset ${end}`);
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
      if (shift > 63n) throw new Error('a varint longer than 10 bytes');
    }
  };
  while (p < end) {
    const at = p, tag = varint(), num = Number(tag >> 3n), wire = Number(tag & 7n);
    const f = { num, wire, at };
    if (wire === 0) f.value = varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const len = Number(varint());
      f.vstart = p;
      f.vend = p + len;
      p += len;
    } else throw new Error(`wire type ${wire} at offset ${at}`);
    if (p > end) throw new Error(`a field at offset ${at} runs past its message`);
    f.end = p;
    out.push(f);
  }
  return out;
}

const strings = (buf, fs_, num) =>
  fs_.filter((f) => f.num === num && f.wire === 2).map((f) => buf.toString('utf8', f.vstart, f.vend));

function varintBytes(n) {
  const b = [];
  do {
    b.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(b);
}
const lenField = (num, body) => Buffer.concat([varintBytes(num * 8 + 2), varintBytes(body.length), body]);

// The model with the chosen intermediate values added as graph outputs, and their names.
function exposeValues(buf, all) {
  const top = fields(buf);
  const g = top.filter((f) => f.num === MODEL_GRAPH && f.wire === 2);
  if (g.length !== 1) throw new Error(`expected one graph field, found ${g.length}`);
  const gf = fields(buf, g[0].vstart, g[0].vend);
  const outputs = new Set(gf.filter((f) => f.num === GRAPH_OUTPUT && f.wire === 2)
    .map((f) => strings(buf, fields(buf, f.vstart, f.vend), VALUEINFO_NAME)[0]));
  const inputs = new Set(gf.filter((f) => f.num === GRAPH_INPUT && f.wire === 2)
    .map((f) => strings(buf, fields(buf, f.vstart, f.vend), VALUEINFO_NAME)[0]));
  const nodes = gf.filter((f) => f.num === GRAPH_NODE && f.wire === 2).map((f) => {
    const nf = fields(buf, f.vstart, f.vend);
    return { op: strings(buf, nf, NODE_OP_TYPE)[0] || '', inputs: strings(buf, nf, NODE_INPUT),
             outputs: strings(buf, nf, NODE_OUTPUT) };
  });
  // the values a QDQ group fuses: a QuantizeLinear's input, and back from it through a
  // Relu or Clip (fused as the kernel's clamp) to the linear op's own output
  const fused = new Set(nodes.filter((n) => n.op === 'QuantizeLinear').map((n) => n.inputs[0]));
  for (let grew = true; grew;) {
    grew = false;
    for (const n of nodes)
      if ((n.op === 'Relu' || n.op === 'Clip') && fused.has(n.outputs[0]) && !fused.has(n.inputs[0])) {
        fused.add(n.inputs[0]);
        grew = true;
      }
  }
  const added = [];
  for (const n of nodes)
    for (const o of n.outputs) {
      if (!o || outputs.has(o) || inputs.has(o) || added.includes(o)) continue;
      if (!all && (n.op === 'DequantizeLinear' || fused.has(o))) continue;
      added.push(o);
    }
  const extra = added.map((name) =>
    lenField(GRAPH_OUTPUT, lenField(VALUEINFO_NAME, Buffer.from(name, 'utf8'))));
  const graph = Buffer.concat([buf.subarray(g[0].vstart, g[0].vend), ...extra]);
  const parts = top.map((f) => (f === g[0] ? lenField(MODEL_GRAPH, graph) : buf.subarray(f.at, f.end)));
  return { model: Buffer.concat(parts), added };
}

function ort() {
  const base = process.env.ORT_NODE_MODULES;
  return require(base ? path.resolve(base, 'onnxruntime-node') : 'onnxruntime-node');
}

// The key a value is written under: V for V::int8 unless V itself is dumped.
function keyOf(name, names) {
  const m = /^(.*)::int8$/.exec(name);
  return m && !names.has(m[1]) ? m[1] : name;
}

const writable = (data) => Object.values(DTYPES).some(([T]) => data instanceof T);

async function main() {
  const { pos, opt } = parseArgs(process.argv.slice(2));
  if (pos.length < 3) {
    console.error('usage: ort_taps.cjs MODEL.onnx OUT.npz INPUT [INPUT2 ...] [--scale=S] ' +
                  '[--shape=d,d] [--n=N] [--threads=T] [--opt=LEVEL] [--all]');
    process.exit(2);
  }
  const [file, outFile, ...specs] = pos;
  let rt;
  try {
    rt = ort();
  } catch (e) {
    console.log(`SKIP: onnxruntime-node cannot be loaded (${e.message.split('\n')[0]}); set ` +
                'ORT_NODE_MODULES to a node_modules folder holding it');
    process.exit(77);
  }
  const { model, added } = exposeValues(fs.readFileSync(file), !!opt.all);
  const threads = Number(opt.threads || 1);
  const s = await rt.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: opt.opt || 'all',
  });
  const feeds = {}, entries = [];
  specs.forEach((spec, i) => {
    const a = loadInput(spec, opt);
    let { data, dims } = a;
    if (opt.n && Number(opt.n) < dims[0]) {
      const per = data.length / dims[0];
      dims = [Number(opt.n), ...dims.slice(1)];
      data = data.subarray(0, dims[0] * per);
    }
    feeds[s.inputNames[i]] = new rt.Tensor('float32', data, dims);
    entries.push({ name: s.inputNames[i], dims, data });
  });
  const out = await s.run(feeds);
  const dumped = new Set(s.outputNames.filter((n) => writable(out[n].data)));
  for (const name of s.outputNames) {
    if (!dumped.has(name)) continue;
    const key = keyOf(name, dumped);
    if (!entries.some((e) => e.name === key))
      entries.push({ name: key, dims: out[name].dims, data: out[name].data });
  }
  npzWrite(outFile, entries);
  console.log(`${outFile}: ${entries.length} arrays (${added.length} values added as outputs)`);
}

main().catch((e) => { console.error(`ort_taps.cjs: ${e.message}`); process.exit(2); });
