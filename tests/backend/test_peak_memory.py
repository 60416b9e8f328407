"""Peak memory of whole runs on hostile files (#18): indexing a folder holding a DOCX bomb, and
`hearth images label` on a 6 GB sparse image. Each runs in a child process that measures its
own peak RSS from after its start-up (models loaded), so the figure is that run's alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.backend.test_hostile_inputs import BOMB_PADDING, SPARSE_BYTES, write_padded_docx
from tests.backend.test_images_api import png_bytes

ROOT = Path(__file__).resolve().parents[2]
# An unbounded read would grow by the 300 MB the bomb inflates to, or by the 6 GB image; a
# bounded run grows by what one small file's chunks and Chroma's write buffers take.
BOUND_MB = 150

INDEXING = """
import json, sys
from pathlib import Path
from backend.documents.library import DocumentLibrary
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.fuzzing import peak_rss_growth

warm, folder = map(Path, sys.argv[1:3])
library = DocumentLibrary(HomeLayout.current().ensure(), Settings(threads=1))
list(library.add("warm", [warm]))  # loads the embedder and Chroma before the measurement
with peak_rss_growth() as peak:
    events = list(library.add("docs", [folder]))
files = {Path(f.path).name: [f.status, f.error] for f in library.files("docs")}
library.close()
print(json.dumps({"growth_mb": peak.growth_mb, "files": files}))
"""

LABELLING = """
import json, sys
from backend.cli import main
from tests.backend.fuzzing import peak_rss_growth

main(["images", "label", sys.argv[1] + ".missing"])  # its imports load before the measurement

with peak_rss_growth() as peak:
    code = main(["images", "label", sys.argv[1]])
print(json.dumps({"growth_mb": peak.growth_mb, "code": code}))
"""


def run_measured(script: str, home: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env=os.environ | {"HEARTH_HOME": str(home), "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_indexing_a_folder_with_a_docx_bomb_keeps_peak_memory_bounded(tmp_path: Path) -> None:
    warm, folder = tmp_path / "warm", tmp_path / "docs"
    warm.mkdir()
    folder.mkdir()
    (warm / "warm.md").write_text("Warming up the embedder.\n")
    write_padded_docx(folder / "bomb.docx", BOMB_PADDING)
    (folder / "notes.md").write_text("The harbour ferry leaves at seven.\n")
    measured = run_measured(INDEXING, tmp_path / "home", str(warm), str(folder))
    files = measured["files"]
    assert isinstance(files, dict)
    assert files["notes.md"][0] == "indexed"
    assert files["bomb.docx"][0] == "failed" and "a zip bomb?" in files["bomb.docx"][1]
    growth = measured["growth_mb"]
    assert isinstance(growth, float) and growth < BOUND_MB, f"peak RSS grew {growth:.0f} MB"


def test_labelling_a_6_gb_sparse_image_keeps_peak_memory_bounded(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:
        file.write(png_bytes("red"))
        file.truncate(SPARSE_BYTES)  # a hole: 6 GB long, a few bytes on disk
    measured = run_measured(LABELLING, tmp_path / "home", str(huge))
    assert measured["code"] == 1  # refused: over the image limit
    growth = measured["growth_mb"]
    assert isinstance(growth, float) and growth < BOUND_MB, f"peak RSS grew {growth:.0f} MB"
