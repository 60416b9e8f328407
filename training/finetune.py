"""LoRA fine-tuning of a chat model (an HF folder or a GGUF file) on conversations, on CPU or GPU.

The loss covers the assistant's replies only. A run folder holds the checkpoint (adapter,
optimizer, scheduler, RNG and history), so `--resume` continues exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from training.checkpoint import MissingCheckpointError
from training.errors import TrainingError
from training.finetune_data import (
    IGNORE_INDEX,
    EncodedExample,
    Messages,
    batch_schedule,
    encode_conversation,
)
from training.history import TrainingHistory

FINETUNE_CHECKPOINT = "finetune.pt"
# Every linear layer of a LLaMA block: attention and feed-forward.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class FinetuneConfig:
    """LoRA and optimizer settings; stored in the checkpoint so export and resume agree."""

    rank: int = 16
    alpha: float = 32.0  # the update is scaled by alpha / rank, in peft and in llama.cpp alike
    dropout: float = 0.0
    steps: int = 300
    batch_size: int = 8
    learning_rate: float = 3e-4
    warmup_steps: int = 10
    max_tokens: int = 512  # longer examples are cut
    eval_every: int = 50
    eval_examples: int = 64
    checkpoint_every: int = 25
    seed: int = 0

    def replace(self, **changes: Any) -> FinetuneConfig:
        return dataclasses.replace(self, **changes)


@dataclass
class BaseModel:
    """A base chat model as torch loads it, with what rendering and export need."""

    model: nn.Module
    tokenizer: Any  # a transformers tokenizer
    chat_template: str | None
    path: Path

    @property
    def num_heads(self) -> int:
        return int(self.model.config.num_attention_heads)

    @property
    def num_kv_heads(self) -> int:
        return int(self.model.config.num_key_value_heads)

    def render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool) -> str:
        from backend.llm.chat_template import render_chat

        return render_chat(
            messages,
            self.chat_template,
            bos_token=self.tokenizer.bos_token or "",
            eos_token=self.tokenizer.eos_token or "",
            add_generation_prompt=add_generation_prompt,
        )

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def encode(self, conversations: Sequence[Messages], max_tokens: int) -> list[EncodedExample]:
        return [
            encode_conversation(c, self.render, self.tokenize, max_tokens) for c in conversations
        ]


def load_base(path: Path) -> BaseModel:
    """A GGUF file is dequantized to float32: LoRA then trains against the weights llama.cpp
    will run, and the chat template is the one stored in the file, as the backend reads it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from backend.models.gguf_info import read_gguf_info

    if path.suffix == ".gguf":
        template = read_gguf_info(path).chat_template
        kwargs: dict[str, Any] = {"gguf_file": path.name}
        folder = path.parent
    else:
        kwargs, folder, template = {}, path, None
    if not folder.exists():
        raise FileNotFoundError(f"no base model at {path}")
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    return BaseModel(model, tokenizer, template or tokenizer.chat_template, path)


def add_lora(model: nn.Module, config: FinetuneConfig) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(LORA_TARGETS),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable (LoRA) tensors under their peft names."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_adapter(model: nn.Module, adapter: Mapping[str, torch.Tensor]) -> None:
    """Copy LoRA tensors (as `adapter_state` names them) into the model's own."""
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in adapter.items():
            parameters[name].copy_(tensor)


def collate(examples: Sequence[EncodedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch: (B, T) input ids, attention mask and labels."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def reply_logits(
    model: nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits (N, V), target ids (N,), (B, T-1) mask of where they sit) for the N reply tokens.

    The output layer runs only where a reply token is predicted: with a vocabulary of ~50k and
    replies a fifth of each example, that saves most of its time and memory.
    """
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state  # (B, T, H)
    targets = batch["labels"][:, 1:]  # position t predicts token t + 1
    scored = targets != IGNORE_INDEX
    logits = causal_lm.lm_head(hidden[:, :-1][scored])  # (N, V)
    return logits.float(), targets[scored], scored


def reply_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over reply tokens, and how many there were."""
    logits, targets, scored = reply_logits(model, batch)
    loss = nn.functional.cross_entropy(logits, targets, reduction="sum")
    return loss, int(scored.sum())


@torch.no_grad()
def heldout_loss(
    model: nn.Module, examples: Sequence[EncodedExample], pad_id: int, batch_size: int
) -> float:
    """Mean loss per reply token over the held-out conversations."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        loss, n = reply_loss(model, collate(examples[start : start + batch_size], pad_id))
        total, count = total + float(loss), count + n
    model.train()
    return total / max(count, 1)


def _warmup_cosine(config: FinetuneConfig) -> Any:
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


@dataclass
class Trainer:
    """A LoRA run's state; `objective` names the loss, so one run never resumes as another."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    history: TrainingHistory
    step: int = 0
    objective: str = "finetune"

    def save(self, path: Path, config: FinetuneConfig, base: BaseModel, **extra: Any) -> None:
        """`extra` holds what the objective adds (DPO: its settings and reference adapter)."""
        payload = {
            **extra,
            "objective": self.objective,
            "adapter": adapter_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "history": self.history.to_dict(),
            "rng": torch.get_rng_state(),
            "config": dataclasses.asdict(config),
            "base": str(base.path),
            "num_heads": base.num_heads,
            "num_kv_heads": base.num_kv_heads,
        }
        partial = path.with_suffix(".partial")  # a run killed mid-save keeps its last checkpoint
        torch.save(payload, partial)
        os.replace(partial, path)

    def load(self, path: Path) -> dict[str, Any]:
        """Restore the run from `path`; returns the whole payload, extras included."""
        if not path.is_file():
            raise MissingCheckpointError(f"no fine-tuning checkpoint to resume at {path}")
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        found = payload.get("objective", "finetune")
        if found != self.objective:
            raise TrainingError(f"{path} is a `{found}` run; `{self.objective}` cannot resume it")
        load_adapter(self.model, payload["adapter"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        torch.set_rng_state(payload["rng"])
        self.step = payload["step"]
        self.history = type(self.history).from_dict(payload["history"])
        return payload


def read_finetune_checkpoint(run_dir: Path) -> dict[str, Any]:
    path = run_dir / FINETUNE_CHECKPOINT
    if not path.is_file():
        raise MissingCheckpointError(
            f"no fine-tuning checkpoint at {path}; train one with `python -m training finetune`"
        )
    payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return payload


def new_trainer(base: BaseModel, config: FinetuneConfig) -> Trainer:
    torch.manual_seed(config.seed)  # the LoRA A matrices start random
    model = add_lora(base.model, config)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    scheduler = LambdaLR(optimizer, _warmup_cosine(config))
    return Trainer(model, optimizer, scheduler, TrainingHistory())


def finetune(
    run_dir: Path,
    base: BaseModel,
    train: Sequence[Messages],
    heldout: Sequence[Messages],
    config: FinetuneConfig,
    *,
    resume: bool = False,
    until_step: int | None = None,
    show_progress: bool = True,
) -> Trainer:
    """Train a LoRA adapter on `train`, measuring `heldout` loss; returns the trainer state."""
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = run_dir / FINETUNE_CHECKPOINT
    train_set = base.encode(train, config.max_tokens)
    eval_set = base.encode(heldout[: config.eval_examples], config.max_tokens)
    pad_id = base.tokenizer.pad_token_id or 0
    trainer = new_trainer(base, config)
    if resume:
        trainer.load(checkpoint)
    elif not trainer.history.eval_steps:
        trainer.history.record_eval(0, heldout_loss(trainer.model, eval_set, pad_id, 8))
    schedule = batch_schedule(len(train_set), config.batch_size, config.steps, config.seed)
    last = min(config.steps, until_step or config.steps)
    bar = tqdm(total=last, initial=trainer.step, disable=not show_progress, desc="finetune")
    started, tokens = time.perf_counter(), 0
    while trainer.step < last:
        batch = collate([train_set[i] for i in schedule[trainer.step]], pad_id)
        loss_sum, count = reply_loss(trainer.model, batch)
        loss = loss_sum / max(count, 1)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()
        trainer.scheduler.step()
        trainer.step += 1
        tokens += int(batch["attention_mask"].sum())
        trainer.history.record_train(trainer.step, float(loss.detach()))
        if trainer.step % config.eval_every == 0 or trainer.step == config.steps:
            trainer.history.record_eval(
                trainer.step, heldout_loss(trainer.model, eval_set, pad_id, 8)
            )
        if trainer.step % config.checkpoint_every == 0 or trainer.step == last:
            trainer.save(checkpoint, config, base)
        rate = tokens / (time.perf_counter() - started)
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}", tok_s=f"{rate:.0f}")
        bar.update(1)
    bar.close()
    write_reports(run_dir, trainer.history)
    return trainer


def write_reports(run_dir: Path, history: TrainingHistory, ylabel: str | None = None) -> None:
    from training.plots import CROSS_ENTROPY, plot_losses

    history.write_json(run_dir / "history.json")
    if history.train_steps:
        plot_losses(history, run_dir / "loss.png", ylabel or CROSS_ENTROPY)
