"""Semantic-hash de-duplication (`dcgan-tf dedup`, paper section 4.1)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from dcgan_tf.investigations import dedup as D
from dcgan_tf.investigations.common import InvestigateError

SVHN = os.path.join(os.environ.get("DCGAN_SHARED_DATA", "/work/shared/data"),
                    "svhn_train_first1083_unlabeled.npz")


def _digits(n=40):
    """Real images that are always there: scikit-learn's digits, upscaled to 40x48 RGB."""
    from PIL import Image
    from sklearn.datasets import load_digits

    raw = np.round(load_digits().images[:n] * (255 / 16)).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(d).resize((48, 40), Image.BILINEAR).convert("RGB"))
                     for d in raw])


def test_group_hashes_exact_hamming_and_no_chaining():
    bits = np.zeros((5, 16), bool)
    bits[1] = bits[0]                 # identical to 0
    bits[2, :2] = True                # 2 bits from 0
    bits[3, :4] = True                # 4 bits from 0, 2 from row 2
    bits[4, 8:] = True                # far from everything
    assert D.group_hashes(bits, 0) == [[0, 1]]
    assert D.group_hashes(bits, 2) == [[0, 1, 2]]  # 3 is 2 bits from 2, but 4 from the kept 0
    assert D.group_hashes(bits, 4) == [[0, 1, 2, 3]]
    with pytest.raises(InvestigateError, match="max_hamming"):
        D.group_hashes(bits, -1)


def test_binarise_thresholds():
    codes = np.array([[0.0, 2.0], [1.0, 0.0], [3.0, 1.0]])
    assert D.binarise(codes, "zero").tolist() == [[False, True], [True, False], [True, True]]
    assert D.binarise(codes, "median").tolist() == [[False, True], [False, False], [True, False]]
    assert D.binarise(codes, "1.5").tolist() == [[False, True], [False, False], [True, False]]
    with pytest.raises(InvestigateError, match="threshold"):
        D.binarise(codes, "mean")


def test_plant_duplicates_kinds():
    images = _digits(12)[:, :32, :32]
    planted_images, planted = D.plant_duplicates(np.ascontiguousarray(images), per_kind=2, seed=0)
    assert len(planted_images) == 18
    assert [k for _, _, k in planted] == ["exact"] * 2 + ["noise"] * 2 + ["shift"] * 2
    for original, copy, kind in planted:
        diff = np.abs(planted_images[copy].astype(int) - planted_images[original]).mean()
        assert (diff == 0) if kind == "exact" else (diff > 0)


def test_score_groups():
    planted = [(0, 10, "exact"), (1, 11, "noise")]
    score = D.score_groups([[0, 10], [2, 3]], planted)
    assert score["precision"] == 0.5 and score["recall"] == 0.5
    assert score["recall_by_kind"] == {"exact": 1.0, "noise": 0.0}


@pytest.mark.skipif(not os.path.isfile(SVHN), reason=f"{SVHN} is not here")
def test_planted_duplicates_in_svhn_are_found_and_distinct_images_kept(tmp_path):
    """1,083 real SVHN images plus 20 exact, 20 noisy (sigma 4/255) and 20 1-pixel-shifted copies.

    Measured (seeds 0 and 1, max_hamming 4): precision 1.0 / 0.98, recall 0.72 / 0.68; exact
    1.0, noise 0.95, shift 0.1-0.2 (a 1-pixel shift at 32x32 moves a hash as far as a
    different house number does). The thresholds leave a margin.
    """
    with np.load(SVHN) as data:
        images = data["x"]
    report = D.dedup(str(tmp_path), images=images, config=D.DedupConfig(plant=20, seed=0))
    planted = report["planted"]
    assert planted["planted_pairs"] == 60
    assert planted["precision"] >= 0.9
    assert planted["recall"] >= 0.6
    assert planted["recall_by_kind"]["exact"] == 1.0
    assert planted["recall_by_kind"]["noise"] >= 0.8
    assert report["distinct_hashes"] >= 0.9 * len(images)  # distinct images are not merged
    assert report["images"] == len(images) + 60 and os.path.isfile(tmp_path / "dedup.png")
    with open(tmp_path / "dedup.json", encoding="utf-8") as f:
        assert json.load(f)["planted"]["precision"] == planted["precision"]


def _write_folder(root, images):
    from PIL import Image

    os.makedirs(root / "sub", exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / ("sub" if i % 2 else "") / f"img{i:02d}.png")
    (root / "notes.txt").write_text("not an image")


def test_folder_report_and_remove(tmp_path):
    images = _digits(30)
    folder = tmp_path / "photos"
    _write_folder(folder, np.concatenate([images, images[[4, 7]]]))  # img30 = img04, img31 = img07
    report = D.dedup(str(tmp_path / "out"), folder=str(folder),
                     config=D.DedupConfig(max_hamming=0, epochs=10))
    groups = [sorted(g) for g in report["groups"]]
    assert ["img04.png", "img30.png"] in groups and ["sub/img07.png", "sub/img31.png"] in groups
    assert report["images"] == 32

    report = D.dedup(str(tmp_path / "out2"), folder=str(folder),
                     config=D.DedupConfig(max_hamming=0, epochs=10, remove=True))
    assert report["removed"]["count"] == report["duplicates"] >= 2
    assert os.path.isfile(tmp_path / "out2" / "removed" / "img30.png")
    assert not os.path.exists(folder / "img30.png") and os.path.isfile(folder / "img04.png")


def _write_tfrecord(path, images, key):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for image in images:
            encoded = tf.io.encode_png(image).numpy()
            feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
                       "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def test_tfrecords_report_and_remove(tmp_path):
    import tensorflow as tf

    images = _digits(24)
    _write_tfrecord(tmp_path / "a.tfrecord", images[:12], "image/encoded")
    _write_tfrecord(tmp_path / "b.tfrecord", np.concatenate([images[12:], images[[0]]]), "image")
    paths = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
    report = D.dedup(str(tmp_path / "out"), tfrecords=paths,
                     config=D.DedupConfig(max_hamming=0, epochs=10, remove=True))
    assert [paths[0] + ":0", paths[1] + ":12"] in report["groups"]
    kept = sum(1 for _ in tf.data.TFRecordDataset(report["removed"]["tfrecord"]))
    assert kept == 25 - report["duplicates"] and report["removed"]["kept"] == kept

    _write_tfrecord(tmp_path / "c.tfrecord", images[:2], "pixels")
    with pytest.raises(InvestigateError, match="'image' or 'image/encoded'"):
        D.dedup(str(tmp_path / "out3"), tfrecords=[str(tmp_path / "c.tfrecord")])


def test_dedup_input_errors(tmp_path):
    with pytest.raises(InvestigateError, match="exactly one input"):
        D.dedup(str(tmp_path))
    with pytest.raises(InvestigateError, match="No images"):
        D.dedup(str(tmp_path), folder=str(tmp_path))
    with pytest.raises(InvestigateError, match="without --plant"):
        D.dedup(str(tmp_path), folder=str(tmp_path), config=D.DedupConfig(remove=True, plant=2))


def test_cli_dedup_npz(tmp_path):
    from dcgan_tf_cli.main import cli

    images = _digits(30)
    np.savez(tmp_path / "x.npz", x=np.concatenate([images, images[:3]]))
    result = CliRunner().invoke(cli, ["dedup", "--npz", str(tmp_path / "x.npz"), "--out", str(tmp_path / "o"),
                                      "--max-hamming", "0", "--ae-epochs", "5"])
    assert result.exit_code == 0, result.output
    assert "33 images" in result.output and os.path.isfile(tmp_path / "o" / "dedup.json")
    result = CliRunner().invoke(cli, ["dedup", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "exactly one of --folder" in result.output
