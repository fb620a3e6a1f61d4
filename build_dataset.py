#!/usr/bin/env python
"""Build the pokembed dataset: PokéAPI records + official artwork → embeddings, UMAP, parquet, card [→ Hub].

Only parses arguments and wires pokembed functions; errors of ours become one `Error: …` line (exit code 1).
Set POKEMBED_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

from pokembed.sources.artwork import DEFAULT_ARTWORK_URL
from pokembed.embedding.encoders import LONG_DOCUMENT_MODES
from pokembed.errors import PokembedError
from pokembed.embedding.loading import DEVICES
from pokembed.embedding.registry import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL

# The library's messages name its parameters in backticks (`cache_dir`); here they read as the flags that set them.
FLAGS = {
    "source": "--source", "artwork": "--artwork", "out": "--out", "cache_dir": "--cache-dir", "limit": "--limit",
    "text_model": "--text-model", "image_model": "--image-model", "device": "--device",
    "long_documents": "--long-documents", "version": "--version", "previous": "--previous",
    "n_epochs": "--umap-epochs", "seed": "--seed", "refresh": "--refresh", "repo_id": "--push",
    "space_id": "--space",
}


def flagged(message: str) -> str:
    """A library message with each `parameter` this CLI sets written as its flag."""
    return re.sub(r"`([a-z_]+)`", lambda m: FLAGS.get(m.group(1), m.group(0)), message)


class FlagFormatter(logging.Formatter):
    """Log lines with the library's `parameter` names written as flags."""

    def format(self, record: logging.LogRecord) -> str:
        return flagged(super().format(record))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="build_dataset.py",
        description="Build text and image embeddings and UMAP coordinates for every Pokémon.",
    )
    parser.add_argument("--source", default="auto",
                        help="auto (PokéAPI's live endpoint, else its tables at the latest commit), graphql, "
                             "graphql:URL, pokeapi:REF (PokéAPI's tables at a commit, branch or tag of "
                             "PokeAPI/pokeapi), or csv:PATH (a folder of PokéAPI's data/v2/csv tables). Default: auto")
    parser.add_argument("--artwork", default=DEFAULT_ARTWORK_URL,
                        help="URL template with {id}, or a folder of {id}.png. Default: PokéAPI's sprites repository")
    parser.add_argument("--out", required=True, help="output folder (a Hub dataset repo layout)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="build cache (raw source, artwork, vectors). Default: <out's parent>/.pokembed-cache")
    parser.add_argument("--limit", type=int, default=None, help="only the first N Pokémon (by id)")
    parser.add_argument("--text-model", default=DEFAULT_TEXT_MODEL, help="registry name, Hub id or local folder")
    parser.add_argument("--image-model", default=DEFAULT_IMAGE_MODEL, help="registry name, Hub id or local folder")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--long-documents", default="truncate", choices=list(LONG_DOCUMENT_MODES),
                        help="documents over the text model's context: cut them, or embed windows and average them")
    parser.add_argument("--version", default="0.1.0",
                        help="dataset version X.Y.Z (tagged vX.Y.Z when pushed), or auto: the next minor or patch "
                             "version after the previous one, by what changed; nothing changed: nothing is built")
    parser.add_argument("--previous", type=Path, default=None,
                        help="a previous output folder to diff against for the changelog (default: the Hub's "
                             "latest version when pushing, else the existing --out folder)")
    parser.add_argument("--umap-epochs", type=int, default=None, help="UMAP n_epochs (default 5000, the article's)")
    parser.add_argument("--seed", type=int, default=None, help="UMAP random seed (default 42)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="total deadline of one request (GraphQL, tables, artwork), retries included "
                             "(default: 300 for GraphQL, 60 per table or image)")
    parser.add_argument("--refresh", action="store_true", help="fetch the live source again instead of its cache, and ask again for artwork that answered 404")
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
    parser.add_argument("--hf-job-timeout", metavar="DURATION", default="2h",
                        help="with --hf-job: the job's time limit, e.g. 90m or 2h. Default: 2h")
    parser.add_argument("--hub-endpoint", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser.parse_args(argv)


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
        plan = push_result.plan
        print("Dry run, nothing pushed:" if push_result.dry_run else "Pushed:")
        print(plan.describe())
        if push_result.commit_url:
            print(f"  commit: {push_result.commit_url}")


def prepare_push(args: argparse.Namespace, previous: Path | None, cache: Path) -> Path | None:
    """Before the build: refuse a push that would fail (no token, existing tag) and fetch the previous version
    into the build cache."""
    from pokembed.errors import PublishError
    from pokembed.hub.publish import check_tag_free, fetch_previous, require_token

    if not args.dry_run:
        require_token()
    try:
        if args.version != "auto":  # an auto version is known after the comparison; push() refuses a taken tag
            check_tag_free(args.push, args.version, endpoint=args.hub_endpoint)
        if previous is None:
            dest = cache / "previous" / args.push.replace("/", "--")
            previous = fetch_previous(args.push, endpoint=args.hub_endpoint, dest=dest)
    except PublishError as error:
        if not args.dry_run:
            raise
        logging.getLogger("build_dataset").warning("dry run without the Hub: %s", error)
    return previous


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from pokembed.pipeline import BuildConfig, build
    from pokembed.projection import UmapParams
    from pokembed.hub.publish import push
    from pokembed.hub.space_deploy import check_deployable, deploy_space, print_result, push_failed
    from pokembed.dataset.output_folder import out_folder

    args.out = out_folder(args.out)  # '' is refused, not read as the current folder
    if args.space:
        if not args.push:
            raise PokembedError("--space deploys the version --push publishes; add --push REPO_ID or drop --space")
        check_deployable(args.space, args.push)  # a bad Space id or a checkout without space/ fails before any build
    if args.hf_job:
        from pokembed.hub.jobs import JobOptions, run_build_job

        options = JobOptions(flavor=args.hf_job, schedule=args.schedule, code_url=args.hf_job_code,
                             revision=args.hf_job_revision, image=args.hf_job_image, timeout=args.hf_job_timeout,
                             endpoint=args.hub_endpoint)
        inputs = {"--source": args.source, "--artwork": args.artwork, "--text-model": args.text_model,
                  "--image-model": args.image_model, "--previous": str(args.previous) if args.previous else None}
        return run_build_job(argv, options, push_repo=args.push, inputs=inputs, dry_run=args.dry_run,
                             echo=lambda line: print(line, flush=True))
    job_only = [flag for flag, value, default in (("--schedule", args.schedule, None),
                                                   ("--hf-job-code", args.hf_job_code, None),
                                                   ("--hf-job-revision", args.hf_job_revision, None),
                                                   ("--hf-job-image", args.hf_job_image, None),
                                                   ("--hf-job-timeout", args.hf_job_timeout, "2h")) if value != default]
    if job_only:
        raise PokembedError(f"{', '.join(job_only)} only applies with --hf-job FLAVOR; add --hf-job or drop "
                            f"{', '.join(job_only)}")

    umap = UmapParams()
    if args.umap_epochs is not None:
        umap = replace(umap, n_epochs=args.umap_epochs)
    if args.seed is not None:
        umap = replace(umap, seed=args.seed)
    if args.dry_run and not args.push:
        raise PokembedError("--dry-run only applies with --push REPO_ID; add --push or drop --dry-run")
    config = BuildConfig(
        out=args.out,
        source=args.source,
        artwork=args.artwork,
        cache_dir=args.cache_dir,
        limit=args.limit,
        text_model=args.text_model,
        image_model=args.image_model,
        device=args.device,
        long_documents=args.long_documents,
        version=args.version,
        umap=umap,
        refresh=args.refresh,
        previous=args.previous,
        repo_id=args.push,
        progress=not args.no_progress,
        timeout=args.timeout,
    )
    if args.push:
        config = replace(config, previous=prepare_push(args, args.previous, config.cache))
    result = build(config)
    if result.unchanged_since is not None:
        print(f"Nothing changed since v{result.unchanged_since}: no new version, nothing built or pushed.")
        return 0
    push_result = None
    if args.push:
        try:
            push_result = push(args.out, args.push, result.version, endpoint=args.hub_endpoint, dry_run=args.dry_run)
        except PokembedError as error:
            if not args.space:
                raise
            raise push_failed(error, args.space, args.push, result.version) from error
    print_summary(result, push_result)
    if args.space:  # only now: the Space keeps serving the previous tag until this one is pushed and tagged
        print_result(deploy_space(args.space, args.push, result.version, endpoint=args.hub_endpoint,
                                  dry_run=args.dry_run))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
