// .npy and .npz reading and writing for the peer-runtime runners (tests/onnx/run_ort.js,
// tests/tflite/litert_run.mjs): no npm dependency, C order only.
'use strict';
const fs = require('fs');
const zlib = require('zlib');

// descr -> [typed array, bytes per element]
const DTYPES = {
  '<f4': [Float32Array, 4], '<f8': [Float64Array, 8], '|u1': [Uint8Array, 1],
  '|i1': [Int8Array, 1], '<i4': [Int32Array, 4], '<i8': [BigInt64Array, 8],
};

// Parses a .npy (versions 1-3) held in BUF: { dims, data (a typed array), descr }.
function npyParse(buf, what) {
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new Error(`${what}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${what}: bad header ${header}`);
  if (fortran[1] === 'True') throw new Error(`${what}: Fortran order is not supported`);
  const dt = DTYPES[descr[1]];
  if (!dt) throw new Error(`${what}: dtype ${descr[1]} is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length < off + n * dt[1]) throw new Error(`${what}: data is short`);
  const bytes = buf.subarray(off, off + n * dt[1]);
  const copy = new Uint8Array(bytes); // aligned copy
  return { dims, data: new dt[0](copy.buffer, 0, n), descr: descr[1] };
}

// The .npy bytes of ARR (a typed array of a DTYPES kind) of shape DIMS.
function npyBytes(dims, arr, what) {
  const descr = Object.keys(DTYPES).find((k) => arr instanceof DTYPES[k][0]);
  if (!descr) throw new Error(`${what}: cannot write a ${arr.constructor.name}`);
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1;
  h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  const body = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
  return Buffer.concat([h, Buffer.from(header, 'latin1'), body]);
}

// Writes ARR (a typed array of a DTYPES kind) as a version-1 .npy of shape DIMS, through a
// temporary file so a reader never sees half of it.
function npyWrite(file, dims, arr) {
  fs.writeFileSync(file + '.tmp', npyBytes(dims, arr, file));
  fs.renameSync(file + '.tmp', file);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Writes a stored (uncompressed) .npz of ENTRIES, [{ name, dims, data }] (member NAME.npy),
// through a temporary file. No zip64: the archive stays under 4 GiB.
function npzWrite(file, entries) {
  const parts = [], central = [];
  let at = 0;
  for (const e of entries) {
    const body = npyBytes(e.dims, e.data, `${file}:${e.name}`);
    const name = Buffer.from(e.name + '.npy', 'utf8');
    const crc = crc32(body);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names in UTF-8
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(body.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(0x0800, 8);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(body.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(at, 42);
    parts.push(local, name, body);
    central.push(cen, name);
    at += 30 + name.length + body.length;
    if (at > 0xffffffff) throw new Error(`${file}: over 4 GiB (no zip64 here)`);
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(at, 16);
  const fd = fs.openSync(file + '.tmp', 'w');
  for (const b of [...parts, cd, end]) fs.writeSync(fd, b);
  fs.closeSync(fd);
  fs.renameSync(file + '.tmp', file);
}

// One member of a .npz (zip: stored or deflated), parsed as .npy.
function npzMember(file, member) {
  const buf = fs.readFileSync(file);
  const want = member.endsWith('.npy') ? member : member + '.npy';
  // The central directory gives reliable sizes (local headers may defer them).
  let eocd = -1;
  for (let i = buf.length - 22; i >= 0 && i >= buf.length - 65558; i--)
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw new Error(`${file}: not a zip archive`);
  let p = buf.readUInt32LE(eocd + 16);
  const count = buf.readUInt16LE(eocd + 10);
  for (let k = 0; k < count; k++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const method = buf.readUInt16LE(p + 10), csize = buf.readUInt32LE(p + 20);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30);
    const clen = buf.readUInt16LE(p + 32), local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nlen);
    if (name === want) {
      const ln = buf.readUInt16LE(local + 26), lx = buf.readUInt16LE(local + 28);
      const data = buf.subarray(local + 30 + ln + lx, local + 30 + ln + lx + csize);
      const raw = method === 0 ? data : method === 8 ? zlib.inflateRawSync(data) : null;
      if (!raw) throw new Error(`${file}:${want}: compression method ${method}`);
      return npyParse(raw, `${file}:${want}`);
    }
    p += 46 + nlen + xlen + clen;
  }
  throw new Error(`${file}: no member ${want}`);
}

// X.npy, ARCHIVE.npz:MEMBER or ARCHIVE.npz (member x), as stored.
function loadArray(spec) {
  const colon = spec.lastIndexOf(':');
  return spec.includes('.npz:') ? npzMember(spec.slice(0, colon), spec.slice(colon + 1))
    : spec.endsWith('.npz') ? npzMember(spec, 'x') : npyParse(fs.readFileSync(spec), spec);
}

// An input as float32. opt.scale multiplies every element in float32 (the `data ... scale=`
// preprocessing); opt.n keeps the first N samples; opt.shape (d,d,..) sets the per-sample
// shape.
function loadInput(spec, opt) {
  const arr = loadArray(spec);
  const n = arr.data.length;
  const f = new Float32Array(n);
  const scale = opt.scale !== undefined ? Math.fround(Number(opt.scale)) : null;
  // u8 * float32 is exact in double, so fround gives the float32 product qscope computes.
  for (let i = 0; i < n; i++) {
    const v = Number(arr.data[i]);
    f[i] = scale !== null ? Math.fround(v * scale) : Math.fround(v);
  }
  let dims = arr.dims;
  if (opt.n) { // the first N samples
    const per = n / dims[0], keep = Math.min(Number(opt.n), dims[0]);
    dims = [keep, ...dims.slice(1)];
    return finishShape({ dims, data: f.subarray(0, keep * per) }, opt);
  }
  return finishShape({ dims, data: f }, opt);
}

function finishShape(a, opt) {
  let dims = a.dims;
  const f = a.data, n = f.length;
  if (opt.shape) {
    const s = opt.shape.split(',').map(Number);
    dims = [n / s.reduce((x, y) => x * y, 1), ...s];
  }
  return { dims, data: f };
}

module.exports = { DTYPES, npyParse, npyWrite, npzWrite, npzMember, loadArray, loadInput };
