"""A build's way onto the Hub: what is refused before the build starts, then the dataset push and the Space deploy.

``prepare_release`` runs before any slow work (no token, a taken tag, a bad Space id fail at once) and fetches the
previous published version for the changelog; ``release`` pushes the built folder and, only once its tag exists,
deploys the Space serving it, so a Space keeps serving the previous version until the new one is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pokembed.dataset.versioning import AUTO
from pokembed.errors import PokembedError, PublishError
from pokembed.hub.publish import PushResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseTarget:
    """Where a build goes: the dataset repo, optionally the Space serving it, and whether it is only a dry run."""

    repo_id: str
    space_id: str | None = None
    dry_run: bool = False
    endpoint: str | None = None  # the Hub's URL (default: huggingface_hub's)


@dataclass(frozen=True)
class ReleaseResult:
    """The dataset push and, when a Space was asked for, its deploy."""

    push: PushResult
    space: object | None = None  # a pokembed.hub.space_deploy.SpaceDeployResult


def check_space(target: ReleaseTarget) -> None:
    """A bad Space id, or a checkout without space/, fails before anything is built."""
    from pokembed.hub.space_deploy import check_deployable

    if target.space_id:
        check_deployable(target.space_id, target.repo_id)


def prepare_release(target: ReleaseTarget, *, version: str, previous: Path | None, cache: Path) -> Path | None:
    """Before the build: refuse a push that would fail (no token, an existing tag) and fetch the previous published
    version into the build cache. Returns the folder to diff against (``previous`` when given). A dry run without the
    Hub warns and goes on."""
    from pokembed.hub.publish import check_tag_free, fetch_previous, require_token

    if not target.dry_run:
        require_token()
    try:
        if version != AUTO:  # an auto version is known after the comparison; push() refuses a taken tag
            check_tag_free(target.repo_id, version, endpoint=target.endpoint)
        if previous is None:
            dest = Path(cache) / "previous" / target.repo_id.replace("/", "--")
            previous = fetch_previous(target.repo_id, endpoint=target.endpoint, dest=dest)
    except PublishError as error:
        if not target.dry_run:
            raise
        logger.warning("dry run without the Hub: %s", error)
    return previous


def release(out: Path, target: ReleaseTarget, version: str,
            on_pushed: Callable[[PushResult], object] | None = None) -> ReleaseResult:
    """Push ``out`` as ``version``, call ``on_pushed`` with the push's result, then deploy the Space (if any) serving
    that tag; a failed push with a Space asked for says how to finish both."""
    from pokembed.hub.publish import push
    from pokembed.hub.space_deploy import deploy_space, push_failed

    try:
        pushed = push(out, target.repo_id, version, endpoint=target.endpoint, dry_run=target.dry_run)
    except PokembedError as error:
        if not target.space_id:
            raise
        raise push_failed(error, target.space_id, target.repo_id, version) from error
    if on_pushed is not None:
        on_pushed(pushed)
    if not target.space_id:
        return ReleaseResult(pushed)
    # only now: the Space keeps serving the previous tag until this one is pushed and tagged
    deployed = deploy_space(target.space_id, target.repo_id, version, endpoint=target.endpoint,
                            dry_run=target.dry_run)
    return ReleaseResult(pushed, deployed)
