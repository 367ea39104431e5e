"""The Gradio page of `dcgan-tf explore`: five tabs over one `Explorer`.

Every event has an `api_name`, so what the page does can be called through `gradio_client`
(the tests do): `samples`, `walk`, `walk_frame`, `arithmetic`, `discriminate`,
`training_image`, `run`. The handlers only convert between Gradio values and the
`Explorer`'s arrays; the library's errors become one-line messages on the page.
"""

import functools
import os

import numpy as np

from dcgan_tf.explore.session import MAX_SEED, describe
from dcgan_tf.investigations.common import rows_grid
from dcgan_tf.investigations.latent import METHODS

# Where a click on a sample goes.
TARGETS = ("walk A", "walk B", "group A", "group B", "group C", "discriminator")
# Small samples stay sharp when the browser scales them up, and single images fill their box
# (Gradio shows an image at its natural size: 32 pixels is a thumbnail).
CSS = """
.pixelated img, .pixelated canvas { image-rendering: pixelated; }
.fill img { width: 100% !important; height: 100% !important; object-fit: contain; }
"""


def _gradio():
    """Gradio, imported only here (the `explore` extra), with analytics off: no network at start."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise ImportError(
            'The explore app needs Gradio: pip install -e ".[explore]"'
        ) from None
    return gradio


def _image(pixels):
    """uint8 (H, W, C) -> what gr.Image shows: (H, W) for grey."""
    pixels = np.asarray(pixels)
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def _seeds(text):
    """'3, 17,42' -> [3, 17, 42]."""
    try:
        return [int(v) for v in str(text).replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise ValueError(f"Expected comma-separated seeds, e.g. 3,17,42. Received: {text!r}") from None


def _one_line(gr, fn):
    """Shows the library's errors (ValueError, OSError) as one line on the page."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, OSError) as e:
            line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise gr.Error(line, print_exception=False) from None
    return wrapped


def _run_markdown(summary, run_dir):
    exported = summary["exported"]
    lines = [f"**Exported checkpoint:** step {exported['step']} (epoch {exported['epoch']}, "
             f"{exported['checkpoint']})."]
    shown = {k: v for k, v in exported["metrics"].items()
             if isinstance(v, (int, float)) and k not in ("epoch", "step", "time")}
    if shown:
        lines.append("At that step: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items())) + ".")
    if summary["best_kid"]:
        step, kid = summary["best_kid"]
        lines.append(f"**KID:** best {kid:.4g} at step {step} ({len(summary['kid'])} scored steps).")
    else:
        lines.append("**KID:** not scored (train with `--score-every N`).")
    if run_dir:
        last = summary["last"]
        lines.append(f"**Run:** `{run_dir}`, last logged step {last['step'] if last else '?'}.")
    else:
        lines.append("**Run:** not found: pass the run directory (`dcgan-tf explore RUN --model ...`) "
                     "for its curves.")
    return "\n\n".join(lines)


def build_app(explorer, grid=32):
    """The `gr.Blocks` page over `explorer` (an `Explorer`).

    Args:
        explorer: The opened model.
        grid: Samples drawn at first. Defaults to 32.

    Returns:
        A `gradio.Blocks`, not launched (see `launch`).
    """
    gr = _gradio()
    safe = functools.partial(_one_line, gr)
    methods = [("slerp" if m == "spherical" else m, m) for m in METHODS]

    with gr.Blocks(title="dcgan-tf explore", analytics_enabled=False) as demo:
        gr.Markdown(f"## dcgan-tf explore\n{describe(explorer)}")
        seeds = gr.State([])
        with gr.Tab("Samples"):
            with gr.Row():
                first = gr.Number(0, label="first seed", precision=0, minimum=0, maximum=MAX_SEED)
                count = gr.Slider(1, 128, value=grid, step=1, label="samples")
                draw = gr.Button("Draw", variant="primary")
            target = gr.Radio(list(TARGETS), value="walk A", label="a click on a sample sets")
            picked = gr.Markdown("Click a sample to pick it (seed `s` is cell `s` of "
                                 "`dcgan-tf sample --seed 0`).")
            gallery = gr.Gallery(label="samples (caption: seed)", columns=8, format="png",
                                 allow_preview=False, elem_id="samples", elem_classes="pixelated")
        with gr.Tab("Latent walk"):
            with gr.Row():
                walk_a = gr.Number(0, label="A (seed)", precision=0, minimum=0, maximum=MAX_SEED, elem_id="walk-a")
                walk_b = gr.Number(5, label="B (seed)", precision=0, minimum=0, maximum=MAX_SEED)
                method = gr.Radio(methods, value="linear", label="interpolation")
                steps = gr.Slider(2, 16, value=8, step=1, label="frames")
            go = gr.Button("Walk", variant="primary", elem_id="walk")
            strip = gr.Image(label="frames A -> B", format="png", interactive=False, height=140,
                             elem_id="walk-strip", elem_classes=["pixelated", "fill"])
            t = gr.Slider(0, 1, value=0.5, step=0.05, label="position t along the walk",
                          elem_id="walk-t")
            frame = gr.Image(label="frame at t", format="png", interactive=False, height=256,
                             elem_id="walk-frame", elem_classes=["pixelated", "fill"])
        with gr.Tab("Vector arithmetic"):
            gr.Markdown("Each group is the mean z of its samples (3 in the paper); the result is "
                        "decoded with neighbours z + U(-noise, noise).")
            with gr.Row():
                group_a = gr.Textbox(label="group A (seeds)", placeholder="3,17,42")
                group_b = gr.Textbox(label="group B (seeds)")
                group_c = gr.Textbox(label="group C (seeds)")
            with gr.Row():
                expression = gr.Textbox("A - B + C", label="expression")
                noise = gr.Number(0.25, label="noise", minimum=0)
                neighbours = gr.Number(8, label="neighbours", precision=0, minimum=0)
                noise_seed = gr.Number(0, label="noise seed", precision=0, minimum=0,
                                       maximum=MAX_SEED)
            compute = gr.Button("Compute", variant="primary", elem_id="compute")
            figure = gr.Image(label="groups: exemplars | mean;  last row: result | neighbours",
                              format="png", interactive=False, height=300,
                              elem_classes=["pixelated", "fill"])
            result = gr.Gallery(label="result and neighbours", columns=9, format="png",
                                allow_preview=False, elem_classes="pixelated")
            result_z = gr.JSON(label="z")
        with gr.Tab("Discriminator"):
            with gr.Row():
                d_image = gr.Image(label="image (upload, or pick a sample or a training image)",
                                   type="numpy", format="png", sources=["upload", "clipboard"],
                                   height=320, elem_id="d-image",
                                   elem_classes=["pixelated", "fill"])
                with gr.Column():
                    train_index = gr.Number(0, label="training image # (of the index)",
                                            precision=0, minimum=0)
                    use_train = gr.Button("Use training image", elem_id="use-train")
                    k = gr.Slider(1, 32, value=8, step=1, label="nearest training images")
                    score = gr.Button("Ask D", variant="primary", elem_id="ask-d")
                    probability = gr.Number(label="D(x): probability the image is real",
                                            interactive=False)
            nearest = gr.Gallery(label="nearest training images in D's feature space", columns=8,
                                 format="png", allow_preview=False, elem_id="nearest",
                                 elem_classes="pixelated")
        with gr.Tab("Run"):
            run_text = gr.Markdown()
            curves = gr.Image(label="metrics against the training step", format="png",
                              interactive=False)

        @safe
        def on_samples(first_seed, n):
            pixels, drawn = explorer.samples(int(first_seed or 0), int(n))
            return [(_image(p), f"seed {s}") for p, s in zip(pixels, drawn)], drawn

        @safe
        def on_pick(index, drawn, where, a, b, ga, gb, gc):
            seed = int(drawn[index])
            image = gr.update()
            if where == "walk A":
                a = seed
            elif where == "walk B":
                b = seed
            elif where == "discriminator":
                image = _image(explorer.samples(seed, 1)[0][0])
            else:
                text = {"group A": ga, "group B": gb, "group C": gc}[where]
                text = ",".join(str(s) for s in _seeds(text) + [seed])
                ga, gb, gc = (text if where == f"group {g}" else old
                              for g, old in zip("ABC", (ga, gb, gc)))
            return a, b, ga, gb, gc, image, f"Picked seed **{seed}** -> {where}."

        @safe
        def on_walk(a, b, how, n, at):

            frames = explorer.walk(int(a), int(b), how, int(n))
            return _image(rows_grid([frames])), _image(explorer.frame(int(a), int(b), how, at))

        @safe
        def on_frame(a, b, how, at):
            return _image(explorer.frame(int(a), int(b), how, at))

        @safe
        def on_arithmetic(ga, gb, gc, expr, width, n, noise_seed_):
            groups = {"A": _seeds(ga), "B": _seeds(gb), "C": _seeds(gc)}
            used = {name for name in groups if name in expr}
            groups = {name: s for name, s in groups.items() if s or name in used}
            out = explorer.arithmetic(groups, expr, float(width), int(n), int(noise_seed_ or 0))
            captions = ["result"] + [f"neighbour {i + 1}" for i in range(len(out["result"]) - 1)]
            z = {"result_z": out["result_z"].tolist(),
                 "result_z_norm": float(np.linalg.norm(out["result_z"])),
                 "neighbour_z": out["neighbour_z"].tolist()}
            return _image(out["figure"]), [(_image(p), c) for p, c in zip(out["result"], captions)], z

        @safe
        def on_discriminate(image, n):
            if image is None:
                raise ValueError("Upload an image, or pick a sample or a training image first.")
            pixels, indices, distances = explorer.nearest(image, int(n))
            shown = [(_image(p), f"train #{i}, distance {d:.3g}")
                     for p, i, d in zip(pixels, indices, distances)]
            return explorer.discriminate(image), shown

        @safe
        def on_training_image(index):
            images = explorer.training_images()
            if not 0 <= int(index) < len(images):
                raise ValueError(f"Expected a training image # in [0, {len(images)}). Received: {index}")
            return _image(images[int(index)])

        @safe
        def on_run():
            summary, chart = explorer.run_summary()
            return _run_markdown(summary, explorer.run_dir), chart

        # A button whose input another event is filling stays disabled until it is filled:
        # its click would otherwise send the value from before (Gradio reads inputs at click).
        def busy(event, buttons):
            return event.then(lambda: [gr.update(interactive=True)] * len(buttons), None,
                              buttons, queue=False, show_progress="hidden",
                              api_visibility="private")

        def disable(buttons):
            return lambda: [gr.update(interactive=False)] * len(buttons)

        draw.click(on_samples, [first, count], [gallery, seeds], api_name="samples")
        demo.load(on_samples, [first, count], [gallery, seeds], api_visibility="private")
        # A pick fills walk A/B, the groups or D's image: their buttons wait for it.
        picking, picked_index = [go, compute, score], gr.State(None)

        def start_pick(evt: gr.SelectData):
            return [evt.index] + [gr.update(interactive=False)] * len(picking)

        busy(gallery.select(start_pick, None, [picked_index, *picking], queue=False,
                            show_progress="hidden", api_visibility="private")
             .then(on_pick, [picked_index, seeds, target, walk_a, walk_b, group_a, group_b,
                             group_c],
                   [walk_a, walk_b, group_a, group_b, group_c, d_image, picked],
                   api_visibility="private"), picking)
        go.click(on_walk, [walk_a, walk_b, method, steps, t], [strip, frame], api_name="walk")
        t.change(on_frame, [walk_a, walk_b, method, t], frame, api_name="walk_frame",
                 trigger_mode="always_last", show_progress="hidden")
        compute.click(on_arithmetic, [group_a, group_b, group_c, expression, noise, neighbours,
                                      noise_seed], [figure, result, result_z], api_name="arithmetic")
        score.click(on_discriminate, [d_image, k], [probability, nearest], api_name="discriminate")
        # "Use training image" loads D's image (the first time, the whole index): "Ask D" waits.
        busy(use_train.click(disable([score, use_train]), None, [score, use_train], queue=False,
                             show_progress="hidden", api_visibility="private")
             .then(on_training_image, train_index, d_image, api_name="training_image"),
             [score, use_train])
        demo.load(on_run, None, [run_text, curves], api_name="run")
    return demo


def launch(demo, port=7860, block=True):
    """Serves `demo` on 127.0.0.1 only, without share links, telemetry or server-side rendering.

    Args:
        demo: From `build_app`.
        port: TCP port. Defaults to 7860.
        block: Wait until interrupted (the CLI); `False` returns once serving (tests).

    Returns:
        The app's local URL.
    """
    _gradio()
    demo.queue(default_concurrency_limit=1)  # One TensorFlow call at a time: 2-core machines.
    demo.launch(server_name="127.0.0.1", server_port=port, share=False, inbrowser=False,
                prevent_thread_lock=not block, quiet=True, ssr_mode=False, show_error=True,
                css=CSS, enable_monitoring=False)
    return demo.local_url
