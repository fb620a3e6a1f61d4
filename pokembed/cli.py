"""The command line: ``pokembed build ...`` (the console script) and ``build_dataset.py ...`` run the same ``build_main``.

Only parses arguments and wires pokembed functions; errors of ours become one `Error: …` line (exit code 1).
Set POKEMBED_DEBUG=1 to see the traceback. Every default is the library's (``BuildConfig``, ``UmapParams``,
``JobOptions``), never typed again here.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
from pathlib import Path

from pokembed.embedding.encoders import LONG_DOCUMENT_MODES
from pokembed.embedding.loading import DEVICES
from pokembed.errors import PokembedError
from pokembed.hub.jobs import JobOptions
from pokembed.pipeline import BuildConfig
from pokembed.projection import UmapParams

# The library's messages name its parameters in backticks (`cache_dir`); here they read as the flags that set them.
FLAGS = {
    "source": "--source", "artwork": "--artwork", "out": "--out", "cache_dir": "--cache-dir", "limit": "--limit",
    "text_model": "--text-model", "image_model": "--image-model", "device": "--device",
    "long_documents": "--long-documents", "version": "--version", "previous": "--previous",
    "n_epochs": "--umap-epochs", "seed": "--seed", "refresh": "--refresh", "repo_id": "--push",
    "space_id": "--space", "timeout": "--timeout",
}
JOB_FLAGS = {"--schedule": "schedule", "--hf-job-code": "code_url", "--hf-job-revision": "revision",
             "--hf-job-image": "image", "--hf-job-timeout": "timeout"}  # flag -> JobOptions field


def flagged(message: str) -> str:
    """A library message with each `parameter` this CLI sets written as its flag."""
    return re.sub(r"`([a-z_]+)`", lambda m: FLAGS.get(m.group(1), m.group(0)), message)


class FlagFormatter(logging.Formatter):
    """Log lines with the library's `parameter` names written as flags."""

    def format(self, record: logging.LogRecord) -> str:
        return flagged(super().format(record))


def default(config_class: type, name: str) -> object:
    """The default of a dataclass field (``BuildConfig``, ``UmapParams``, ``JobOptions``): the CLI's default too."""
    return {f.name: f.default for f in dataclasses.fields(config_class)}[name]


def build_parser(prog: str = "build_dataset.py") -> argparse.ArgumentParser:
    """The build's arguments: what to build, then where it goes (Hub, Space, Jobs), then output."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Build text and image embeddings and UMAP coordinates for every Pokémon.")
    _add_build_arguments(parser)
    _add_hub_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser


def _add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default=default(BuildConfig, "source"),
                        help="auto (PokéAPI's live endpoint, else its tables at the latest commit), graphql, "
                             "graphql:URL, pokeapi:REF (PokéAPI's tables at a commit, branch or tag of "
                             "PokeAPI/pokeapi), or csv:PATH (a folder of PokéAPI's data/v2/csv tables). Default: %(default)s")
    parser.add_argument("--artwork", default=default(BuildConfig, "artwork"),
                        help="URL template with {id}, or a folder of {id}.png. Default: PokéAPI's sprites repository")
    parser.add_argument("--out", required=True, help="output folder (a Hub dataset repo layout)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="build cache (raw source, artwork, vectors). Default: <out's parent>/.pokembed-cache")
    parser.add_argument("--limit", type=int, default=None, help="only the first N Pokémon (by id)")
    parser.add_argument("--text-model", default=default(BuildConfig, "text_model"),
                        help="registry name, Hub id or local folder")
    parser.add_argument("--image-model", default=default(BuildConfig, "image_model"),
                        help="registry name, Hub id or local folder")
    parser.add_argument("--device", default=default(BuildConfig, "device"), choices=DEVICES)
    parser.add_argument("--long-documents", default=default(BuildConfig, "long_documents"),
                        choices=list(LONG_DOCUMENT_MODES),
                        help="documents over the text model's context: cut them, or embed windows and average them")
    parser.add_argument("--version", default=default(BuildConfig, "version"),
                        help="dataset version X.Y.Z (tagged vX.Y.Z when pushed), or auto: the next minor or patch "
                             "version after the previous one, by what changed; nothing changed: nothing is built")
    parser.add_argument("--previous", type=Path, default=None,
                        help="a previous output folder to diff against for the changelog (default: the Hub's "
                             "latest version when pushing, else the existing --out folder)")
    parser.add_argument("--umap-epochs", type=int, default=None,
                        help=f"UMAP n_epochs (default {default(UmapParams, 'n_epochs')}, the article's)")
    parser.add_argument("--seed", type=int, default=None, help=f"UMAP random seed (default {default(UmapParams, 'seed')})")
    parser.add_argument("--timeout", type=float, default=default(BuildConfig, "timeout"), metavar="SECONDS",
                        help="total deadline of one request (GraphQL, tables, artwork), retries included "
                             "(default: 300 for GraphQL, 60 per table or image)")
    parser.add_argument("--refresh", action="store_true", help="fetch the live source again instead of its cache, and ask again for artwork that answered 404")


def _add_hub_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--push", metavar="REPO_ID", default=None, help="publish to this Hub dataset repo")
    parser.add_argument("--space", metavar="SPACE_ID", default=None,
                        help="with --push: then deploy this Space serving the pushed tag (created if missing)")
    parser.add_argument("--dry-run", action="store_true", help="with --push: show what would be pushed, push nothing")
    parser.add_argument("--hf-job", metavar="FLAVOR", default=None,
                        help="run this same build as a Hugging Face Job on FLAVOR hardware (e.g. l4x1, a10g-small, "
                             "a100-large), stream its logs and exit with its status; needs --push")
    parser.add_argument("--schedule", metavar="CRON", default=None,
                        help="with --hf-job: create (or replace) a scheduled job instead, e.g. '0 6 * * 1' or @weekly")
    parser.add_argument("--hf-job-code", metavar="GIT_URL", default=None,
                        help="with --hf-job: the pokembed repository the job clones (default: this checkout's origin)")
    parser.add_argument("--hf-job-revision", metavar="COMMIT", default=None,
                        help="with --hf-job: the pokembed commit the job runs (default: this checkout's HEAD)")
    parser.add_argument("--hf-job-image", metavar="IMAGE", default=None,
                        help="with --hf-job: the Docker image (default: a pinned Python 3.11 image with uv)")
    parser.add_argument("--hf-job-timeout", metavar="DURATION", default=default(JobOptions, "timeout"),
                        help="with --hf-job: the job's time limit, e.g. 90m or 2h. Default: %(default)s")
    parser.add_argument("--hub-endpoint", default=None, help=argparse.SUPPRESS)


def parse_args(argv: list[str] | None, prog: str = "build_dataset.py") -> argparse.Namespace:
    return build_parser(prog).parse_args(argv)


def print_summary(result, push_result=None) -> None:
    """The end-of-build summary: counts and seconds per step."""
    print(f"\nBuilt {result.rows} Pokémon into {result.out} (version {result.version})")
    for name, value in result.counts.items():
        print(f"  {name.replace('_', ' ')}: {value}")
    print("Time per step:")
    for name, seconds in result.timings.items():
        print(f"  {name:<18} {seconds:8.2f} s")
    print(f"  {'total':<18} {sum(result.timings.values()):8.2f} s")
    if result.changelog:
        print("Changelog entry:")
        for line in result.changelog:
            print(f"  {line}")
    if push_result is not None:
        print("Dry run, nothing pushed:" if push_result.dry_run else "Pushed:")
        print(push_result.plan.describe())
        if push_result.commit_url:
            print(f"  commit: {push_result.commit_url}")


def build_config(args: argparse.Namespace) -> BuildConfig:
    """The BuildConfig the arguments ask for (UMAP epochs and seed over the article's defaults)."""
    from pokembed.dataset.output_folder import out_folder

    umap = UmapParams()
    if args.umap_epochs is not None:
        umap = dataclasses.replace(umap, n_epochs=args.umap_epochs)
    if args.seed is not None:
        umap = dataclasses.replace(umap, seed=args.seed)
    return BuildConfig(
        out=out_folder(args.out), source=args.source, artwork=args.artwork, cache_dir=args.cache_dir,
        limit=args.limit, text_model=args.text_model, image_model=args.image_model, device=args.device,
        long_documents=args.long_documents, version=args.version, umap=umap, refresh=args.refresh,
        previous=args.previous, repo_id=args.push, progress=not args.no_progress, timeout=args.timeout,
    )


def check_combinations(args: argparse.Namespace) -> None:
    """Flags that only apply with another flag are refused, naming both."""
    if args.space and not args.push:
        raise PokembedError("--space deploys the version --push publishes; add --push REPO_ID or drop --space")
    if args.hf_job:
        return
    job_only = [flag for flag, name in JOB_FLAGS.items() if getattr(args, name_of(flag)) != default(JobOptions, name)]
    if job_only:
        raise PokembedError(f"{', '.join(job_only)} only applies with --hf-job FLAVOR; add --hf-job or drop "
                            f"{', '.join(job_only)}")
    if args.dry_run and not args.push:
        raise PokembedError("--dry-run only applies with --push REPO_ID; add --push or drop --dry-run")


def name_of(flag: str) -> str:
    """The argparse attribute of a flag: ``--hf-job-code`` -> ``hf_job_code``."""
    return flag.lstrip("-").replace("-", "_")


def run_job(args: argparse.Namespace, argv: list[str]) -> int:
    """This same build as a Hugging Face Job (``--hf-job``): submit, stream its logs, return its exit status."""
    from pokembed.hub.jobs import run_build_job

    options = JobOptions(flavor=args.hf_job, endpoint=args.hub_endpoint,
                         **{name: getattr(args, name_of(flag)) for flag, name in JOB_FLAGS.items()})
    inputs = {"--source": args.source, "--artwork": args.artwork, "--text-model": args.text_model,
              "--image-model": args.image_model, "--previous": str(args.previous) if args.previous else None}
    return run_build_job(argv, options, push_repo=args.push, inputs=inputs, dry_run=args.dry_run,
                         echo=lambda line: print(line, flush=True))


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Build (after the checks a push needs), then push and deploy the Space when asked; print the summary."""
    from pokembed.hub.release import ReleaseTarget, check_space, prepare_release, release
    from pokembed.hub.space_deploy import print_result
    from pokembed.dataset.output_folder import out_folder
    from pokembed.pipeline import build

    args.out = out_folder(args.out)  # '' is refused, not read as the current folder
    check_combinations(args)
    target = ReleaseTarget(args.push, args.space, args.dry_run, args.hub_endpoint) if args.push else None
    if target is not None:
        check_space(target)  # a bad Space id or a checkout without space/ fails before any build
    if args.hf_job:
        return run_job(args, argv)
    config = build_config(args)
    if target is not None:
        config = dataclasses.replace(config, previous=prepare_release(target, version=args.version,
                                                                      previous=args.previous, cache=config.cache))
    result = build(config)
    if result.unchanged_since is not None:
        print(f"Nothing changed since v{result.unchanged_since}: no new version, nothing built or pushed.")
        return 0
    if target is None:
        print_summary(result)
        return 0
    released = release(args.out, target, result.version, on_pushed=lambda pushed: print_summary(result, pushed))
    if released.space is not None:
        print_result(released.space)
    return 0


def build_main(argv: list[str] | None = None, prog: str = "build_dataset.py") -> int:
    """Run one build from command-line arguments; the exit code (1 with one `Error: …` line for our errors)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv, prog)
    handler = logging.StreamHandler()
    handler.setFormatter(FlagFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, handlers=[handler])
    try:
        return run(args, argv)
    except PokembedError as error:
        if os.environ.get("POKEMBED_DEBUG"):
            raise
        print(f"Error: {flagged(str(error))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader of stdout (e.g. `| head`) stopped reading: nothing left to tell it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail again
        return 0
    except KeyboardInterrupt:
        print("Interrupted: the vectors embedded so far are cached; run the same command to resume.", file=sys.stderr)
        return 130


COMMANDS = {"build": "build the dataset (the same as build_dataset.py; `pokembed build --help` lists its options)"}


def main(argv: list[str] | None = None) -> int:
    """The ``pokembed`` console script: ``pokembed build [options]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "build":
        return build_main(argv[1:], prog="pokembed build")
    parser = argparse.ArgumentParser(prog="pokembed", description="Pokémon embeddings from PokéAPI, on the Hub.")
    parser.add_argument("command", choices=list(COMMANDS),
                        help="; ".join(f"{name}: {text}" for name, text in COMMANDS.items()))
    parser.parse_args(argv[:1])  # prints usage and exits 2 for a missing or unknown command
    return 2


if __name__ == "__main__":
    sys.exit(main())
