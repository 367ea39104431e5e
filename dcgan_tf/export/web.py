"""A static web page that runs the ONNX generator in onnxruntime-web, with no network access.

The folder holds `index.html`, `app.js`, `portable_z.js` (the seed -> z generator of
`portable_z`), `generator.onnx`, `contract.json` and `ort/`: onnxruntime-web's wasm build
(`ort.wasm.min.js`, `ort-wasm-simd-threaded.mjs` and `.wasm`) and its MIT licence. The runtime
ships in the package as `web_assets/ort/` with the wasm binary xz-compressed (14.8 MB -> 2.3 MB
for onnxruntime-web 1.31.1; `tools/refresh_ort_web.py` fetches another version with npm), and
is unpacked into each export, so the page needs nothing from the internet.
"""

import lzma
import os
import shutil

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web_assets")
PAGE_FILES = ("index.html", "app.js", "portable_z.js")


def runtime_version():
    """The vendored onnxruntime-web version (`web_assets/ort/VERSION`)."""
    with open(os.path.join(ASSETS, "ort", "VERSION"), encoding="utf-8") as f:
        return f.read().strip()


def write_page(directory, generator_onnx):
    """Writes the page's files into `directory` (which must exist), beside `contract.json`.

    Args:
        directory: The folder to fill.
        generator_onnx: The generator's ONNX bytes.

    Returns:
        The file names written (`contract.json` is the caller's).
    """
    for name in PAGE_FILES:
        shutil.copyfile(os.path.join(ASSETS, name), os.path.join(directory, name))
    with open(os.path.join(directory, "generator.onnx"), "wb") as f:
        f.write(generator_onnx)
    ort_dir = os.path.join(directory, "ort")
    os.makedirs(ort_dir)
    for name in sorted(os.listdir(os.path.join(ASSETS, "ort"))):
        source = os.path.join(ASSETS, "ort", name)
        if name.endswith(".xz"):
            with lzma.open(source) as f, open(os.path.join(ort_dir, name[:-3]), "wb") as out:
                shutil.copyfileobj(f, out)
        else:
            shutil.copyfile(source, os.path.join(ort_dir, name))
    return [*PAGE_FILES, "generator.onnx", "ort/"]
