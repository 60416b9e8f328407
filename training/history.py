"""The losses a training run records, kept in its checkpoint and written as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainingHistory:
    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)

    def record_train(self, step: int, loss: float) -> None:
        self.train_steps.append(step)
        self.train_loss.append(loss)

    def record_eval(self, step: int, loss: float) -> None:
        self.eval_steps.append(step)
        self.eval_loss.append(loss)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingHistory:
        return cls(**data)

    def write_json(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path
