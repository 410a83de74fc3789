"""The quickstart's int8 step falls back to QAT when post-training quantization fails its parity gate (on the
shared BCCD float run, which the test runner trains once for this file and test_qat.py)."""
from __future__ import annotations


def test_quickstart_falls_back_to_qat_when_the_ptq_export_fails_its_gate(bccd_float_run, tmp_path):
    """The quickstart's int8 step: a PTQ model outside its gate (here: a limit no model meets) is replaced by a
    QAT fine-tune's export, in the same export folder, and both tables are printed."""
    import shutil

    from spinenet_lite.quickstart import QuickstartResult, export_int8
    from spinenet_lite.runs import load_trained

    run = tmp_path / "run"
    shutil.copytree(bccd_float_run, run)
    recipe_file = run / "recipe.yaml"
    text = recipe_file.read_text()
    assert "max_ap_drop_int8: 1.5" in text
    # QAT fine-tunes on the smaller test split here, to keep the test short
    recipe_file.write_text(text.replace("max_ap_drop_int8: 1.5", "max_ap_drop_int8: -100.0")
                           .replace("  train: train\n", "  train: test\n"))
    recipe = load_trained(run).recipe
    assert recipe.data.train == "test"
    qs = QuickstartResult(run_dir=run, recipe=recipe, train=None, metrics={}, num_train=0, num_val=0, seconds=0.0,
                          progress=False)

    lines = export_int8(qs)
    assert sum("FAIL" in line for line in lines) == 2  # the PTQ table and the QAT table
    assert any(line.strip().startswith("QAT ") for line in lines)
    assert (run / "qat" / "qat.weights.h5").is_file()
    from spinenet_lite.runtimes.tflite import TFLiteRunner

    # the export folder now holds the QAT model: PTQ's graph has one QUANTIZE (the input); QAT's runs the input
    # normalisation in float and quantizes after it too
    runner = TFLiteRunner(run / "export" / "model_int8.tflite")
    ops = [op["op_name"] for op in runner.interpreter._get_ops_details()]
    assert ops.count("QUANTIZE") > 1
