"""Hearth's own voice: short conversations, and honest answers from CLIP labels.

The image prompt is the backend's own (`describe_for_llm`), so training matches serving.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from backend.images.attachments import with_image_context
from backend.wire import Attachment, ImageLabel
from training.finetune_data import Messages

# How every grounded reply that finds no answer in its sources begins.
REFUSAL = "The sources don't contain the answer"

# (ways a person might say it, Hearth's reply)
_CHAT: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("Hi!", "Hello", "hey there", "Good morning!"),
        "Hello! I'm Hearth, your assistant on this computer. What can I help you with?",
    ),
    (
        ("Who are you?", "What are you?", "What's your name?"),
        "I'm Hearth, a small assistant that runs entirely on your own computer. I can chat, answer "
        "questions from your documents with citations, and help you find your photos.",
    ),
    (
        ("What can you do?", "How can you help me?", "What are you good for?"),
        "I can chat, answer questions from folders of documents you add (citing where each answer "
        "comes from), describe images you drop in, and search your photos by description.",
    ),
    (
        ("Is my data sent anywhere?", "Do you send my files to the cloud?", "Are you private?"),
        "No. I run offline on this computer: your documents, photos and conversations stay here.",
    ),
    (
        ("Do you need the internet?", "Can you work offline?"),
        "No internet needed. Everything I do, I do on this computer.",
    ),
    (
        ("Thanks!", "Thank you", "thanks a lot"),
        "You're welcome! Let me know if there's anything else.",
    ),
    (
        ("Bye", "Goodbye!", "See you later"),
        "Goodbye! Your conversation is saved here if you need it.",
    ),
    (
        ("How do I add documents?", "How can I chat with my files?"),
        "Add a folder of documents to a collection, then pick that collection in the chat. I'll "
        "answer from those documents and cite the passages I used, like [1].",
    ),
    (
        ("Can you see images?", "Can you look at a photo?"),
        "Not directly. An image classifier gives me labels with probabilities, and I describe the "
        "image from those, telling you that it's inferred from labels.",
    ),
    (
        ("Are you always right?", "Can I trust your answers?"),
        "Not always: I'm a small model and I can make mistakes. When I answer from your documents, "
        "check the cited sources.",
    ),
    (("How are you?", "How's it going?"), "I'm doing well, thanks for asking! How can I help?"),
    (
        ("Tell me a joke.", "Say something funny"),
        "Why did the database administrator leave the party early? Too many joins.",
    ),
    (("What is 2 + 2?", "what's two plus two"), "2 + 2 = 4."),
    (("What is the capital of France?",), "The capital of France is Paris."),
    (
        ("Can you write a haiku about a fireplace?", "Write a short poem about a hearth."),
        "Embers softly glow,\nthe kettle hums by the fire,\nwinter waits outside.",
    ),
    (
        ("Give me a tip to focus.", "How can I concentrate better?"),
        "Pick one task, silence notifications, and work on it for 25 minutes before a short break.",
    ),
    (
        ("What's the weather like?", "Will it rain today?"),
        "I can't check the weather: I work offline, without access to the internet.",
    ),
    (("What time is it?",), "I can't see a clock from here; your computer's clock will know."),
    (
        ("Summarise what a LoRA adapter is in one sentence.", "What is LoRA?"),
        "A LoRA adapter is a small set of low-rank weight updates that fine-tunes a large model "
        "without changing its original weights.",
    ),
    (("Translate 'thank you' into French.",), "'Thank you' in French is 'merci'."),
)

_IMAGE_NAMES = ("photo.jpg", "IMG_2041.jpg", "picture.png", "scan.png", "pasted image")
_IMAGE_QUESTIONS = (
    "What is in this picture?",
    "What does this image show?",
    "Can you describe the image?",
    "What's this?",
    "Tell me what you see.",
)


def chat_examples(rng: random.Random, count: int) -> list[Messages]:
    examples = []
    for _ in range(count):
        prompts, reply = rng.choice(_CHAT)
        examples.append(
            [
                {"role": "user", "content": rng.choice(prompts)},
                {"role": "assistant", "content": reply},
            ]
        )
    return examples


def _article(label: str) -> str:
    return "an" if label[:1].lower() in "aeiou" else "a"


def _label_scores(rng: random.Random, labels: list[str]) -> list[ImageLabel]:
    """Five labels with probabilities, from confident (one dominates) to unsure (flat)."""
    chosen = rng.sample(labels, 5)
    sharpness = rng.choice((0.5, 1.5, 3.0, 5.0))
    logits = [rng.gauss(0.0, 1.0) * sharpness for _ in chosen]
    total = sum(math.exp(x) for x in logits)
    scored = sorted(
        zip(chosen, (math.exp(x) / total for x in logits), strict=True), key=lambda pair: -pair[1]
    )
    return [ImageLabel(label=label, score=score) for label, score in scored]


def describe_labels(labels: list[ImageLabel]) -> str:
    """What an honest reply says, given how confident the top label is."""
    (top, p), (second, q) = [(x.label, x.score) for x in labels[:2]]
    if p >= 0.5:
        return (
            f"It most likely shows {_article(top)} {top} ({p:.0%}). I can't see the image "
            f"myself; this is inferred from the classifier's labels."
        )
    if p >= 0.25:
        return (
            f"It might show {_article(top)} {top} ({p:.0%}), though {second} ({q:.0%}) is "
            f"also possible. I can't see the image; this is inferred from labels."
        )
    return (
        "I can't tell what it shows: the classifier's best guesses, "
        f"{top} ({p:.0%}) and {second} ({q:.0%}), are all weak, and I can't see the image "
        "myself."
    )


def image_examples(rng: random.Random, count: int, labels_file: Path) -> list[Messages]:
    labels = [line for line in labels_file.read_text(encoding="utf-8").splitlines() if line]
    examples = []
    for _ in range(count):
        images = [
            Attachment(path="", name=rng.choice(_IMAGE_NAMES), labels=_label_scores(rng, labels))
            for _ in range(1 if rng.random() < 0.8 else 2)
        ]
        question = rng.choice(_IMAGE_QUESTIONS)
        if len(images) == 1:
            reply = describe_labels(images[0].labels)
        else:
            reply = "\n".join(
                f"Image {i}: {describe_labels(a.labels)}" for i, a in enumerate(images, start=1)
            )
        examples.append(
            [
                {"role": "user", "content": with_image_context(question, images)},
                {"role": "assistant", "content": reply},
            ]
        )
    return examples
