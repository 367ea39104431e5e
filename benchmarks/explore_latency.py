"""How long `dcgan-tf explore` takes to start, and to answer a walk, on an export.

    python benchmarks/explore_latency.py --model savedmodels/digits

Times, in this one process: importing TensorFlow, importing Gradio, opening the export (load
and first sample), building the page, serving it; then the walk endpoints through Gradio's own
client (`/walk`: 8 frames and the frame at t; `/walk_frame`: one frame, what the slider asks),
the first call and the median of the next ones. The baseline is the same walk computed by
`Explorer.walk` directly, without Gradio: the ratio of `/walk`'s median to it is what Gradio
adds to an answer. `--record` writes one `explore_latency` record of the whole run
(`records.write_record`).
"""

import argparse
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from records import add_record_flags  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Each start-up stage's record figure.
STAGES = {"import TensorFlow": "import_tensorflow_s", "import Gradio": "import_gradio_s",
          "open the export (load, first sample)": "open_s", "build the page": "build_s",
          "serve": "serve_s"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="savedmodels/digits")
    parser.add_argument("--repeats", type=int, default=10)
    add_record_flags(parser, "one `explore_latency` record")
    args = parser.parse_args()

    start = time.perf_counter()
    marks = {}
    import tensorflow  # noqa: F401

    marks["import TensorFlow"] = time.perf_counter()
    import gradio  # noqa: F401
    from gradio_client import Client

    marks["import Gradio"] = time.perf_counter()
    from dcgan_tf.explore.app import build_app, launch
    from dcgan_tf.explore.session import ExploreConfig, Explorer

    explorer = Explorer(ExploreConfig(model=args.model))
    marks["open the export (load, first sample)"] = time.perf_counter()
    demo = build_app(explorer)
    marks["build the page"] = time.perf_counter()
    url = launch(demo, _free_port(), block=False)
    marks["serve"] = time.perf_counter()

    from common import machine

    print(machine())
    figures, previous = {}, start
    for name, t in marks.items():
        print(f"{name:40s} {t - previous:6.2f} s")
        figures[STAGES[name]] = round(t - previous, 2)
        previous = t
    print(f"{'start, total':40s} {previous - start:6.2f} s")
    figures["start_s"] = round(previous - start, 2)

    client, medians = Client(url, verbose=False), {}
    try:
        for api, key, call in (
            ("/walk (8 frames + frame)", "walk",
             lambda i: client.predict(0, 5 + i, "spherical", 8, 0.5, api_name="/walk")),
            ("/walk_frame (slider)", "walk_frame",
             lambda i: client.predict(0, 5, "spherical", 0.05 * (i % 20), api_name="/walk_frame")),
            ("Explorer.walk, no Gradio", "explorer_walk",
             lambda i: explorer.walk(0, 5 + i, "spherical", 8)),
        ):
            times = []
            for i in range(args.repeats + 1):
                t = time.perf_counter()
                call(i)
                times.append(time.perf_counter() - t)
            median = medians[key] = statistics.median(times[1:])
            print(f"{api:40s} first {times[0] * 1e3:7.1f} ms, median of next {args.repeats} "
                  f"{median * 1e3:7.1f} ms")
            figures.update({f"{key}_first_ms": round(times[0] * 1e3, 1),
                            f"{key}_median_ms": round(median * 1e3, 1)})
    finally:
        demo.close()
    figures["walk_vs_explorer"] = round(medians["walk"] / medians["explorer_walk"], 2)
    print(f"{'/walk over Explorer.walk (medians)':40s} {figures['walk_vs_explorer']:6.2f}x")
    if args.record:
        from records import write_record

        meta = explorer.metadata
        print("record:", write_record(
            "explore_latency", figures, model=args.model, size=int(meta["image_size"]),
            channels=int(meta["channels"]), repeats=args.repeats,
            note=args.note))


if __name__ == "__main__":
    main()
