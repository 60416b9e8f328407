"""`hearth models download`, `search`, `delete` and `catalog`: fetch a GGUF model from Hugging
Face with a progress bar, search the Hub by name, delete a model Hearth downloaded, and the
curated catalog with how each model would fit this machine."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backend.cli.output import fail, print_json

if TYPE_CHECKING:
    from backend.models.download import DownloadPlan, Progress
    from backend.models.hub import ChoiceNeededError
    from backend.wire import CatalogEntry

GIB = 1024**3


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the two actions to `hearth models`."""
    download = actions.add_parser(
        "download",
        help="download a GGUF model from Hugging Face (resumable, checksum-verified)",
        description="Download a GGUF model (and its vision projector) from a Hugging Face repo "
        "into HEARTH_HOME. Interrupted downloads resume when the same command runs again.",
    )
    download.add_argument("repo", help="owner/name on Hugging Face, or a catalog id")
    choice = download.add_mutually_exclusive_group()
    choice.add_argument("--file", help="the GGUF file to take (a split model's first shard)")
    choice.add_argument("--quant", help="the quantization to take, such as Q4_K_M")
    download.add_argument(
        "--force", action="store_true", help="download even if it will not fit the RAM"
    )
    download.add_argument(
        "--list", action="store_true", help="list the repo's models and sizes; fetch nothing"
    )
    download.set_defaults(handler=download_model)

    search = actions.add_parser(
        "search", help="search Hugging Face for GGUF repos by name (asks the Hub)"
    )
    search.add_argument("text")
    search.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(handler=search_hub)

    delete = actions.add_parser(
        "delete", help="delete a model Hearth downloaded (never other apps' or your own files)"
    )
    delete.add_argument("name")
    delete.set_defaults(handler=delete_model)

    catalog = actions.add_parser(
        "catalog", help="well-known models to download, and how each fits this machine"
    )
    catalog.add_argument("--json", action="store_true", help="machine-readable output")
    catalog.set_defaults(handler=show_catalog)


def _list_choices(repo: str) -> int:
    from backend.models.download_request import DownloadRequest, resolve_catalog_id
    from backend.models.hub import list_repo, projector_for

    listing = list_repo(resolve_catalog_id(DownloadRequest(repo)).repo)
    for choice in listing.choices:
        print(choice.describe())
    projector = projector_for(listing)
    if projector is not None:
        print(f"(with the vision projector {projector.name}, {projector.size / GIB:.2f} GiB)")
    return 0


def _ask(error: ChoiceNeededError) -> int:
    """Several models and no choice: list them, one a line, with the options that pick one."""
    print(f"hearth: {str(error).split(':', 1)[0]}:", file=sys.stderr)
    for choice in error.choices:
        print(f"  {choice.describe()}", file=sys.stderr)
    return 1


def _announce(plan: DownloadPlan) -> None:
    print(f"downloading from {plan.repo} (commit {plan.revision[:12]}):")
    for file in plan.files:
        print(f"  {file.name}  {file.size / GIB:.2f} GiB")


def _progress_bar(plan: DownloadPlan) -> tuple[Any, Callable[[Progress], None]]:
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing when the output goes to a file or a pipe
    bar = tqdm(total=plan.total_bytes, unit="B", unit_scale=True, unit_divisor=1024, disable=None)

    shown = [""]  # the state in the bar's description

    def show(progress: Progress) -> None:
        if shown[0] != progress.state:
            shown[0] = progress.state
            bar.set_description(progress.state)
        bar.update(progress.bytes_done - bar.n)  # tqdm redraws at most ten times a second

    return bar, show


def download_model(args: argparse.Namespace) -> int:
    import threading

    from backend.models.download import run_download
    from backend.models.download_request import DownloadRequest, prepare_download
    from backend.models.hub import ChoiceNeededError
    from backend.models.split import unsplit_stem
    from backend.paths import HomeLayout
    from backend.settings import Settings

    if args.list:
        return _list_choices(args.repo)
    layout = HomeLayout.current().ensure()
    request = DownloadRequest(args.repo, args.file, args.quant, args.force)
    try:
        plan = prepare_download(layout, Settings.load(layout).context_size, request)
    except ChoiceNeededError as error:
        return _ask(error)
    _announce(plan)
    bar, show = _progress_bar(plan)
    try:
        with bar:
            model = run_download(plan, show, threading.Event())
    except KeyboardInterrupt:
        return fail("interrupted; what was fetched is kept: run the same command to resume", 130)
    print(f"downloaded {unsplit_stem(model)} -> {model}")
    return 0


def search_hub(args: argparse.Namespace) -> int:
    from backend.models.hub import search_repos

    hits = search_repos(args.text, args.limit)
    if args.json:
        print_json([vars(hit) for hit in hits])
    elif not hits:
        print(f"no GGUF repo on Hugging Face matches {args.text!r}")
    else:
        print(
            "\n".join(f"{h.repo:<60} {h.downloads:>10} downloads {h.likes:>6} likes" for h in hits)
        )
    return 0


def delete_model(args: argparse.Namespace) -> int:
    from backend.cli.models import _registry
    from backend.models.download_record import delete_download
    from backend.paths import HomeLayout

    layout = HomeLayout.current()
    entry = _registry().get(args.name)  # with other apps' models, so their refusal is clear
    deleted = delete_download(layout, entry.path)
    print(f"deleted {args.name}: {len(deleted) - 1} file(s) from {entry.path.parent}")
    return 0


def _fit_line(entry: CatalogEntry) -> str:
    model, fit = entry.model, entry.fit
    size = (model.size_bytes + model.mmproj_size_bytes) / GIB
    sees = "vision" if entry.vision else model.kind if model.kind != "chat" else "text"
    return (
        f"{model.id:<22} {model.quantization:<7} {size:5.1f} GiB  {sees:<6}  {fit.badge:<9} "
        f"(needs {fit.min_ram_bytes / GIB:.1f} GiB, {fit.available_bytes / GIB:.1f} GiB "
        f"available)  {model.repo}  [{model.license}]"
    )


def show_catalog(args: argparse.Namespace) -> int:
    from backend.models.catalog import catalog_entries, load_catalog
    from backend.models.memory import available_memory

    catalog = load_catalog()
    entries = catalog_entries(catalog, available_memory())
    if args.json:
        print_json([entry.model_dump(mode="json") for entry in entries])
        return 0
    print("\n".join(_fit_line(entry) for entry in entries))
    print(f"\n{catalog.note}\nDownload one with: hearth models download ID")
    return 0
