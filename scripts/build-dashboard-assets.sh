#!/usr/bin/env bash
# Rebuild the dashboard's vendored browser libraries (run by hand; the results are committed, so
# neither installing rillet nor serving the page needs npm or the network).
#   uPlot       -> static/vendor/uPlot.iife.min.js, uPlot.min.css, LICENSE.uPlot
#   CodeMirror 6 (+ SQL language) -> one esbuild ESM bundle static/vendor/codemirror.js
#               and the licences of every package bundled into it, in LICENSE.codemirror
# Needs node and npm. Versions are pinned here; the npm `codemirror` "latest" tag is v5, so 6
# is asked for explicitly.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/rillet/dashboard/static/vendor
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/package.json" <<'JSON'
{"name": "rillet-dashboard-assets", "private": true, "version": "0.0.0"}
JSON
cat > "$work/entry.js" <<'JS'
export { EditorView, basicSetup } from "codemirror";
export { EditorState, Compartment } from "@codemirror/state";
export { keymap } from "@codemirror/view";
export { sql, StandardSQL, PostgreSQL } from "@codemirror/lang-sql";
export { setDiagnostics, lintGutter } from "@codemirror/lint";
export { oneDark } from "@codemirror/theme-one-dark";
JS
(
  cd "$work"
  npm install --silent --no-audit --no-fund \
    uplot@1.6.32 codemirror@6.0.2 @codemirror/state@6 @codemirror/view@6 \
    @codemirror/lang-sql@6 @codemirror/lint@6 @codemirror/theme-one-dark@6 esbuild@0.28.2
  npx esbuild entry.js --bundle --format=esm --minify --legal-comments=none \
    --outfile=codemirror.js
)
cp "$work/codemirror.js" "$out/codemirror.js"
cp "$work/node_modules/uplot/dist/uPlot.iife.min.js" "$out/uPlot.iife.min.js"
cp "$work/node_modules/uplot/dist/uPlot.min.css" "$out/uPlot.min.css"
cp "$work/node_modules/uplot/LICENSE" "$out/LICENSE.uPlot"

# every package that ends up in the bundle: CodeMirror's own and its dependencies
{
  echo "Licences of the packages bundled into codemirror.js (built by"
  echo "scripts/build-dashboard-assets.sh with esbuild)."
  for dir in "$work"/node_modules/codemirror "$work"/node_modules/@codemirror/* \
    "$work"/node_modules/@lezer/* "$work"/node_modules/style-mod \
    "$work"/node_modules/w3c-keyname "$work"/node_modules/crelt \
    "$work"/node_modules/@marijn/*; do
    [ -d "$dir" ] || continue
    name=$(node -p "const p=require('$dir/package.json'); p.name+'@'+p.version+' ('+p.license+')'")
    echo
    echo "==== $name"
    lic=$(ls "$dir"/LICENSE* "$dir"/LICENCE* 2>/dev/null | head -1 || true)
    if [ -n "$lic" ]; then cat "$lic"; else echo "(no licence file in the package)"; fi
  done
} > "$out/LICENSE.codemirror"
ls -l "$out"
