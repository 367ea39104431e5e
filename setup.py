from setuptools import find_packages, setup

setup(
    name="dcgan-tf",
    version="0.1.0",
    description="DCGAN (Radford, Metz & Chintala 2015) in TensorFlow/Keras 3: train, export to "
    "TF Serving SavedModels, probe the discriminator's features with a linear SVM.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["dcgan_tf", "dcgan_tf.*", "cli", "cli.*"]),
    install_requires=[
        "tensorflow-cpu>=2.16; platform_machine=='x86_64' or platform_machine=='AMD64'",
        "tensorflow>=2.16; platform_machine!='x86_64' and platform_machine!='AMD64'",
        "keras>=3.0",
        "tensorboard",
        "tensorflow-datasets>=4.9",
        "numpy",
        "scikit-learn",
        "click>=8.0",
        "scipy",
        "Pillow",
        "tqdm",
    ],
    extras_require={
        "cuda": ["tensorflow[and-cuda]>=2.16"],
        "test": ["pytest"],
    },
    entry_points={"console_scripts": ["dcgan-tf=cli.main:main"]},
)
