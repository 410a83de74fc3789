"""End to end: the harness on a tiny model and one format produces the table, CSV, Markdown and plots."""
import pytest

from spinenet_lite.benchmarks.harness import BenchmarkConfig, run_benchmark
from spinenet_lite.benchmarks.report import read_csv


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "run"
    lines = []
    cfg = BenchmarkConfig(models=("spinenet49xxs",), formats=("keras",), threads=(1,), runs=3, warmup=1,
                          input_size=64, num_classes=2, out=str(out), peak=True)
    rows, peaks, folder = run_benchmark(cfg, echo=lines.append)
    return rows, peaks, folder, "\n".join(lines)


def test_files_and_table(tiny_run):
    rows, peaks, folder, printed = tiny_run
    for name in ("results.csv", "results.md", "latency_vs_ap.png", "macs_vs_ap.png"):
        assert (folder / name).stat().st_size > 0, name
    csv_rows = read_csv(folder / "results.csv")
    assert len(csv_rows) == 1 and csv_rows[0]["format"] == "keras" and int(csv_rows[0]["threads"]) >= 1
    assert "spinenet49xxs" in printed and "median ms" in printed
    assert "| spinenet49xxs |" in (folder / "results.md").read_text()


def test_row_uses_the_foundation_mac_counter(tiny_run):
    from spinenet_lite.counting import count_macs, count_params
    from spinenet_lite.models.registry import create_model

    row = tiny_run[0][0]
    model = create_model("spinenet49xxs", num_classes=2, input_size=64)
    assert row.macs_b == pytest.approx(count_macs(model) / 1e9)
    assert row.params_m == pytest.approx(count_params(model) / 1e6)
    assert row.median_ms > 0 and row.p90_ms >= row.median_ms
    assert row.ap == pytest.approx(16.9) and row.ap_source == "paper (COCO)"


def test_keras_rows_have_no_peak(tiny_run):
    rows, peaks, _, _ = tiny_run
    assert rows[0].peak_fraction is None  # no matrix-product peak exists for the Keras runtime
    assert peaks == {}  # only the runtimes of the chosen formats get a peak


def test_efficiency_is_against_the_same_runtime_peak():
    from spinenet_lite.benchmarks.harness import Candidate, _row
    from spinenet_lite.benchmarks.peak import Peak
    from spinenet_lite.benchmarks.runtimes import Runner
    from spinenet_lite.benchmarks.timing import Timing

    candidate = Candidate("m", "registry", 64, macs_b=0.5)
    runner = Runner("tflite-int8", 1, lambda: None, 1000, None, "tflite", "int8")
    peak = Peak("tflite", "int8", 1, 10.0, 1e11)
    row = _row(candidate, runner, Timing(10.0, 12.0, 10.5, 9.0, 5), None, BenchmarkConfig(), peak)
    assert row.gmacs_per_s == pytest.approx(50.0)  # 0.5 G MACs in 10 ms
    assert row.peak_fraction == pytest.approx(0.5)  # of 100 G MACs/s


def test_reuse_models_copies_an_earlier_file_and_checks_its_size(tmp_path):
    from spinenet_lite.benchmarks.harness import Candidate, _reused
    from spinenet_lite.errors import SpineNetLiteError
    from spinenet_lite.keras import keras, tf

    image = keras.Input((8, 8, 3), batch_size=1)
    tiny = keras.Model(image, keras.layers.Conv2D(2, 1)(image))
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "m_tflite-fp32.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(tiny).convert())

    path = _reused(Candidate("m", "registry", 8), "tflite-fp32", earlier, tmp_path / "models")
    assert path == tmp_path / "models" / "m_tflite-fp32.tflite" and path.stat().st_size > 0
    assert _reused(Candidate("m", "registry", 8), "tflite-int8", earlier, tmp_path / "models") is None
    with pytest.raises(SpineNetLiteError, match="takes 8 px"):
        _reused(Candidate("m", "registry", 16), "tflite-fp32", earlier, tmp_path / "models")
