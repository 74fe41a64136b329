// A checked reader of .tflite flatbuffers, enough to expose every tensor as an output
// (scripts/taps/litert_taps.mjs) and to find a tensor's quantization scales (the taps test
// edits one). Every offset is checked against the file's length before it is read.
// Field numbers from the TFLite schema (tflite_schema.h in qscope says the same).
const MODEL_SUBGRAPHS = 2, MODEL_SIGNATURE_DEFS = 7;
const SUBGRAPH_TENSORS = 0, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3;
const TENSOR_TYPE = 1, TENSOR_NAME = 3, OPERATOR_OUTPUTS = 2;
const DUMPED_TYPES = new Set([0, 2, 3, 9]); // float32, int32, uint8, int8

// A checked reader of a flatbuffer held in buf.
export function reader(buf) {
  const need = (at, n) => {
    if (at < 0 || at + n > buf.length) throw new Error(`offset ${at} is outside the file`);
  };
  const u32 = (at) => (need(at, 4), buf.readUInt32LE(at));
  const table = (at) => {
    const vt = at - (need(at, 4), buf.readInt32LE(at));
    need(vt, 4);
    const vsize = buf.readUInt16LE(vt);
    // the position of field i's value, or -1 when absent
    const field = (i) => {
      if (4 + 2 * i + 2 > vsize) return -1;
      const off = (need(vt + 4 + 2 * i, 2), buf.readUInt16LE(vt + 4 + 2 * i));
      return off ? at + off : -1;
    };
    const ref = (i) => { const f = field(i); return f < 0 ? -1 : f + u32(f); };
    return { at, field, ref };
  };
  const vector = (at) => ({ n: u32(at), at: at + 4 });
  const tables = (at) => {
    const v = vector(at), out = [];
    for (let k = 0; k < v.n; k++) out.push(table(v.at + 4 * k + u32(v.at + 4 * k)));
    return out;
  };
  const ints = (at) => {
    const v = vector(at), out = [];
    for (let k = 0; k < v.n; k++) out.push((need(v.at + 4 * k, 4), buf.readInt32LE(v.at + 4 * k)));
    return out;
  };
  const string = (at) => { const v = vector(at); need(v.at, v.n); return buf.toString('utf8', v.at, v.at + v.n); };
  return { u32, table, tables, ints, string };
}

// The model with every operator output of subgraph 0 (of a dumped type) made an output.
export function exposeAll(buf) {
  const r = reader(buf);
  const model = r.table(r.u32(0));
  const subgraphs = r.tables(model.ref(MODEL_SUBGRAPHS));
  if (!subgraphs.length) throw new Error('the model has no subgraph');
  const sg = subgraphs[0];
  const tensors = r.tables(sg.ref(SUBGRAPH_TENSORS));
  const outputs = sg.ref(SUBGRAPH_OUTPUTS) >= 0 ? r.ints(sg.ref(SUBGRAPH_OUTPUTS)) : [];
  const want = [...outputs];
  for (const op of sg.ref(SUBGRAPH_OPERATORS) >= 0 ? r.tables(sg.ref(SUBGRAPH_OPERATORS)) : [])
    for (const t of op.ref(OPERATOR_OUTPUTS) >= 0 ? r.ints(op.ref(OPERATOR_OUTPUTS)) : []) {
      if (t < 0 || t >= tensors.length || want.includes(t)) continue;
      const tf = tensors[t].field(TENSOR_TYPE);
      const type = tf < 0 ? 0 : buf.readInt8(tf);
      if (DUMPED_TYPES.has(type)) want.push(t);
    }
  const outField = sg.field(SUBGRAPH_OUTPUTS);
  if (outField < 0) throw new Error('the subgraph has no outputs field to repoint');
  const pad = (4 - (buf.length % 4)) % 4;
  const vecAt = buf.length + pad, emptyAt = vecAt + 4 + 4 * want.length;
  const tail = Buffer.alloc(pad + 4 + 4 * want.length + 4);
  tail.writeUInt32LE(want.length, pad);
  want.forEach((t, k) => tail.writeInt32LE(t, pad + 4 + 4 * k));
  tail.writeUInt32LE(0, pad + 4 + 4 * want.length); // the empty signature list
  const out = Buffer.concat([buf, tail]);
  out.writeUInt32LE(vecAt - outField, outField);
  const sigField = model.field(MODEL_SIGNATURE_DEFS);
  if (sigField >= 0) out.writeUInt32LE(emptyAt - sigField, sigField);
  const names = want.map((t) => {
    const nr = tensors[t].ref(TENSOR_NAME);
    return nr >= 0 ? r.string(nr) : `tensor_${t}`;
  });
  return { model: out, names };
}

const TENSOR_QUANTIZATION = 4, QUANT_SCALE = 2;

// The file offsets of tensor NAME's float32 scales in subgraph 0 ([] when unquantized).
export function scaleOffsets(buf, name) {
  const r = reader(buf);
  const sg = r.tables(r.table(r.u32(0)).ref(MODEL_SUBGRAPHS))[0];
  for (const t of r.tables(sg.ref(SUBGRAPH_TENSORS))) {
    const nr = t.ref(TENSOR_NAME);
    if (nr < 0 || r.string(nr) !== name) continue;
    const q = t.ref(TENSOR_QUANTIZATION);
    const sr = q >= 0 ? r.table(q).ref(QUANT_SCALE) : -1;
    if (sr < 0) return [];
    const n = r.u32(sr);
    if (sr + 4 + 4 * n > buf.length) throw new Error(`${name}: scales outside the file`);
    return Array.from({ length: n }, (_, k) => sr + 4 + 4 * k);
  }
  throw new Error(`no tensor named ${name}`);
}
