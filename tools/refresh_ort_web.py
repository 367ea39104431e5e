"""Refreshes the onnxruntime-web files the `web` export ships (dcgan_tf/export/web_assets/ort/).

Fetches the package with `npm pack onnxruntime-web@VERSION` (the npm registry), keeps the three
files a page with the wasm backend loads (`ort.wasm.min.js`, `ort-wasm-simd-threaded.mjs`,
`ort-wasm-simd-threaded.wasm`), stores the wasm binary xz-compressed, writes VERSION and the MIT
licence, and prints each file's size raw, gzipped and xz-compressed.

    python tools/refresh_ort_web.py --version 1.31.1
"""

import argparse
import gzip
import json
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile

KEEP = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
COMPRESS = ("ort-wasm-simd-threaded.wasm",)
TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dcgan_tf", "export",
                      "web_assets", "ort")
LICENSE = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="onnxruntime-web version, e.g. 1.31.1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        packed = subprocess.run(["npm", "pack", f"onnxruntime-web@{args.version}"], cwd=tmp,
                                capture_output=True, text=True)
        if packed.returncode:
            raise SystemExit(f"npm pack failed: {packed.stderr.strip()}")
        (tarball,) = [n for n in os.listdir(tmp) if n.endswith(".tgz")]
        with tarfile.open(os.path.join(tmp, tarball)) as tar:
            tar.extractall(tmp, filter="data")
        with open(os.path.join(tmp, "package", "package.json"), encoding="utf-8") as f:
            if json.load(f)["license"] != "MIT":
                raise SystemExit("onnxruntime-web's licence is no longer MIT: update LICENSE by hand")
        shutil.rmtree(TARGET, ignore_errors=True)
        os.makedirs(TARGET)
        print(f"{'file':32} {'raw':>11} {'gzip -9':>11} {'xz -9':>11}")
        for name in KEEP:
            with open(os.path.join(tmp, "package", "dist", name), "rb") as f:
                data = f.read()
            packed = lzma.compress(data, preset=9)
            print(f"{name:32} {len(data):>11,} {len(gzip.compress(data, 9)):>11,} {len(packed):>11,}")
            out, payload = (name + ".xz", packed) if name in COMPRESS else (name, data)
            with open(os.path.join(TARGET, out), "wb") as f:
                f.write(payload)
    with open(os.path.join(TARGET, "VERSION"), "w", encoding="utf-8") as f:
        f.write(args.version + "\n")
    with open(os.path.join(TARGET, "LICENSE"), "w", encoding="utf-8") as f:
        f.write(LICENSE)


if __name__ == "__main__":
    main()
