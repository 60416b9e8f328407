"""Direct preference optimisation (DPO) of a LoRA adapter on chosen/rejected reply pairs.

For a prompt x with a chosen reply y_w and a rejected one y_l, the loss is (Rafailov et al.
2023, eq. 7)

    -log sigmoid(beta * [(log p(y_w|x) - log p_ref(y_w|x)) - (log p(y_l|x) - log p_ref(y_l|x))])

where log p is the summed log-probability of the reply's tokens under the policy, the prompt
masked as in fine-tuning. beta * (log p - log p_ref) is a reply's implicit reward; each step
reports the loss, the chosen-minus-rejected reward margin, the preference accuracy (the
share of pairs whose chosen reply has the larger reward) and the chosen replies' mean token
negative log-likelihood (NLL).

DPO alone may lower the chosen replies' likelihood too, as long as the rejected ones fall
further; on hearth-smol's pairs, where most rejected replies are the chosen one made longer, it
taught replies that stop early. `sft_weight` adds that weight times the chosen replies' mean
token NLL to the loss (the "DPO + NLL" objective of Pang et al. 2024), which holds the chosen
replies up.

The reference p_ref is the starting policy, frozen: the base with the LoRA update off (a fresh
adapter's B matrices are zero), or an SFT run's adapter (`--adapter RUN`), which DPO then goes
on training. Its log-probabilities come from the same model with the starting adapter's
weights swapped in for the forward pass, so no second copy of the base is held.

A DPO run folder is a fine-tuning run folder (finetune.pt, history.json, loss.png): `--resume`
continues it exactly, and `python -m training finetune-export` writes its adapter or merged
model like an SFT run's.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from training.dpo_data import PreferencePair, encode_pair
from training.errors import TrainingError
from training.finetune import (
    FINETUNE_CHECKPOINT,
    BaseModel,
    FinetuneConfig,
    Trainer,
    adapter_state,
    collate,
    load_adapter,
    new_trainer,
    read_finetune_checkpoint,
    reply_logits,
    write_reports,
)
from training.finetune_data import IGNORE_INDEX, EncodedExample, batch_schedule
from training.history import TrainingHistory

DPO_OBJECTIVE = "dpo"
EncodedPair = tuple[EncodedExample, EncodedExample]  # (chosen, rejected)


@dataclass(frozen=True)
class DpoConfig:
    beta: float = 0.1  # how far the policy may move from the reference: larger keeps it closer
    sft_weight: float = 0.0  # weight of the chosen replies' mean token NLL in the loss


@dataclass(frozen=True)
class PreferenceStats:
    loss: float
    margin: float  # mean chosen-minus-rejected reward
    accuracy: float  # share of pairs whose chosen reply has the larger reward
    chosen_nll: float  # mean over pairs of the chosen reply's mean token NLL


@dataclass(frozen=True)
class PreferenceLoss:
    losses: torch.Tensor  # (B,) per pair
    chosen_rewards: torch.Tensor  # (B,) beta * (log p - log p_ref) of the chosen replies
    rejected_rewards: torch.Tensor
    chosen_nll: torch.Tensor | None = None  # (B,) mean token NLL of the chosen replies

    @property
    def loss(self) -> torch.Tensor:
        return self.losses.mean()

    def objective(self, sft_weight: float) -> torch.Tensor:
        """What a step minimises: the DPO loss plus `sft_weight` times the chosen NLL."""
        if not sft_weight:
            return self.loss
        assert self.chosen_nll is not None
        return self.loss + sft_weight * self.chosen_nll.mean()

    def stats(self) -> PreferenceStats:
        margins = (self.chosen_rewards - self.rejected_rewards).detach()
        nll = float("nan") if self.chosen_nll is None else float(self.chosen_nll.detach().mean())
        return PreferenceStats(
            float(self.losses.detach().mean()),
            float(margins.mean()),
            float((margins > 0).float().mean()),
            nll,
        )


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> PreferenceLoss:
    """The sigmoid DPO loss from summed reply log-probabilities, one entry per pair."""
    chosen = beta * (policy_chosen - reference_chosen)
    rejected = beta * (policy_rejected - reference_rejected)
    losses = -nn.functional.logsigmoid(chosen - rejected)
    return PreferenceLoss(losses, chosen.detach(), rejected.detach())


def reply_logps(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B,) summed log-probability of each row's reply tokens."""
    logits, targets, scored = reply_logits(model, batch)
    token_logps = -nn.functional.cross_entropy(logits, targets, reduction="none")
    rows = scored.nonzero()[:, 0]  # the row of each reply token, in the order logits has them
    sums = torch.zeros(scored.shape[0], dtype=token_logps.dtype, device=token_logps.device)
    return sums.index_add(0, rows, token_logps)


@contextmanager
def swapped_adapter(model: nn.Module, adapter: Mapping[str, torch.Tensor]) -> Iterator[None]:
    """The model with `adapter`'s LoRA weights in place of its own, in eval mode, no grad."""
    own = adapter_state(model)
    was_training = model.training
    model.eval()
    try:
        load_adapter(model, adapter)
        with torch.no_grad():
            yield
    finally:
        load_adapter(model, own)
        model.train(was_training)


def preference_loss(
    model: nn.Module,
    reference: Mapping[str, torch.Tensor],
    pairs: Sequence[EncodedPair],
    pad_id: int,
    beta: float,
) -> PreferenceLoss:
    """The DPO loss of `pairs`: chosen and rejected replies go through the model as one batch."""
    batch = collate([c for c, _ in pairs] + [r for _, r in pairs], pad_id)
    with swapped_adapter(model, reference):
        reference_logps = reply_logps(model, batch)
    policy_logps = reply_logps(model, batch)
    n = len(pairs)
    terms = dpo_loss(
        policy_logps[:n], policy_logps[n:], reference_logps[:n], reference_logps[n:], beta
    )
    chosen_tokens = (batch["labels"][:n, 1:] != IGNORE_INDEX).sum(dim=1)
    return dataclasses.replace(terms, chosen_nll=-policy_logps[:n] / chosen_tokens)


@torch.no_grad()
def heldout_preferences(
    model: nn.Module,
    reference: Mapping[str, torch.Tensor],
    pairs: Sequence[EncodedPair],
    pad_id: int,
    beta: float,
    batch_size: int = 8,
) -> PreferenceStats:
    was_training = model.training
    model.eval()
    parts = [
        preference_loss(model, reference, pairs[i : i + batch_size], pad_id, beta)
        for i in range(0, len(pairs), batch_size)
    ]
    model.train(was_training)
    return PreferenceLoss(
        torch.cat([p.losses for p in parts]),
        torch.cat([p.chosen_rewards for p in parts]),
        torch.cat([p.rejected_rewards for p in parts]),
        torch.cat([p.chosen_nll for p in parts if p.chosen_nll is not None]),
    ).stats()


@dataclass
class DpoHistory(TrainingHistory):
    """Fine-tuning's loss history (the DPO loss) plus the reward margin, the preference
    accuracy and the chosen replies' NLL."""

    train_margin: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    train_chosen_nll: list[float] = field(default_factory=list)
    eval_margin: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    eval_chosen_nll: list[float] = field(default_factory=list)

    def record_train_stats(self, step: int, stats: PreferenceStats) -> None:
        self.record_train(step, stats.loss)
        self.train_margin.append(stats.margin)
        self.train_accuracy.append(stats.accuracy)
        self.train_chosen_nll.append(stats.chosen_nll)

    def record_eval_stats(self, step: int, stats: PreferenceStats) -> None:
        self.record_eval(step, stats.loss)
        self.eval_margin.append(stats.margin)
        self.eval_accuracy.append(stats.accuracy)
        self.eval_chosen_nll.append(stats.chosen_nll)


def encode_pairs(
    base: BaseModel, pairs: Sequence[PreferencePair], max_tokens: int
) -> list[EncodedPair]:
    """The pairs that fit in `max_tokens`; says on stderr how many did not."""
    encoded = [encode_pair(p, base.render, base.tokenize, max_tokens) for p in pairs]
    kept = [e for e in encoded if e is not None]
    if len(kept) < len(encoded):
        print(
            f"left out {len(encoded) - len(kept)} pairs over {max_tokens} tokens", file=sys.stderr
        )
    return kept


def _start(
    run_dir: Path, base: BaseModel, config: FinetuneConfig, start_run: Path | None, resume: bool
) -> tuple[Trainer, dict[str, torch.Tensor], FinetuneConfig]:
    """(trainer, reference adapter, config): a resumed run keeps its own reference and LoRA
    shape; one started from an SFT run takes that run's adapter, rank and alpha."""
    source = run_dir if resume else start_run
    start = read_finetune_checkpoint(source) if source is not None else None
    if start is not None:
        stored = start["config"]
        config = config.replace(
            rank=stored["rank"], alpha=stored["alpha"], dropout=stored["dropout"]
        )
    trainer = new_trainer(base, config)
    trainer.objective, trainer.history = DPO_OBJECTIVE, DpoHistory()
    if resume:
        payload = trainer.load(run_dir / FINETUNE_CHECKPOINT)
        return trainer, payload["reference"], config
    if start is not None:
        load_adapter(trainer.model, start["adapter"])
    return trainer, adapter_state(trainer.model), config


@dataclass
class _DpoRun:
    """What every step of one DPO run needs besides its batch."""

    run_dir: Path
    base: BaseModel
    config: FinetuneConfig
    dpo_config: DpoConfig
    trainer: Trainer
    reference: dict[str, torch.Tensor]
    eval_set: list[EncodedPair]

    @property
    def history(self) -> DpoHistory:
        assert isinstance(self.trainer.history, DpoHistory)
        return self.trainer.history

    @property
    def pad_id(self) -> int:
        return int(self.base.tokenizer.pad_token_id or 0)

    def evaluate(self) -> None:
        stats = heldout_preferences(
            self.trainer.model, self.reference, self.eval_set, self.pad_id, self.dpo_config.beta
        )
        self.history.record_eval_stats(self.trainer.step, stats)

    def train_step(self, pairs: Sequence[EncodedPair]) -> PreferenceStats:
        trainer = self.trainer
        terms = preference_loss(
            trainer.model, self.reference, pairs, self.pad_id, self.dpo_config.beta
        )
        trainer.optimizer.zero_grad(set_to_none=True)
        terms.objective(self.dpo_config.sft_weight).backward()
        trainer.optimizer.step()
        trainer.scheduler.step()
        trainer.step += 1
        stats = terms.stats()
        self.history.record_train_stats(trainer.step, stats)
        return stats

    def save(self) -> None:
        self.trainer.save(
            self.run_dir / FINETUNE_CHECKPOINT,
            self.config,
            self.base,
            reference=self.reference,
            dpo=dataclasses.asdict(self.dpo_config),
        )


def dpo(
    run_dir: Path,
    base: BaseModel,
    train: Sequence[PreferencePair],
    heldout: Sequence[PreferencePair],
    config: FinetuneConfig,
    dpo_config: DpoConfig,
    *,
    start_run: Path | None = None,
    resume: bool = False,
    until_step: int | None = None,
    show_progress: bool = True,
) -> Trainer:
    """Train a LoRA adapter on `train` pairs, measuring `heldout` ones; returns the trainer."""
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer, reference, config = _start(run_dir, base, config, start_run, resume)
    train_set = encode_pairs(base, train, config.max_tokens)
    eval_set = encode_pairs(base, heldout[: config.eval_examples], config.max_tokens)
    if not train_set or not eval_set:
        raise TrainingError(f"no preference pair fits in {config.max_tokens} tokens")
    run = _DpoRun(run_dir, base, config, dpo_config, trainer, reference, eval_set)
    if not run.history.eval_steps:
        run.evaluate()
    schedule = batch_schedule(len(train_set), config.batch_size, config.steps, config.seed)
    last = min(config.steps, until_step or config.steps)
    bar = tqdm(total=last, initial=trainer.step, disable=not show_progress, desc="dpo")
    while trainer.step < last:
        stats = run.train_step([train_set[i] for i in schedule[trainer.step]])
        if trainer.step % config.eval_every == 0 or trainer.step == config.steps:
            run.evaluate()
        if trainer.step % config.checkpoint_every == 0 or trainer.step == last:
            run.save()
        bar.set_postfix(
            loss=f"{stats.loss:.3f}", margin=f"{stats.margin:.2f}", acc=f"{stats.accuracy:.2f}"
        )
        bar.update(1)
    bar.close()
    write_reports(run_dir, run.history, "DPO loss (-log sigmoid of the reward margin)")
    return trainer
