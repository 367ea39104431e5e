"""`dcgan-tf explore`: an interactive app over an export (samples, walks, arithmetic, D, the run).

`session` holds the work (every panel calls the investigations, the serving clients and the
export reader; nothing is computed twice), `run_info` reads the training run, and `app`
builds the Gradio page on top. Gradio is an optional extra and is imported by `app` only.
"""
