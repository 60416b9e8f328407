"""The one owner of `llama_cpp.Llama`: one resident chat model, every call on a single worker.

Requests queue on the worker in arrival order, so a request that arrives while a model loads
waits for it instead of failing, and concurrent streams never interleave.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.errors import HearthError, InvalidRequestError
from backend.llm.chat_template import render_chat
from backend.llm.context_window import (
    ContextBudget,
    EmptyPromptError,
    fit_messages,
    overflow_error,
)
from backend.llm.loop_detector import LoopDetector
from backend.llm.text_stream import TextStream
from backend.llm.tool_grammar import settle_tool_use
from backend.llm.types import (
    ChatRequest,
    CompletionRequest,
    EventSink,
    Finished,
    PromptMessage,
    ResolvedModel,
    SamplingParams,
    Stage,
    Timings,
    Token,
    TokenLogprob,
    ToolUse,
)
from backend.llm.utf8_guard import Utf8Guard
from backend.models.memory import ensure_fits, estimate_memory
from backend.models.registry import ModelEntry, ModelRegistry
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.llm.vision import VisionProjector

log = logging.getLogger(__name__)


class ModelLoadError(HearthError, RuntimeError):
    """llama.cpp could not load a model file that passed validation."""

    code = "model_load_failed"


class InvalidLogitBiasError(InvalidRequestError, ValueError):
    """`logit_bias` names a token id outside the model's vocabulary."""

    code = "invalid_logit_bias"


class InvalidPromptIdsError(InvalidRequestError, ValueError):
    """A token-id prompt holds ids outside the model's vocabulary."""

    code = "invalid_prompt"


@dataclass
class _Resident:
    entry: ModelEntry
    llama: Any  # llama_cpp.Llama
    n_ctx: int
    projector: VisionProjector | None = None  # loaded with the first image
    guard: Utf8Guard | None = None  # built with the first grammar-constrained reply

    def vision(self) -> VisionProjector:
        if self.entry.mmproj is None:
            raise ModelLoadError(f"'{self.entry.name}' has no vision projector (mmproj)")
        if self.projector is None:
            from backend.llm.vision import VisionError, VisionProjector

            try:
                self.projector = VisionProjector(self.llama, self.entry.mmproj)
            except VisionError as exc:
                raise ModelLoadError(str(exc)) from exc
            log.info("loaded vision projector %s", self.entry.mmproj.name)
        return self.projector

    def tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def token_text(self, token: int) -> str:
        return self.token_bytes(token, special=True).decode("utf-8", "replace")

    def token_bytes(self, token: int, special: bool = False) -> bytes:
        return bytes(self.llama.detokenize([token], special=special))

    def check_logit_bias(self, logit_bias: tuple[tuple[int, float], ...]) -> None:
        """Refuse ids the model lacks, which would otherwise fail inside every sampling step."""
        n_vocab = self.llama.n_vocab()
        outside = [token for token, _ in logit_bias if not 0 <= token < n_vocab]
        if outside:
            raise InvalidLogitBiasError(
                f"logit_bias names token id(s) {outside} outside the vocabulary of "
                f"'{self.entry.name}' (ids 0 to {n_vocab - 1})",
                param="logit_bias",
            )

    def check_prompt_ids(self, prompt: tuple[int, ...]) -> list[int]:
        """A prompt of token ids, refused naming `prompt` if any is not in the vocabulary."""
        n_vocab = self.llama.n_vocab()
        outside = sorted({token for token in prompt if not 0 <= token < n_vocab})
        if outside:
            raise InvalidPromptIdsError(
                f"prompt holds token id(s) {outside[:10]} outside the vocabulary of "
                f"'{self.entry.name}' (ids 0 to {n_vocab - 1})",
                param="prompt",
            )
        return list(prompt)

    def is_end_of_generation(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llama._model.vocab, token))

    def sample(
        self,
        prompt: list[int],
        params: SamplingParams,
        cancel: threading.Event,
        recorder: LogprobRecorder | None = None,
        report: EventSink | None = None,
    ) -> Iterator[int]:
        """Sampled tokens, one at a time; ends as soon as `cancel` is set. `report` hears how
        much of the prompt is read, batch by batch, then that writing begins."""
        from llama_cpp import (
            LLAMA_DEFAULT_SEED,
            LlamaGrammar,
            LogitsProcessorList,
            StoppingCriteriaList,
        )

        # Without a seed, draw a fresh one, so an earlier request's seed does not linger.
        self.llama.set_seed(LLAMA_DEFAULT_SEED if params.seed is None else params.seed)
        # The recorder comes first, so it sees the model's own distribution.
        processors: list[Callable[[Any, Any], Any]] = [recorder] if recorder else []
        if params.logit_bias:
            ids = np.array([token for token, _ in params.logit_bias])
            biases = np.array([bias for _, bias in params.logit_bias], dtype=np.float32)

            def add_bias(_ids: Any, scores: Any) -> Any:
                scores[ids] += biases
                return scores

            processors.append(add_bias)
        if params.grammar:
            self.guard = self.guard or Utf8Guard(self.token_bytes, self.llama.n_vocab())
            processors.append(self.guard)
        # Checked after every sampled token, before it is handed out.
        stop_on_cancel = StoppingCriteriaList([lambda _ids, _logits: cancel.is_set()])
        grammar = LlamaGrammar.from_string(params.grammar) if params.grammar else None
        if report is not None:
            # An instance attribute shadows Llama.eval for generate's first call: the prompt.
            self.llama.eval = _reading_eval(self.llama, report)
        try:
            yield from self.llama.generate(
                prompt,
                temp=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k,
                min_p=params.min_p,
                repeat_penalty=params.repeat_penalty,
                presence_penalty=params.presence_penalty,
                frequency_penalty=params.frequency_penalty,
                logits_processor=LogitsProcessorList(processors) if processors else None,
                stopping_criteria=stop_on_cancel,
                grammar=grammar,
            )
        finally:
            self.llama.__dict__.pop("eval", None)


def _reading_eval(llama: Any, report: EventSink) -> Callable[[Sequence[int]], None]:
    """Llama.eval for the prompt, called once per batch of `n_batch` tokens, as Llama.eval
    itself splits them, so the tokens and their positions are the same; after each batch it
    reports how many of the prompt's tokens are read. Later calls (one sampled token each) go
    to Llama.eval again."""
    from llama_cpp import Llama

    def eval_in_batches(tokens: Sequence[int]) -> None:
        del llama.eval
        done = llama.n_tokens  # a prefix kept from the last prompt is read already
        total = done + len(tokens)
        report(Stage("reading", done=done, total=total))
        for start in range(0, len(tokens), llama.n_batch):
            Llama.eval(llama, tokens[start : start + llama.n_batch])
            report(Stage("reading", done=llama.n_tokens, total=total))
        report(Stage("writing"))

    return eval_in_batches


class LogprobRecorder:
    """A logits processor that keeps the log-probabilities of the position being sampled."""

    def __init__(self, resident: _Resident, top: int) -> None:
        self._resident = resident
        self._top = top
        self._last: np.ndarray | None = None

    def __call__(self, _ids: Any, scores: np.ndarray) -> np.ndarray:
        shifted = scores.astype(np.float64) - scores.max()
        self._last = shifted - np.log(np.exp(shifted).sum())
        return scores

    def entry(self, token: int) -> TokenLogprob:
        """The sampled `token`'s log-probability, from the distribution it was drawn from."""
        assert self._last is not None, "a token is sampled only after its logits are seen"
        logprobs = self._last

        def piece(token: int) -> bytes:
            return self._resident.token_bytes(token, special=True)

        return TokenLogprob(
            token=piece(token),
            logprob=float(logprobs[token]),
            top=tuple((piece(other), float(logprobs[other])) for other in self._likeliest()),
        )

    def _likeliest(self) -> list[int]:
        if not self._top or self._last is None:
            return []
        count = min(self._top, len(self._last))
        candidates = np.argpartition(-self._last, count - 1)[:count]
        return [int(t) for t in candidates[np.argsort(-self._last[candidates])]]


class LlamaRuntime:
    """Runs chat and completion requests against a locally loaded GGUF."""

    def __init__(self, registry: ModelRegistry, settings: Settings) -> None:
        self._registry = registry
        self._settings = settings
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._resident: _Resident | None = None

    def check_model(self, name: str) -> ResolvedModel:
        entry = self._registry.get(name)
        context = self._context_size(entry)
        ensure_fits(name, estimate_memory(entry.info, context), context)
        return ResolvedModel(entry.name, vision=entry.vision)

    def start_chat(
        self, request: ChatRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        return self._worker.submit(self._run_chat, request, sink, cancel)

    def start_completion(
        self, request: CompletionRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        return self._worker.submit(self._run_completion, request, sink, cancel)

    def close(self) -> None:
        """Finish queued work, then free the model."""
        self._worker.submit(self._unload).result()
        self._worker.shutdown(wait=True)

    # Everything below runs on the worker thread.

    def _context_size(self, entry: ModelEntry) -> int:
        return entry.context_size(self._settings.context_size)

    def _unload(self) -> None:
        if self._resident is not None:
            self._resident.llama.close()
            self._resident = None

    def _load(self, name: str, report: EventSink | None = None) -> _Resident:
        entry = self._registry.get(name)
        resident = self._resident
        if resident is not None and (
            resident.entry.path,
            resident.entry.lora,
            resident.entry.settings,
        ) == (entry.path, entry.lora, entry.settings):  # a changed setting takes a reload
            return resident
        n_ctx = self._context_size(entry)
        ensure_fits(name, estimate_memory(entry.info, n_ctx), n_ctx)
        self._unload()
        if report is not None:
            report(Stage("loading", model=name))
        from llama_cpp import Llama

        started = time.perf_counter()
        try:
            llama = Llama(
                model_path=str(entry.path),
                lora_path=str(entry.lora) if entry.lora else None,
                n_ctx=n_ctx,
                n_threads=entry.settings.threads or self._settings.threads,
                n_gpu_layers=entry.settings.gpu_layers or 0,  # only GPU builds of llama.cpp
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"llama.cpp could not load '{name}': {exc}") from exc
        log.info("loaded %s in %.2fs", name, time.perf_counter() - started)
        self._resident = _Resident(entry, llama, n_ctx)
        return self._resident

    @staticmethod
    def _renderer(
        resident: _Resident, tool_use: ToolUse | None
    ) -> Callable[[list[PromptMessage]], str]:
        llama = resident.llama
        bos, eos = llama.token_bos(), llama.token_eos()

        def render(messages: list[PromptMessage]) -> str:
            return render_chat(
                messages,
                resident.entry.info.chat_template,
                tool_use=tool_use,
                bos_token=resident.token_text(bos) if bos >= 0 else "",
                eos_token=resident.token_text(eos) if eos >= 0 else "",
            )

        return render

    def _run_chat(self, request: ChatRequest, sink: EventSink, cancel: threading.Event) -> None:
        resident = self._load(request.model, sink)
        request = settle_tool_use(request, resident.entry.info.chat_template)
        if request.images:
            self._run_vision_chat(resident, request, sink, cancel)
            return
        prompt, dropped = fit_messages(
            request.messages,
            self._renderer(resident, request.tool_use),
            lambda text: len(resident.tokenize(text)),
            ContextBudget.for_reply(resident.n_ctx, request.params.max_tokens),
            request.drop_old_turns,
        )
        self._generate(resident, resident.tokenize(prompt), request.params, sink, cancel, dropped)

    def _run_vision_chat(
        self, resident: _Resident, request: ChatRequest, sink: EventSink, cancel: threading.Event
    ) -> None:
        """The images go in as embeddings before the last message's text."""
        from backend.llm.vision import GenerationCancelled

        projector = resident.vision()
        marker, images = projector.marker, request.images
        messages = [m.copy() for m in request.messages]
        messages[-1]["content"] = marker * len(images) + "\n" + messages[-1]["content"]
        with projector.chunks(marker * len(images), images) as only_images:
            image_tokens = projector.token_count(only_images)
        budget = ContextBudget.for_reply(resident.n_ctx, request.params.max_tokens)
        prompt, dropped = fit_messages(
            messages,
            self._renderer(resident, request.tool_use),
            lambda text: len(resident.tokenize(text.replace(marker, ""))) + image_tokens,
            budget,
            request.drop_old_turns,
        )
        with projector.chunks(prompt, images) as chunks:
            if (needed := projector.token_count(chunks)) > budget.for_prompt:
                raise overflow_error(needed, budget, note=" with their images")
            started = time.perf_counter()
            try:
                tokens = projector.evaluate(chunks, cancel)
            except GenerationCancelled:
                elapsed = (time.perf_counter() - started) * 1000
                timings = Timings(needed, 0, elapsed, 0.0)
                sink(Finished("cancelled", timings, resident.entry.name, dropped, resident.n_ctx))
                return
        log.info("%s sees %d image(s) as %d tokens", resident.entry.name, len(images), image_tokens)
        self._generate(resident, tokens, request.params, sink, cancel, dropped, started)

    def _run_completion(
        self, request: CompletionRequest, sink: EventSink, cancel: threading.Event
    ) -> None:
        resident = self._load(request.model)
        if isinstance(request.prompt, str):
            tokens = resident.llama.tokenize(request.prompt.encode("utf-8"), add_bos=True)
        else:  # the client's own token ids, taken as they are
            tokens = resident.check_prompt_ids(request.prompt)
        budget = ContextBudget.for_reply(resident.n_ctx, request.params.max_tokens)
        if len(tokens) > budget.for_prompt:
            raise overflow_error(len(tokens), budget, param="prompt")
        self._generate(resident, tokens, request.params, sink, cancel, 0)

    def _generate(
        self,
        resident: _Resident,
        prompt_tokens: list[int],
        params: SamplingParams,
        sink: EventSink,
        cancel: threading.Event,
        dropped: int,
        started: float | None = None,  # when prompt processing began, if before this call
    ) -> None:
        if not prompt_tokens:  # llama.cpp needs a token to continue from; this model adds no BOS
            raise EmptyPromptError("the prompt is empty; give at least some text to continue")
        resident.check_logit_bias(params.logit_bias)
        room = resident.n_ctx - len(prompt_tokens)
        max_tokens = min(params.max_tokens, room) if params.max_tokens else room
        text = TextStream(params.stop)
        generated, finish_reason = 0, "length"
        started = started or time.perf_counter()
        first_token_at: float | None = None
        recorder = LogprobRecorder(resident, params.top_logprobs) if params.logprobs else None
        pending: list[TokenLogprob] = []  # of tokens whose text is not handed out yet
        loops = LoopDetector() if params.stop_repetition else None
        for token in resident.sample(prompt_tokens, params, cancel, recorder, sink):
            first_token_at = first_token_at or time.perf_counter()
            if resident.is_end_of_generation(token):
                finish_reason = "stop"
                break
            generated += 1
            if recorder:
                pending.append(recorder.entry(token))
            piece = text.push(resident.token_bytes(token))
            if piece:
                sink(Token(piece, tuple(pending)))
                pending.clear()
            if text.stopped:
                finish_reason = "stop"
                break
            if loops and loops.push(token):
                finish_reason = "repetition"
                break
            if generated >= max_tokens:
                break
        if (rest := text.flush()) or pending:
            sink(Token(rest, tuple(pending)))
        if cancel.is_set():
            finish_reason = "cancelled"
        ended = time.perf_counter()
        first = first_token_at or ended
        timings = Timings(
            prompt_tokens=len(prompt_tokens),
            completion_tokens=generated,
            prompt_ms=(first - started) * 1000,
            generation_ms=(ended - first) * 1000,
        )
        sink(Finished(finish_reason, timings, resident.entry.name, dropped, resident.n_ctx))
