"""The one hardware resolver: CPU kinds from flags and oneDNN's cap, and each `auto` rule."""

import os

import pytest

from dcgan_tf import hardware
from dcgan_tf.config import AUTO_STEPS_PER_EXECUTION, TrainConfig
from dcgan_tf.training import hardware_plan as hp

XEON_AMX = {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
EPYC_BF16 = {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni"}
XEON_AVX512 = {"avx2", "fma", "avx512f", "avx512_vnni"}
EPYC_AVX2 = {"avx", "avx2", "fma"}


def test_cpu_kind_follows_the_flags_and_the_onednn_cap():
    assert hardware.cpu_kind_of(XEON_AMX) == "amx"
    assert hardware.cpu_kind_of(EPYC_BF16) == "avx512_bf16"
    assert hardware.cpu_kind_of(XEON_AVX512) == "avx512"
    assert hardware.cpu_kind_of(EPYC_AVX2) == "avx2"
    assert hardware.cpu_kind_of(frozenset()) == "avx2"
    # A cap lowers the kind, never raises it; an unknown cap is ignored, as oneDNN does.
    assert hardware.cpu_kind_of(EPYC_BF16, "AVX2") == "avx2"
    assert hardware.cpu_kind_of(XEON_AMX, "AVX512_CORE") == "avx512"
    assert hardware.cpu_kind_of(XEON_AMX, "AVX512_CORE_BF16") == "avx512_bf16"
    assert hardware.cpu_kind_of(EPYC_AVX2, "AVX512_CORE_AMX") == "avx2"
    assert hardware.cpu_kind_of(EPYC_BF16, "NOT_AN_ISA") == "avx512_bf16"


def test_isa_cap_reads_either_spelling_and_all_means_none():
    assert hardware.isa_cap({"ONEDNN_MAX_CPU_ISA": "avx2"}) == "AVX2"
    assert hardware.isa_cap({"DNNL_MAX_CPU_ISA": "AVX512_CORE"}) == "AVX512_CORE"
    assert hardware.isa_cap({"ONEDNN_MAX_CPU_ISA": "ALL"}) is None
    assert hardware.isa_cap({}) is None


def test_the_cap_turns_native_bf16_off(monkeypatch):
    monkeypatch.setattr("dcgan_tf.hardware.cpu_flags", lambda: frozenset(EPYC_BF16))
    monkeypatch.setattr("tensorflow.config.list_physical_devices", lambda kind=None: [])
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert hardware.native_bf16() and hardware.resolve_precision("auto") == "bf16"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert not hardware.native_bf16() and hardware.resolve_precision("auto") == "fp32"


def test_auto_choices_follow_the_kind():
    # Each kind's `auto` as measured by benchmarks/auto_choices.py: bf16 with patch-matmul
    # kernel gradients on AMX, bf16 with dilated-convolution kernel gradients on AVX512-BF16;
    # fp32 with dilated-convolution kernel gradients on AVX2, with oneDNN's own on AVX-512
    # without bf16; oneDNN's own on GPUs.
    expected = {"amx": ("bf16", "patches"), "avx512_bf16": ("bf16", "dilated"),
                "avx512": ("fp32", "native"), "avx2": ("fp32", "dilated"),
                "gpu": ("bf16", "native")}
    for kind, (precision, grads) in expected.items():
        assert hp.precision_choice("auto", kind) == precision, kind
        assert hp.kernel_grads_choice(precision, kind) == grads, kind
        assert hp.kernel_grads_choice("fp32", kind) == ("dilated" if kind == "avx2" else "native")
        assert hp.kernel_grads_choice("fp16", kind) == "native", kind
        assert hp.jit_choice("auto", kind) == (kind == "gpu")
        assert hp.pipeline_threads_choice(kind) == (None if kind == "gpu" else 1)
        assert hp.fused_bn_choice(kind)
    assert hp.precision_choice("auto", "gpu", gpu_bf16=False) == "fp32"
    assert hp.precision_choice("fp16", "avx2") == "fp16"
    assert hp.precision_choice("bf16", "avx512") == "bf16"  # oneDNN emulates it there.
    assert hp.jit_choice("on", "avx2") and not hp.jit_choice("off", "gpu")


@pytest.mark.parametrize("setting, steps, expected", [
    ("auto", 11, 11), ("auto", 64, AUTO_STEPS_PER_EXECUTION), ("auto", 17, 1), ("auto", 48, 16),
    (4, 10, 2), (1, 64, 1), (8, 3, 3),
])
def test_steps_per_call_divides_the_epoch(setting, steps, expected):
    most = AUTO_STEPS_PER_EXECUTION if setting == "auto" else setting
    got = hp.steps_per_call(setting, steps)
    assert got == expected and steps % got == 0 and got <= most


def test_resolve_hardware_gives_one_record_and_one_line(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    plan = hp.resolve_hardware(TrainConfig(), kind="avx2")
    assert (plan.precision, plan.jit, plan.kernel_grads, plan.fused_bn) == (
        "fp32", False, "dilated", True)
    assert (plan.strategy, plan.pipeline_threads, plan.steps_per_call) == (
        "default", 1, AUTO_STEPS_PER_EXECUTION)
    line = plan.describe()
    assert line.startswith("Hardware avx2: precision fp32 (auto: no native bf16 on this CPU)")
    assert "XLA off (auto: CPU)" in line and "\n" not in line
    fixed = hp.resolve_hardware(TrainConfig(precision="bf16", jit="off", steps_per_execution=4),
                                kind="avx512_bf16", kernel_grads="patches", fused_bn=False)
    assert (fixed.precision, fixed.kernel_grads, fixed.fused_bn, fixed.steps_per_call) == (
        "bf16", "patches", False, 4)
    assert "precision bf16," in fixed.describe() and "Keras batch norm" in fixed.describe()
    # With no kind given, the cap decides: AVX2 on any x86 CPU without a GPU.
    assert hp.resolve_hardware(TrainConfig()).cpu_kind in ("avx2", "gpu")


def test_the_plan_line_says_what_auto_chose_on_this_machine():
    import tensorflow as tf

    line = hp.resolve_hardware(TrainConfig(), tf.distribute.get_strategy()).describe()
    gpus = tf.config.list_logical_devices("GPU")
    device = "GPU" if gpus else "CPU"
    precision = "bf16" if hardware.native_bf16() else "fp32"
    assert line.startswith(f"Hardware {hp.current_kind()}: precision {precision} (auto: ")
    assert f"strategy default (auto: one device, {device})" in line
    assert f"XLA {'on' if gpus else 'off'} (auto: {device})" in line
    fixed = hp.resolve_hardware(TrainConfig(precision="fp32", strategy="default", jit="off",
                                            steps_per_execution=1), kind="avx2").describe()
    assert fixed == ("Hardware avx2: precision fp32, strategy default, XLA off, kernel gradients "
                     "dilated, fused batch norm, 1 pipeline thread, up to 1 step per call.")


def test_bf16_runs_from_avx512_up_and_is_refused_in_one_line_on_avx2():
    assert [k for k in hardware.KINDS if hardware.bf16_runs(k)] == [
        "avx512", "avx512_bf16", "amx", "gpu"]
    with pytest.raises(ValueError) as e:
        hp.precision_choice("bf16", "avx2")
    message = str(e.value)
    assert message.startswith("--precision bf16 cannot run on this CPU (kind avx2: no AVX-512")
    assert "use fp32 here" in message and "\n" not in message


def test_train_bf16_on_an_avx2_cpu_is_one_line_and_writes_no_checkpoint(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dcgan_tf_cli.main import cli

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # Our kind rules read it at each call.
    run = tmp_path / "r"
    result = CliRunner().invoke(cli, ["train", str(run), "--precision", "bf16", "--max-steps", "2",
                                      "--batch-size", "16", "--ngf", "8", "--ndf", "8"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --precision bf16 cannot run on this CPU (kind avx2: no AVX-512, where oneDNN has "
        "no bf16 kernels); use fp32 here, or bf16 on a CPU with AVX-512 or a GPU."]
    assert not (run / "checkpoints").exists() or not os.listdir(run / "checkpoints")
