// Seed -> z, bit for bit as dcgan_tf/export/portable_z.py: mulberry32, one draw per component.
// Uniform: 2 * ((x >>> 8) / 2**24) - 1, in [-1, 1). Normal: Box-Muller in float64, then float32.
"use strict";

function mulberry32(state) {
  state = (state + 0x6D2B79F5) >>> 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state) >>> 0;
  t = (((t + Math.imul(t ^ (t >>> 7), 61 | t)) >>> 0) ^ t) >>> 0;
  return [state, (t ^ (t >>> 14)) >>> 0];
}

function uniforms(seed, n) {
  let state = seed >>> 0;
  const out = [];
  for (let i = 0; i < n; i++) {
    let x;
    [state, x] = mulberry32(state);
    out.push((x >>> 8) / 16777216);
  }
  return out;
}

function zFromSeed(seed, zDim, zDist) {
  if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) {
    throw new Error(`Expected \`seed\` to be an integer in [0, 2**32). Received: seed=${seed}`);
  }
  const z = new Float32Array(zDim);
  if (zDist === "uniform") {
    uniforms(seed, zDim).forEach((u, i) => { z[i] = 2 * u - 1; });
    return z;
  }
  const u = uniforms(seed, 2 * Math.floor((zDim + 1) / 2));
  for (let i = 0; i < u.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i]));
    const a = 2 * Math.PI * u[i + 1];
    if (i < zDim) z[i] = r * Math.cos(a);
    if (i + 1 < zDim) z[i + 1] = r * Math.sin(a);
  }
  return z;
}

// The documented check the ONNX graph cannot do itself: width and finiteness of z.
function checkZ(z, zDim) {
  if (z.length % zDim !== 0 || z.length === 0) {
    throw new Error(`Expected \`z\` of shape [N, ${zDim}]. Received: ${z.length} values`);
  }
  for (const v of z) {
    if (!Number.isFinite(v)) throw new Error("Expected `z` of finite values (no NaN or inf)");
  }
  return z;
}
