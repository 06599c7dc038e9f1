#!/usr/bin/env bash
# Fetch the front end's libraries from npm at pinned versions, check each tarball against its
# pinned integrity, and copy their dist files into web/vendor (with VENDOR.md listing them).
# The pages load nothing from any other host: government intranets have no internet.
# Usage: web/vendor.sh            (needs npm and the npm registry, or an npm mirror via .npmrc)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# package@version  integrity (sha512, as `npm view PKG@VER dist.integrity` prints)  licence
PINS=(
  "leaflet@1.9.4 sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA== BSD-2-Clause"
  "@geoman-io/leaflet-geoman-free@2.20.2 sha512-KQpSe0VKyuVCudq/08rMjJW1vvIwFldTwBny2wZ7ABcyyUAP7/eoFo967hCu9yRqAAHb4QOxC6gY5dGqttY68g== MIT"
  "swagger-ui-dist@5.35.0 sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ== Apache-2.0"
  "redoc@2.5.2 sha512-sTJfItvRkcDTojB6wdLN4M+Ua6mlZwElV21Tf8Mn7IbQF/1Os6GvgQpZyLWPGZZHbhy7GC1Or1hTMHfz1vKh5A== MIT"
  "pbf@4.0.1 sha512-SuLdBvS42z33m8ejRbInMapQe8n0D3vN/Xd5fmWM3tufNgRQFBpaW2YVJxQZV4iPNqb0vEFvssMEo5w9c6BTIA== BSD-3-Clause"
  "@mapbox/vector-tile@2.0.4 sha512-AkOLcbgGTdXScosBWwmmD7cDlvOjkg/DetGva26pIRiZPdeJYjYKarIlb4uxVzi6bwHO6EWH82eZ5Nuv4T5DUg== BSD-3-Clause"
  "@mapbox/point-geometry@1.1.0 sha512-YGcBz1cg4ATXDCM/71L9xveh4dynfGmcLDqufR+nQQy3fKwsAZsWd/x4621/6uJaeB9mwOHE6hPeDgXz9uViUQ== ISC"
  "axe-core@4.14.1 sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ== MPL-2.0"
)
# Tools run here, never served: uglify-js (no dependencies, so the one pinned tarball is all
# that runs) minifies Leaflet's ES module, which npm ships unminified only (its minified
# dist/leaflet.js is a UMD script, not a module).
TOOLS=(
  "uglify-js@3.19.3 sha512-v3Xu+yuwBXisp6QYTcH4UbH+xYJXqnq2m/LtQVWKWzYc1iehYnLixoQDN9FH6/j9/oybfd6W9Ghwkl8+UMKTKQ== BSD-2-Clause"
)
# package → dist files to copy (relative to the package root) and the folder under vendor/.
declare -A FILES=(
  [leaflet]="dist/leaflet-src.esm.js dist/leaflet.css dist/images/layers.png dist/images/layers-2x.png dist/images/marker-icon.png dist/images/marker-icon-2x.png dist/images/marker-shadow.png LICENSE"
  [@geoman-io/leaflet-geoman-free]="dist/leaflet-geoman.js dist/leaflet-geoman.css LICENSE"
  [swagger-ui-dist]="swagger-ui-bundle.js swagger-ui.css favicon-32x32.png oauth2-redirect.html LICENSE NOTICE"
  [redoc]="bundles/redoc.standalone.js LICENSE"
  [axe-core]="axe.min.js LICENSE"
  [pbf]="index.js LICENSE"
  [@mapbox/vector-tile]="index.js LICENSE.txt"
  [@mapbox/point-geometry]="index.js LICENSE"
)
# /docs and /redoc (the OpenAPI pages) load their scripts from here too, not from a CDN.
# axe-core is for the browser tests only (tests/web/test_accessibility.py); no page loads it.
declare -A DIRS=([leaflet]=leaflet [@geoman-io/leaflet-geoman-free]=geoman
  [swagger-ui-dist]=swagger-ui [redoc]=redoc [axe-core]=axe
  [pbf]=pbf [@mapbox/vector-tile]=vector-tile [@mapbox/point-geometry]=point-geometry)
# pbf, vector-tile and point-geometry (ES modules, 34 KB) decode the base map's vector tiles
# for js/basemap.js.

command -v npm >/dev/null || { echo "web/vendor.sh needs npm (Debian: apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=vendor.new
rm -rf "$out"
mkdir -p "$out"
{
  echo "# Vendored front-end libraries"
  echo
  echo "Written by \`web/vendor.sh\` from the npm registry; do not edit. Each tarball was checked"
  echo "against the integrity pinned in the script."
  echo
  echo "| package | version | licence | files |"
  echo "|---|---|---|---|"
} >"$out/VENDOR.md"

# Fetch one pinned package into $tmp/NAME, checking its tarball against the pinned integrity.
fetch() {
  local spec=$1 want=$2 name=${1%@*}
  (cd "$tmp" && npm pack --silent --json "$spec" >pack.json)
  got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[0].integrity)' "$tmp/pack.json")
  file=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[0].filename)' "$tmp/pack.json")
  if [[ $got != "$want" ]]; then
    echo "integrity mismatch for $spec: pinned $want, registry gave $got" >&2
    exit 1
  fi
  mkdir -p "$tmp/$name"
  tar xzf "$tmp/$file" -C "$tmp/$name" --strip-components=1
}

for pin in "${TOOLS[@]}"; do
  read -r spec want licence <<<"$pin"
  fetch "$spec" "$want"
done

for pin in "${PINS[@]}"; do
  read -r spec want licence <<<"$pin"
  name=${spec%@*}
  version=${spec##*@}
  fetch "$spec" "$want"
  dir=$out/${DIRS[$name]}
  for f in ${FILES[$name]}; do
    mkdir -p "$dir/$(dirname "${f#dist/}")"
    cp "$tmp/$name/$f" "$dir/${f#dist/}"
  done
  echo "| $name | $version | $licence | \`vendor/${DIRS[$name]}/\` |" >>"$out/VENDOR.md"
done

# Leaflet's ES module, minified (its licence comment kept): the pages import this one.
node "$tmp/uglify-js/bin/uglifyjs" "$out/leaflet/leaflet-src.esm.js" --module --compress --mangle \
  --comments '/@preserve|@license/' -o "$out/leaflet/leaflet.esm.min.js"
rm "$out/leaflet/leaflet-src.esm.js"
tool=${TOOLS[0]%% *}
echo "| uglify-js (made leaflet.esm.min.js; not served) | ${tool##*@} | BSD-2-Clause | – |" >>"$out/VENDOR.md"

rm -rf vendor
mv "$out" vendor
echo "web/vendor: $(find vendor -type f | wc -l) files from ${#PINS[@]} packages"
