// The page's logic: load contract.json and generator.onnx in onnxruntime-web (wasm, one
// thread: a plain `python -m http.server` is not cross-origin isolated), draw a grid from
// seeds, walk between two seeds' z with a slider, and time batch-1 runs.
"use strict";

const $ = (id) => document.getElementById(id);
const latencies = [];

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function generate(session, contract, z) {
  // z: Float32Array of N * z_dim values, checked first (the ONNX graph has no asserts).
  checkZ(z, contract.z_dim);
  const n = z.length / contract.z_dim;
  const start = performance.now();
  const out = await session.run({ z: new ort.Tensor("float32", z, [n, contract.z_dim]) });
  latencies.push((performance.now() - start) / n);
  $("latency").textContent = `${median(latencies).toFixed(2)} ms (${latencies.length} runs)`;
  return out.pixels.data; // uint8, N * size * size * channels
}

function draw(canvas, pixels, offset, size, channels) {
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) {
      image.data[4 * i + c] = pixels[offset + i * channels + (channels === 3 ? c : 0)];
    }
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

async function main() {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  const contract = await (await fetch("contract.json")).json();
  const session = await ort.InferenceSession.create(contract.models.generator.file,
                                                    { executionProviders: ["wasm"] });
  const { z_dim: zDim, z_dist: zDist, image_size: size, channels } = contract;
  const cell = size * size * channels;
  $("about").textContent = `${contract.dataset}, step ${contract.step} (${contract.checkpoint}), ` +
    `${size}x${size}x${channels}, z_dim ${zDim} (${zDist}), onnxruntime-web ${ort.env.versions.web}`;

  async function one(z) {
    return generate(session, contract, z);
  }

  async function drawGrid() {
    const first = Number($("seed").value), count = Number($("count").value);
    const grid = $("grid");
    grid.replaceChildren();
    for (let i = 0; i < count; i++) {
      const pixels = await one(zFromSeed(first + i, zDim, zDist));
      const canvas = document.createElement("canvas");
      canvas.dataset.seed = String(first + i);
      draw(canvas, pixels, 0, size, channels);
      grid.appendChild(canvas);
    }
  }

  async function drawWalk() {
    const t = Number($("t").value) / 100;
    $("tValue").textContent = t.toFixed(2);
    const a = zFromSeed(Number($("seedA").value), zDim, zDist);
    const b = zFromSeed(Number($("seedB").value), zDim, zDist);
    const z = a.map((v, i) => (1 - t) * v + t * b[i]);
    draw($("walkCanvas"), await one(z), 0, size, channels);
  }

  $("draw").onclick = () => drawGrid().catch(fail);
  $("t").oninput = () => drawWalk().catch(fail);
  $("seedA").onchange = $("seedB").onchange = $("t").oninput;
  await drawGrid();
  await drawWalk();
  $("status").textContent = "Ready.";
  // For tests and benchmarks: the same functions the page uses.
  window.dcgan = { contract, session, generate: one, zFromSeed, latencies, median, cell };
}

function fail(error) {
  $("status").textContent = `Error: ${error.message}`;
  window.dcganError = String(error.message);
}

main().catch(fail);
