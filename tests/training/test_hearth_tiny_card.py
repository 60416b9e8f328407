"""The hearth-tiny card is written from measurements and keeps the scaling sweep's section."""

from __future__ import annotations

import json
from pathlib import Path

from training.hearth_tiny import BuiltModel, write_card
from training.history import TrainingHistory
from training.quantize import QuantReportRow


def _built(recipe: str, loss: float) -> BuiltModel:
    report = [
        QuantReportRow("F16", Path(f"{recipe}-f16.gguf"), 10 * 1024**2, 40.5, 900.0),
        QuantReportRow("Q8_0", Path(f"{recipe}-Q8_0.gguf"), 5 * 1024**2, 40.9, 1200.0),
    ]
    history = TrainingHistory([1, 2], [6.0, 5.0], [2], [loss])
    return BuiltModel(recipe, 5_000_000, 4_000_000, 1_228_800, history, report, "The cat sat")


def test_card_reports_each_measurement_and_keeps_the_scaling_section(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "model"
    (data / "shards").mkdir(parents=True)
    shard = {"package": "sqlite3-doc", "version": "3.40", "licence": "public-domain"}
    manifest = {"shards": [shard | {"tokens": 1000}, shard | {"tokens": 500}]}
    (data / "shards" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out.mkdir()
    (out / "MODEL_CARD.md").write_text(
        "# old\n\n## Scaling sweep\n\nL(N) = 9 · N^-0.1\n\n## Files\n\n| old |\n", "utf-8"
    )

    card = write_card([_built("hearth-tiny", 4.25), _built("hearth-tiny-moe", 4.125)], data, out)

    text = card.read_text(encoding="utf-8")
    assert "| `sqlite3-doc` | 3.40 | public-domain | 1,500 |" in text
    assert "| hearth-tiny-moe | 5,000,000 | 4,000,000 | 1,228,800 | 4.125 | 40.50 | 900 |" in text
    assert "| hearth-tiny | Q8_0 | 5.00 MiB | 40.90 | 1200 |" in text
    assert "L(N) = 9 · N^-0.1" in text and "| old |" not in text
    assert text.index("## Scaling sweep") < text.index("## Files")
