#!/usr/bin/env node
// The LiteRT runner (litert_run.mjs) on hand-made .tflite files
// (scripts/fixtures/gen_tflite_fixtures.py), independent of qscope's exporter. Every value
// is a small integer or a dyadic fraction, so float32 and int8 results are exact and are
// required exactly:
//   fc_add_f32: two float inputs, two runs of the model's batch 1 (N = 2 samples);
//   fc_i8:      int8 input and output through the runner's own int8 dtype row, with
//               saturation at both ends;
//   add_c_nhwc: --channels-last puts qscope's axis 1 (N, C, H, W) where TFLite keeps the
//               channels and moves the output back;
// and the refusals: a float .npy for an int8 input, a per-sample shape unlike the model's,
// a missing package (exit 77).
// Needs LITERT_NODE_MODULES (tests/tflite/litert_runner_test.sh sets it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { npyWrite, loadArray } = require('../peers/npy.cjs');
const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '..', 'fixtures', 'tflite');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'litert-runner-'));
const W = [[1, -2, 0, 1], [2, 1, -1, 0], [0, 0, 3, -1]];
let failures = 0, passes = 0;

function run(args, env = process.env) {
  return spawnSync(process.execPath, [path.join(here, 'litert_run.mjs'), ...args],
                   { encoding: 'utf8', env });
}

function check(name, ok, detail) {
  if (ok) passes++;
  else failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ': ' + detail}`);
}

function expectRun(name, args, outs) {
  const r = run(args);
  if (r.status !== 0) return check(name, false, `exit ${r.status}: ${r.stderr.trim()}`);
  const prefix = args.filter((a) => !a.startsWith('--')).pop();
  outs.forEach(([dims, want, ctor], k) => {
    const got = loadArray(`${prefix}${k}.npy`);
    const same = got.dims.join() === dims.join() && got.data instanceof ctor &&
                 want.every((v, i) => got.data[i] === v);
    check(`${name} output ${k}`, same,
          `got ${got.descr} [${got.dims}] ${Array.from(got.data)}, want [${dims}] ${want}`);
  });
}

function expectFail(name, args, status, text, env) {
  const r = run(args, env);
  const said = r.stdout + r.stderr;
  check(name, r.status === status && said.includes(text),
        `exit ${r.status}, want ${status} saying '${text}': ${said.trim().slice(-300)}`);
}

const f = (x) => path.join(tmp, x);
const xs = [[1, 2, 3, 4], [-1, 0, 2, 5]], zs = [[0.25, 0, 1], [1, 1, 1]];
npyWrite(f('x.npy'), [2, 4], Float32Array.from(xs.flat()));
npyWrite(f('z.npy'), [2, 3], Float32Array.from(zs.flat()));
const fc = (x, bias) => W.map((row, o) => row.reduce((s, w, i) => s + w * x[i], bias[o]));
const wantF = xs.map((x, s) => fc(x, [1, -2, 0.5]).map((v, o) => v + zs[s][o])).flat();
expectRun('fc_add_f32', [path.join(fixtures, 'fc_add_f32.tflite'), f('x.npy'), f('z.npy'),
                         f('f_')], [[[2, 3], wantF, Float32Array]]);

const xi = [[1, 2, 3, 4], [-100, 100, 50, -50], [127, -128, 0, 0]];
npyWrite(f('xi.npy'), [3, 4], Int8Array.from(xi.flat()));
const wantI = xi.map((x) => fc(x, [1, -2, 0]).map((v) => Math.max(-128, Math.min(127, v))));
expectRun('fc_i8', [path.join(fixtures, 'fc_i8.tflite'), f('xi.npy'), f('i_')],
          [[[3, 3], wantI.flat(), Int8Array]]);

// (N, C, H, W) = (2, 3, 2, 2): element (n, c, h, w) holds n*1000 + c*4 + h*2 + w + 0.5
const nchw = Float32Array.from({ length: 24 }, (_, i) => Math.floor(i / 12) * 1000 + i % 12 + 0.5);
npyWrite(f('img.npy'), [2, 3, 2, 2], nchw);
const wantC = Array.from(nchw, (v, i) => v + [0, 10, 100][Math.floor(i / 4) % 3]);
expectRun('add_c_nhwc --channels-last', [path.join(fixtures, 'add_c_nhwc.tflite'),
          f('img.npy'), f('c_'), '--channels-last'], [[[2, 3, 2, 2], wantC, Float32Array]]);

expectFail('float .npy for an int8 input', [path.join(fixtures, 'fc_i8.tflite'), f('x.npy'),
           f('e_')], 2, 'is int8; give a .npy of that dtype');
npyWrite(f('x3.npy'), [1, 3], Float32Array.from([1, 2, 3]));
expectFail('per-sample shape mismatch', [path.join(fixtures, 'fc_add_f32.tflite'), f('x3.npy'),
           f('z.npy'), f('e_')], 2, 'does not match');
const noPackage = { ...process.env, LITERT_NODE_MODULES: tmp };
expectFail('no package: skip', [path.join(fixtures, 'fc_i8.tflite'), f('xi.npy'), f('e_')], 77,
           'SKIP: @litertjs/core not found', noPackage);

fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
