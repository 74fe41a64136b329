// Command-line arguments of the peer runners: `--key=value` and bare `--flag` (true) into
// opt, the rest in order into pos.
'use strict';

function parseArgs(argv) {
  const pos = [], opt = {};
  for (const a of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (m) opt[m[1]] = m[2] === undefined ? true : m[2];
    else pos.push(a);
  }
  return { pos, opt };
}

module.exports = { parseArgs };
