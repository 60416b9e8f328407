"""The CLIP runtime: two ONNX towers, a `tokenizers` tokenizer and Pillow preprocessing.

It reads the folder format that `training/clip/export.py` writes (manifest.json and friends),
which can also point at the files of an ONNX export from the Hub (backend/images/onnx_layouts.py
writes such manifests), and owns the ONNX Runtime sessions; nothing here needs torch or open_clip.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError

from backend.errors import HearthError

MANIFEST_FORMAT = "hearth-clip/1"
TEXT_BATCH = 256  # texts a text-tower run at most
RESAMPLING = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


class InvalidClipModelError(HearthError, ValueError):
    """The folder is not a complete Hearth CLIP model."""

    code = "invalid_image_model"


class Preprocess(BaseModel):
    """open_clip's inference transform: resize the shortest side (or squash), centre-crop."""

    model_config = ConfigDict(frozen=True)
    size: int  # the side of the square crop the image tower sees
    resize: int | None = None  # the shortest side before that crop (transformers'); None: size
    resize_mode: Literal["shortest", "squash"]
    interpolation: Literal["bicubic", "bilinear"]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: Image.Image) -> np.ndarray:  # RGB -> (3, size, size) float32
        return self.normalise([self.crop(image)])[0]

    def crop(self, image: Image.Image) -> np.ndarray:
        """RGB image -> (size, size, 3) uint8, resized and cropped as the model expects."""
        resample = RESAMPLING[self.interpolation]
        side = (self.size, self.size)
        if self.resize_mode == "squash":
            image = image.resize(side, resample)
        else:
            image = image.resize(side, resample, box=self._kept_region(*image.size))
        return np.asarray(image, dtype=np.uint8)

    def normalise(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, size, size, 3) uint8 -> (N, 3, size, size) float32, in one pass over the batch."""
        # (x / 255 - mean) / std, folded into one multiply and one subtract per channel.
        scale = (1.0 / (255.0 * np.array(self.std, np.float64))).astype(np.float32)
        shift = (np.array(self.mean, np.float64) / np.array(self.std, np.float64)).astype(
            np.float32
        )
        planar = np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2))  # (N, 3, S, S)
        pixels: np.ndarray = planar.astype(np.float32)
        pixels *= scale[None, :, None, None]
        pixels -= shift[None, :, None, None]
        return pixels

    def _kept_region(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The part of the image that resizing the shortest side and centre-cropping keeps.

        Resizing just that part gives the same pixels (to rounding) for less work.
        """
        short = self.resize or self.size
        if width <= height:
            resized = (short, int(short * height / width))
        else:
            resized = (int(short * width / height), short)
        left = int(round((resized[0] - self.size) / 2.0))
        top = int(round((resized[1] - self.size) / 2.0))
        x_scale, y_scale = width / resized[0], height / resized[1]
        right, bottom = left + self.size, top + self.size
        return (left * x_scale, top * y_scale, right * x_scale, bottom * y_scale)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class FileRecord(BaseModel):
    """A file as it was when the model was registered, to notice one replaced or cut short."""

    sha256: str
    size: int


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class ClipManifest(BaseModel):
    """A CLIP folder's manifest.json: its files (relative to the folder) and how images are
    prepared; `training/clip/export.py` writes it."""

    format: str = MANIFEST_FORMAT
    name: str
    image_tower: str = "image.onnx"
    text_tower: str = "text.onnx"
    tokenizer: str = "tokenizer.json"
    labels: str | None = None  # the default vocabulary, one label a line
    label_embeddings: str | None = None  # that vocabulary embedded at export (.npy)
    context_length: int
    logit_scale: float
    preprocess: Preprocess
    # What the towers' graphs call their tensors; None: the graph's first output.
    image_input: str = "pixels"
    image_output: str | None = None
    text_input: str = "tokens"
    text_output: str | None = None
    # Set where the tokenizer file pads nothing (the Hub's): the runtime pads with this token
    # and truncates to context_length.
    pad_token: str | None = None
    source: str | None = None  # where the files came from, e.g. a Hub repo's folder
    files: dict[str, FileRecord] = {}  # by path as named above, recorded at registration

    @classmethod
    def read(cls, folder: Path) -> ClipManifest:
        """The folder's manifest; one that is missing, malformed or names a missing file is an
        InvalidClipModelError."""
        path = folder / "manifest.json"
        try:
            manifest = cls.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise InvalidClipModelError(f"{folder} has no readable manifest.json: {exc}") from exc
        except ValidationError as exc:
            raise InvalidClipModelError(f"{path} is not a valid manifest: {exc}") from exc
        if manifest.format != MANIFEST_FORMAT:
            raise InvalidClipModelError(f"{path} is not a {MANIFEST_FORMAT} manifest")
        for name in (manifest.image_tower, manifest.text_tower, manifest.tokenizer):
            if not (folder / name).is_file():
                raise InvalidClipModelError(f"{folder} lacks {name}")
        for name, record in manifest.files.items():  # the size is cheap; sha256 on request
            if (folder / name).stat().st_size != record.size:
                raise InvalidClipModelError(
                    f"{folder / name} changed since it was registered: it has "
                    f"{(folder / name).stat().st_size} bytes, not {record.size}"
                )
        return manifest


class ClipModel:
    """Embeds images and texts into one space; embeddings are L2-normalised float32."""

    def __init__(
        self, folder: Path, threads: int | None = None, manifest: ClipManifest | None = None
    ) -> None:
        """Load the model in `folder`, described by its manifest.json or, while it is being
        registered and has none yet, by `manifest`."""
        self.folder = folder
        manifest = manifest or ClipManifest.read(folder)
        self.name = manifest.name
        self.logit_scale = manifest.logit_scale
        self.preprocess = manifest.preprocess
        self.threads = threads or os.cpu_count() or 1
        self._image_path = folder / manifest.image_tower
        self._image = _session(self._image_path, self.threads)
        self._text = _session(folder / manifest.text_tower, self.threads)
        self._image_io = (manifest.image_input, manifest.image_output)
        self._text_io = (manifest.text_input, manifest.text_output)
        text_inputs = {i.name: i.shape for i in self._text.get_inputs()}
        self._text_takes_mask = "attention_mask" in text_inputs
        static = text_inputs.get(manifest.text_input, [None, None])[1]
        # A Hub tower that takes any length gets each run padded only to its longest text.
        self._trim = manifest.pad_token is not None and not isinstance(static, int)
        self._lanes_lock = threading.Lock()
        self._image_lanes: Any = None
        self._tokenizer = _tokenizer(
            folder / manifest.tokenizer, manifest, static if isinstance(static, int) else None
        )
        labels = manifest.labels
        self.default_labels: list[str] = (
            (folder / labels).read_text(encoding="utf-8").split("\n") if labels else []
        )
        self.default_labels = [label for label in self.default_labels if label.strip()]
        cached = manifest.label_embeddings
        self.default_label_embeddings: np.ndarray | None = (
            np.load(folder / cached) if cached else None
        )

    def embed_pixels(self, pixels: np.ndarray, *, one_thread: bool = False) -> np.ndarray:
        """(N, 3, S, S) preprocessed pixels -> (N, D).

        With `one_thread`, the run keeps to one core, so that `threads` such runs side by side
        (indexing a folder) each go at full speed. One run spread over every core is faster
        for a single request but slower in total: its threads wait for each other at each
        layer, and longest for one that shares its core with other work.
        """
        session = self._one_thread_session() if one_thread else self._image
        name, output = self._image_io
        feeds = {name: pixels.astype(np.float32, copy=False)}
        return _normalise(session.run([output] if output else None, feeds)[0])

    def _one_thread_session(self) -> Any:
        with self._lanes_lock:  # created on first use: only indexing needs it
            if self._image_lanes is None:
                self._image_lanes = _session(self._image_path, 1)
            return self._image_lanes

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_pixels(
            self.preprocess.normalise([self.preprocess.crop(i) for i in images])
        )

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([e.ids for e in self._tokenizer.encode_batch(list(texts))], np.int64)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D), TEXT_BATCH texts a run. A label vocabulary is thousands of prompts: where
        the tower takes any length they go in order of length, each run padded only to its
        longest, since padding would otherwise be most of the work."""
        encoded = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], np.int64)
        mask = np.array([e.attention_mask for e in encoded], np.int64)
        lengths = mask.sum(axis=1)
        order = np.argsort(lengths, kind="stable") if self._trim else np.arange(len(texts))
        runs = []
        for start in range(0, len(order), TEXT_BATCH):
            rows = order[start : start + TEXT_BATCH]
            width = int(lengths[rows].max()) if self._trim else ids.shape[1]
            runs.append(self._run_text(ids[rows, :width], mask[rows, :width]))
        embedded = np.concatenate(runs)
        embedded[order] = embedded.copy()  # back in the order of `texts`
        return embedded

    def _run_text(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        name, output = self._text_io
        feeds = {name: ids}
        if self._text_takes_mask:
            feeds["attention_mask"] = mask
        return _normalise(self._text.run([output] if output else None, feeds)[0])


def _tokenizer(path: Path, manifest: ClipManifest, static_length: int | None) -> Any:
    """The tokenizer, padded and truncated where its file does not say so itself (the Hub's
    CLIP tokenizers pad nothing; their models take 77 tokens at most): padded to the longest
    text of a batch where the text tower takes any length, since a CLIP prompt is a dozen
    tokens and the tower's cost grows with the padded length, else to the length it takes."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    if manifest.pad_token is not None:
        pad_id = tokenizer.token_to_id(manifest.pad_token)
        if pad_id is None:
            raise InvalidClipModelError(f"{path} has no token {manifest.pad_token!r} to pad with")
        tokenizer.enable_truncation(max_length=static_length or manifest.context_length)
        tokenizer.enable_padding(length=static_length, pad_id=pad_id, pad_token=manifest.pad_token)
    return tokenizer
