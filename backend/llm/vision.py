"""Images for a model with a vision projector (mmproj): llama.cpp's mtmd turns pixels into
prompt embeddings, so the language model itself sees the image instead of CLIP's labels.

The mtmd context comes from llama-cpp-python's `MTMDChatHandler`; the prompt is still rendered
with the model's own chat template and sampled by the runtime, so stop strings, context fitting
and cancellation work as for text.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backend.images.decode import ImageDecodeError

# Written into llama's token history where image embeddings sit: no real token id matches it,
# so a later text prompt never mistakes those cache positions for a shared prefix.
IMAGE_POSITION = -1


class VisionError(RuntimeError):
    """llama.cpp's mtmd failed: the projector would not load, or a prompt would not encode."""


class GenerationCancelled(Exception):
    """The request was cancelled while the prompt (text or image chunks) was being evaluated."""


class VisionProjector:
    """One mtmd context bound to a loaded `llama_cpp.Llama`; freed when the Llama closes."""

    def __init__(self, llama: Any, mmproj: Path) -> None:
        import llama_cpp.mtmd_cpp as mtmd
        from llama_cpp._logger import llama_log_callback
        from llama_cpp.llama_chat_format import MTMDChatHandler

        # mtmd logs every image it encodes; route it through llama-cpp-python's logger, which
        # prints only errors unless the Llama is verbose.
        mtmd.mtmd_log_set(llama_log_callback, ctypes.c_void_p(0))
        mtmd.mtmd_helper_log_set(llama_log_callback, ctypes.c_void_p(0))
        self._mtmd = mtmd
        self._llama = llama
        try:
            # On the CPU, like the language model the runtime loads.
            self._handler = MTMDChatHandler(str(mmproj), verbose=False, use_gpu=False)
            self._handler._init_mtmd_context(llama)
        except ValueError as exc:
            raise VisionError(
                f"llama.cpp could not load the vision projector {mmproj.name} for this model; "
                f"check that it is the mmproj made for this model ({exc})"
            ) from exc
        self.marker: str = mtmd.mtmd_default_marker().decode("utf-8")

    @contextmanager
    def chunks(self, text: str, images: Sequence[bytes]) -> Iterator[Any]:
        """Tokenize `text`, whose markers stand for `images` in order, into text/image chunks."""
        mtmd, ctx = self._mtmd, self._handler.mtmd_ctx
        bitmaps = []
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            for number, data in enumerate(images, start=1):
                try:
                    bitmaps.append(self._handler._create_bitmap_from_bytes(data))
                except ValueError as exc:
                    raise ImageDecodeError(f"the vision model cannot read image {number}") from exc
            encoded = text.encode("utf-8")
            request = mtmd.mtmd_input_text()
            request.text, request.text_len = encoded, len(encoded)
            # The rendered template already holds its special tokens, as for text prompts.
            request.add_special, request.parse_special = False, True
            array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
            status = mtmd.mtmd_tokenize(ctx, chunks, ctypes.byref(request), array, len(bitmaps))
            if status != 0:
                raise VisionError(f"mtmd could not tokenize the prompt (code {status})")
            yield chunks
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)

    def token_count(self, chunks: Any) -> int:
        """Prompt length in positions: text tokens plus each image's embeddings."""
        mtmd = self._mtmd
        return sum(
            mtmd.mtmd_input_chunk_get_n_tokens(mtmd.mtmd_input_chunks_get(chunks, i))
            for i in range(mtmd.mtmd_input_chunks_size(chunks))
        )

    def evaluate(self, chunks: Any, cancel: threading.Event) -> list[int]:
        """Fill the KV cache from `chunks`, checking `cancel` between chunks.

        Returns the prompt as llama's token history (IMAGE_POSITION where images are), which
        `Llama.generate` then finds already cached.
        """
        mtmd, llama = self._mtmd, self._llama
        llama.reset()
        llama._ctx.kv_cache_clear()
        for i in range(mtmd.mtmd_input_chunks_size(chunks)):
            if cancel.is_set():
                raise GenerationCancelled
            chunk = mtmd.mtmd_input_chunks_get(chunks, i)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t()
                pointer = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                llama.eval([pointer[j] for j in range(count.value)])
            else:
                self._evaluate_image(chunk)
        tokens: list[int] = llama.input_ids[: llama.n_tokens].tolist()
        return tokens

    def _evaluate_image(self, chunk: Any) -> None:
        import llama_cpp

        mtmd, llama = self._mtmd, self._llama
        start = llama.n_tokens
        end = llama_cpp.llama_pos(0)
        status = mtmd.mtmd_helper_eval_chunk_single(
            self._handler.mtmd_ctx,
            llama._ctx.ctx,
            chunk,
            llama_cpp.llama_pos(start),
            llama_cpp.llama_seq_id(0),
            llama.n_batch,
            False,  # logits for the last position come from the text that follows
            ctypes.byref(end),
        )
        if status != 0:
            raise VisionError(f"the vision projector failed to encode an image (code {status})")
        llama.input_ids[start : end.value] = IMAGE_POSITION
        llama.n_tokens = end.value
