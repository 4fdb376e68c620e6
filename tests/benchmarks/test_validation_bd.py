"""benchmarks/validation_bd.py turns a run's validation.csv into BD-rates against a baseline model's points."""

import json

from benchmarks import validation_bd


def test_each_validated_step_gets_its_bd_rate_against_the_baseline(tmp_path, capsys):
    base = [{"quality": q, "bpp": bpp, "psnr": psnr} for q, bpp, psnr in ((1, 0.2, 28.0), (2, 0.4, 30.0), (3, 0.8, 32.0))]
    (tmp_path / "base.json").write_text(json.dumps({"r.safetensors": {"points": base}}))
    rows = ["step,hours,quality,bpp,psnr,weights"]
    for step, scale in ((1000, 1.0), (2000, 0.9)):  # the second step codes at 90 % of the baseline's rate
        for point in base:
            rows.append(f"{step},0.1,{point['quality']},{point['bpp'] * scale},{point['psnr']},ema")
            rows.append(f"{step},0.1,{point['quality']},{point['bpp'] * 2},{point['psnr']},raw")
    (tmp_path / "validation.csv").write_text("\n".join(rows) + "\n")
    assert validation_bd.main([str(tmp_path / "validation.csv"), str(tmp_path / "base.json")]) == 0
    assert capsys.readouterr().out.splitlines() == ["1000 +0.00%", "2000 -10.00%"]
    validation_bd.main([str(tmp_path / "validation.csv"), str(tmp_path / "base.json"), "--weights", "raw"])
    assert capsys.readouterr().out.splitlines() == ["1000 +100.00%", "2000 +100.00%"]
