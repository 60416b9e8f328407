"""Fine-tuned adapters as the backend serves them: registered by manifest, applied by llama.cpp,
and hearth-smol answering grounded questions with citations by default."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from backend.llm.runtime import LlamaRuntime
from backend.llm.types import ChatRequest, Finished, SamplingParams, Token
from backend.models.registry import ADAPTER_MANIFEST, ModelRegistry
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.conftest import launch
from tests.training.conftest import random_lora, tiny_finetune_config
from training.finetune import adapter_state, load_base
from training.lora_gguf import write_lora_gguf

SMOL = "hearth-smol"


def _reply(runtime: LlamaRuntime, model: str, question: str) -> str:
    pieces: list[str] = []
    finished: list[Finished] = []

    def sink(event: object) -> None:
        if isinstance(event, Token):
            pieces.append(event.text)
        elif isinstance(event, Finished):
            finished.append(event)

    params = SamplingParams(max_tokens=8, temperature=0.0, seed=1)
    request = ChatRequest(model, [{"role": "user", "content": question}], params)
    runtime.start_chat(request, sink, threading.Event()).result()
    assert finished and finished[0].model == model
    return "".join(pieces)


def test_an_adapter_manifest_registers_a_model_llama_cpp_runs(
    tmp_path: Path, tiny_base: Path
) -> None:
    layout = HomeLayout(tmp_path / "home").ensure()
    base_path = Path(shutil.copy(tiny_base, layout.models / "tiny.gguf"))
    base = load_base(base_path)
    folder = layout.models / "tiny-tuned"
    write_lora_gguf(
        folder / "tiny-tuned-lora.gguf",
        adapter_state(random_lora(base, std=0.5)),
        alpha=tiny_finetune_config().alpha,
        num_heads=base.num_heads,
        num_kv_heads=base.num_kv_heads,
        name="tiny-tuned",
    )
    manifest = {"name": "tiny-tuned", "base": "tiny", "adapter": "tiny-tuned-lora.gguf"}
    (folder / ADAPTER_MANIFEST).write_text(json.dumps(manifest))

    registry = ModelRegistry(layout, shipped_dir=tmp_path / "no-shipped-models")
    listed = {entry.name: entry for entry in registry.list()}
    assert set(listed) == {"tiny", "tiny-tuned"}  # the adapter file is not a model of its own
    tuned = listed["tiny-tuned"]
    assert tuned.path == base_path and tuned.lora == folder / "tiny-tuned-lora.gguf"
    assert tuned.to_dict()["adapter"] == str(tuned.lora)
    assert registry.get("tiny-tuned") == tuned

    runtime = LlamaRuntime(registry, Settings(context_size=256, threads=2))
    try:
        question = "The quick brown fox"
        assert _reply(runtime, "tiny-tuned", question) != _reply(runtime, "tiny", question)
    finally:
        runtime.close()

    (folder / ADAPTER_MANIFEST).write_text(json.dumps(manifest | {"base": "missing"}))
    assert "tiny-tuned" not in {entry.name for entry in registry.list()}


DOCUMENT = """Harbour notes

The lighthouse on Gull Point was built in 1871 from granite quarried on the island.
Its keeper, Mara Lind, keeps a ginger cat called Biscuit, who sleeps by the lamp room stove.
The light flashes white every ten seconds and can be seen eighteen nautical miles away.
Supply boats land at the north jetty on Tuesdays when the sea allows.
"""


def test_hearth_smol_is_the_default_and_cites_its_sources(tmp_path: Path) -> None:
    """A real collection, a real backend, and `hearth chat --collection` with no model named."""
    layout = HomeLayout(tmp_path / "home").ensure()
    layout.settings.write_text(json.dumps({"context_size": 2048, "threads": 2}))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text(DOCUMENT)
    backend = launch(layout)
    try:
        with backend.http() as http:
            body = {"name": "harbour", "paths": [str(docs)]}
            assert http.post("/hearth/documents/collections", json=body).status_code < 300
        question = "What is the name of the lighthouse keeper's cat?"
        command = ["-m", "backend", "chat", question]  # no model named: the grounded default
        result = subprocess.run(
            [sys.executable, *command, "--collection", "harbour", "--json"],
            env=os.environ | {"HEARTH_HOME": str(layout.root)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        backend.stop()
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["model"] == SMOL
    assert reply["sources"] and reply["sources"][0]["path"].endswith("harbour.txt")
    # The answer comes from the source and cites it, in the form hearth-smol was tuned for.
    answer = reply["answer"]
    assert "Biscuit" in answer and re.search(r"\[1\]", answer), answer
