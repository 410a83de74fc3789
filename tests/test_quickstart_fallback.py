"""The quickstart's int8 step falls back to QAT when post-training quantization fails its parity gate (the
`bccd_qat_fallback` run, on the shared BCCD float run; test_qat.py checks the QAT run it writes)."""
from __future__ import annotations


def test_quickstart_falls_back_to_qat_when_the_ptq_export_fails_its_gate(bccd_qat_fallback):
    """The quickstart's int8 step: a PTQ model outside its gate (here: a limit no model meets) is replaced by a
    QAT fine-tune's export, in the same export folder, and both tables are printed."""
    from spinenet_lite.runtimes.tflite import TFLiteRunner

    qs, lines = bccd_qat_fallback
    run = qs.run_dir
    assert sum("FAIL" in line for line in lines) == 2  # the PTQ table and the QAT table
    assert any(line.strip().startswith("QAT ") for line in lines)
    assert (run / "qat" / "qat.weights.h5").is_file() and qs.qat.run_dir == run / "qat"
    # the export folder now holds the QAT model: PTQ's graph has one QUANTIZE (the input); QAT's runs the input
    # normalisation in float and quantizes after it too
    runner = TFLiteRunner(run / "export" / "model_int8.tflite")
    ops = [op["op_name"] for op in runner.interpreter._get_ops_details()]
    assert ops.count("QUANTIZE") > 1
