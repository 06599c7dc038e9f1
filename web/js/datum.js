// WGS-84 ⇄ GCJ-02, for a base map whose tiles are drawn in GCJ-02 (Amap, Tencent and many
// intranet tile servers). gridmap stores and answers WGS-84; only the drawing is shifted.
// The forward formula is the published one; the inverse is solved by fixed-point iteration
// (to well under a centimetre). Outside China there is no offset.

const A = 6378245.0;
const EE = 0.00669342162296594323;

function outsideChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function delta(lon, lat) {
  const x = lon - 105.0;
  const y = lat - 35.0;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLat += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLat += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLon += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLon += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  const radLat = (lat / 180.0) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [dLon, dLat];
}

/** [lon, lat] WGS-84 → GCJ-02. */
export function wgs84ToGcj02(lon, lat) {
  if (outsideChina(lon, lat)) return [lon, lat];
  const [dLon, dLat] = delta(lon, lat);
  return [lon + dLon, lat + dLat];
}

/** [lon, lat] GCJ-02 → WGS-84. */
export function gcj02ToWgs84(lon, lat) {
  if (outsideChina(lon, lat)) return [lon, lat];
  let [x, y] = [lon, lat];
  for (let i = 0; i < 10; i++) {
    const [gx, gy] = wgs84ToGcj02(x, y);
    x += lon - gx;
    y += lat - gy;
  }
  return [x, y];
}

/** Converters between the data's datum (WGS-84) and the base map's `datum`. */
export function datumOf(datum = "wgs84") {
  if (datum === "gcj02") return { toMap: wgs84ToGcj02, fromMap: gcj02ToWgs84 };
  if (datum === "wgs84" || datum === "cgcs2000") return { toMap: (x, y) => [x, y], fromMap: (x, y) => [x, y] };
  throw new Error(`base map datum ${datum}: use wgs84, cgcs2000 or gcj02`);
}
