from setuptools import find_packages, setup

PORTABLE = ["tf2onnx>=1.17", "onnx>=1.16", "onnxruntime>=1.17", "ai-edge-litert>=1.2"]

setup(
    name="dcgan-tf",
    version="0.1.0",
    description="DCGAN (Radford, Metz & Chintala 2015) in TensorFlow/Keras 3: train, export to "
    "TF Serving SavedModels, probe the discriminator's features with a linear SVM.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # The commands live in cli/ and install as `dcgan_tf_cli`, under the project's own name
    # (a top-level `cli` package would collide with any other distribution's).
    packages=[*find_packages(include=["dcgan_tf", "dcgan_tf.*"]), "dcgan_tf_cli"],
    package_dir={"dcgan_tf_cli": "cli"},
    install_requires=[
        # `tensorflow`, not `tensorflow-cpu`, on every platform: tensorflow-serving-api (TF
        # Serving's protos and gRPC stubs) requires it by that name. It runs on CPUs; the CUDA
        # libraries come only with the [cuda] extra. See docs/architecture.md, "Dependencies".
        "tensorflow>=2.16",
        "tensorflow-serving-api>=2.16",
        "grpcio",
        "protobuf",
        "keras>=3.0",
        "tensorboard",
        "tensorflow-datasets>=4.9",
        "numpy",
        "scikit-learn",
        "click>=8.0",
        # Named sections in each command's --help (Data, Model, Recipe, ...), from the option
        # schema's groups: a small pure-Python layer over Click's own Option class, so the
        # options stay plain Click options (types, ranges, defaults) that tests can walk.
        "click-option-group>=0.5.6",
        "scipy",
        "Pillow",
        "matplotlib",
        "tqdm",
    ],
    # The web export's page and onnxruntime-web files (dcgan_tf/export/web_assets/).
    package_data={"dcgan_tf.export": ["web_assets/*.html", "web_assets/*.js", "web_assets/ort/*"]},
    extras_require={
        "cuda": ["tensorflow[and-cuda]>=2.16"],
        # `dcgan-tf export --format tflite,onnx,web` and running the files: tf2onnx 1.17 with
        # onnx 1.23 converts under TF 2.21, numpy 2 and protobuf 7 (pip check clean); LiteRT
        # is TFLite's standalone interpreter.
        "portable": PORTABLE,
        # `dcgan-tf explore`'s app; selenium drives the browser tests (Debian's chromium).
        "explore": ["gradio>=5", "gradio_client"],
        # pytest-xdist runs the test files on every core (at most 4 workers, pytest.ini);
        # pytest-timeout ends a hung test with its stack instead of letting it hold CI.
        "test": ["pytest", "pytest-xdist", "pytest-timeout", *PORTABLE, "gradio>=5", "gradio_client", "selenium>=4.10"],
    },
    entry_points={"console_scripts": ["dcgan-tf=dcgan_tf_cli.main:main"]},
)
