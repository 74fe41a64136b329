# Sourced by the ONNX Runtime peer tests: finds onnxruntime-node (installed from npm into
# BUILD/npm on first use, never into the source tree) and exports ORT_NODE_MODULES for
# run_ort.js; exits 77 (skipped) with a reason when node, npm or the package cannot be had.
# Needs $build (an absolute build directory).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node or npm not found (scripts/setup.sh --test installs nodejs and npm)"
  exit 77
fi
mods="$build/npm/node_modules"
if [ ! -d "$mods/onnxruntime-node" ]; then
  echo "installing onnxruntime-node into $build/npm"
  if ! timeout 600 npm install --prefix "$build/npm" --ignore-scripts --no-audit --no-fund \
       onnxruntime-node >"$build/npm-install.log" 2>&1; then
    echo "SKIP: npm install onnxruntime-node failed:"
    tail -5 "$build/npm-install.log"
    exit 77
  fi
fi
export ORT_NODE_MODULES="$mods"
if ! node -e 'require(require("path").resolve(process.env.ORT_NODE_MODULES, "onnxruntime-node"))' \
     2>"$build/ort-load.log"; then
  echo "SKIP: onnxruntime-node does not load here:"
  tail -3 "$build/ort-load.log"
  exit 77
fi
