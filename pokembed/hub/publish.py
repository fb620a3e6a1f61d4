"""Versioned publishing of an output folder to a Hugging Face dataset repo: one commit, one `vX.Y.Z` tag.

`push` uploads the folder's Hub layout (`README.md`, `data/*.parquet`, the `.pokembed` marker, the card's figures
`images/*.png`) in a single commit, deletes remote `data/` and `images/` files the build no longer produces, and tags the commit; it refuses before uploading anything
when the tag exists (tags are never moved). `fetch_previous` downloads the last published version for the changelog.
The token comes from the caller, `HF_TOKEN` or the saved login and goes only into request headers: it is never logged,
printed or written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from pokembed.errors import BadInputError, PublishError, one_line
from pokembed.dataset.facts import MARKER, read_marker
from pokembed.dataset.output_folder import FIGURES_DIR
from pokembed.dataset.versioning import VERSION_PATTERN, validate_version
from pokembed.hub.commit_plan import CommitPlan

logger = logging.getLogger(__name__)

REPO_TYPE = "dataset"
CARD = "README.md"
DATA_DIR = "data"
_NO_TOKEN = "a push (`repo_id`) needs a Hugging Face token: set HF_TOKEN or run `hf auth login`"


@dataclass(frozen=True)
class PushPlan(CommitPlan):
    """What a push uploads: the files of the output folder (path, size), the remote data/ files the build no longer
    produces, the commit and its tag."""

    version: str = ""

    def headline(self) -> str:
        return f"push to {self.repo_id} as {self.tag}: one commit ({self.commit_message!r})"


@dataclass(frozen=True)
class PushResult:
    plan: PushPlan
    commit_url: str | None  # None for a dry run
    commit_oid: str | None
    dry_run: bool


class HubUnreachable(PublishError):
    """The Hub could not be reached at all (network, DNS, offline mode)."""


@dataclass(frozen=True)
class _Remote:
    exists: bool
    head: str | None  # commit of main
    tags: dict[str, str]  # tag name -> commit


def resolve_token(token: str | None = None) -> str | None:
    """The token to push with: `token` if given, else `HF_TOKEN`, else huggingface_hub's saved login; else None."""
    if token:
        return token
    if os.environ.get("HF_TOKEN", "").strip():
        return os.environ["HF_TOKEN"].strip()
    from huggingface_hub import get_token

    return get_token()


def require_token(token: str | None = None) -> str:
    """The token to push with (see `resolve_token`); PublishError naming both ways to provide one when there is none."""
    found = resolve_token(token)
    if found is None:
        raise PublishError(_NO_TOKEN)
    return found


def resolve_endpoint(endpoint: str | None = None) -> str:
    """The Hub base URL: `endpoint` if given, else `HF_ENDPOINT` (read now, not at import), else huggingface.co."""
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def plan_push(out_dir: Path, repo_id: str, version: str, *, remote_files: list[str] | None = None) -> PushPlan:
    """Plan a push of `out_dir` without any network call; `remote_files` (None: unknown) decides the deletions."""
    version = validate_version(version)
    check_repo_id(repo_id)
    local = _local_files(Path(out_dir), version)
    produced = {path for path, _ in local}
    notes = [] if remote_files is not None else ["the remote files are unknown: stale data/ files are not listed"]
    deletions = sorted(p for p in remote_files or [] if p.startswith((f"{DATA_DIR}/", f"{FIGURES_DIR}/"))
                       and p not in produced)
    tag = f"v{version}"
    return PushPlan(repo_id=repo_id, version=version, tag=tag, files=local, deletions=deletions,
                    commit_message=f"pokembed dataset {tag}", notes=notes)


def push(out_dir: Path, repo_id: str, version: str, *, token: str | None = None, endpoint: str | None = None,
         dry_run: bool = False, private: bool = False, timeout: float = 30.0) -> PushResult:
    """Upload `out_dir` to the dataset repo `repo_id` in one commit tagged `vVERSION`, creating the repo if needed.

    Refuses (PublishError) without a token, or when the tag exists, before anything is uploaded. A dry run makes no
    call that writes; when the Hub cannot be reached it still returns the plan, with a note saying what is unknown.
    """
    out_dir = Path(out_dir)
    plan = plan_push(out_dir, repo_id, version)  # validates the version, the repo id and the folder first
    endpoint = resolve_endpoint(endpoint)
    token = resolve_token(token)
    if token is None and not dry_run:
        raise PublishError(_NO_TOKEN)
    try:
        remote = read_remote(repo_id, endpoint, token, timeout)
    except PublishError as exc:
        if not dry_run:
            raise
        logger.warning("dry run without the Hub: %s", exc)
        reason = f"{endpoint} could not be reached" if isinstance(exc, HubUnreachable) else f"the Hub refused: {exc}"
        notes = [f"{reason}; existing tags are not checked", *plan.notes]
        return PushResult(_with_notes(plan, notes), None, None, dry_run=True)
    if plan.tag in remote.tags:
        raise PublishError(f"tag {plan.tag} already exists on {repo_id}; choose a new `version`")

    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token, library_name="pokembed")
    with hub_errors("list the files of", repo_id, endpoint, token):
        remote_files = api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision="main") if remote.exists else []
    plan = plan_push(out_dir, repo_id, version, remote_files=remote_files)
    notes = [] if remote.exists else [f"{repo_id} does not exist yet: it will be created"]
    if token is None:
        notes.append("no Hugging Face token found: a real push needs HF_TOKEN or `hf auth login`")
    plan = _with_notes(plan, notes + plan.notes)
    if dry_run:
        logger.info("dry run: %s", plan.describe())
        return PushResult(plan, None, None, dry_run=True)
    return _upload(api, out_dir, plan, remote, endpoint, token, private)


def check_tag_free(repo_id: str, version: str, *, token: str | None = None, endpoint: str | None = None,
                   timeout: float = 30.0) -> None:
    """Fail fast, before a long build: PublishError when the tag `vVERSION` already exists on `repo_id`."""
    check_repo_id(repo_id)
    tag = f"v{validate_version(version)}"
    remote = read_remote(repo_id, resolve_endpoint(endpoint), resolve_token(token), timeout)
    if tag in remote.tags:
        raise PublishError(f"tag {tag} already exists on {repo_id}; choose a new `version`")


def fetch_previous(repo_id: str, *, token: str | None = None, endpoint: str | None = None,
                   revision: str | None = None, dest: Path, timeout: float = 30.0) -> Path | None:
    """Download the published README.md, data/*.parquet and .pokembed of `repo_id` into `dest`; return `dest`.

    `revision` defaults to the highest `vX.Y.Z` tag, else main. None when the repo does not exist or holds none of
    those files yet (nothing was published). huggingface_hub keeps its download metadata in `dest/.cache`.
    """
    check_repo_id(repo_id)
    endpoint, token = resolve_endpoint(endpoint), resolve_token(token)
    remote = read_remote(repo_id, endpoint, token, timeout)
    if not remote.exists:
        return None
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token, library_name="pokembed")
    revision = revision or _latest_tag(remote.tags) or "main"
    with hub_errors(f"download {revision} of", repo_id, endpoint, token):
        files = [p for p in api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=revision) if _published(p)]
        for path in files:
            api.hf_hub_download(repo_id, path, repo_type=REPO_TYPE, revision=revision, local_dir=dest)
    if not files:
        return None
    logger.info("fetched %s of %s (%d files) into %s", revision, repo_id, len(files), dest)
    return Path(dest)


# ---- helpers --------------------------------------------------------------------------------------------------------
def _upload(api, out_dir: Path, plan: PushPlan, remote: _Remote, endpoint: str, token: str, private: bool) -> PushResult:
    """Create the repo if needed, make the one commit, tag it."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    repo_id = plan.repo_id
    if not remote.exists:
        with hub_errors("create", repo_id, endpoint, token):
            api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=True, private=private)
        logger.info("created dataset repo %s", repo_id)
    operations = [CommitOperationAdd(path, out_dir / path) for path, _ in plan.files]
    operations += [CommitOperationDelete(path) for path in plan.deletions]
    description = "\n".join(f"- {path}" for path, _ in plan.files)
    with hub_errors("commit to", repo_id, endpoint, token):
        commit = api.create_commit(repo_id, operations, commit_message=plan.commit_message,
                                   commit_description=description, repo_type=REPO_TYPE, revision="main",
                                   parent_commit=remote.head if remote.exists else None)
    try:
        with hub_errors(f"tag {commit.oid[:8]} as {plan.tag} on", repo_id, endpoint, token, tag=plan.tag):
            api.create_tag(repo_id, tag=plan.tag, revision=commit.oid, repo_type=REPO_TYPE,
                           tag_message=plan.commit_message)
    except PublishError as exc:  # half-finished: say what landed and the one command that finishes it
        from huggingface_hub import constants

        env = "" if endpoint == constants.ENDPOINT.rstrip("/") else f"HF_ENDPOINT={endpoint} "
        raise PublishError(
            f"the commit {commit.oid} landed on {repo_id} but the tag {plan.tag} was not created ({exc}); finish "
            f"the push with: {env}hf repos tag create {repo_id} {plan.tag} --revision {commit.oid} --repo-type "
            f"{REPO_TYPE}"
        ) from None
    logger.info("pushed %s to %s as %s (%s)", out_dir, repo_id, plan.tag, commit.oid)
    return PushResult(plan, commit.commit_url, commit.oid, dry_run=False)


def read_remote(repo_id: str, endpoint: str, token: str | None, timeout: float) -> _Remote:
    """Branches and tags of the repo, read with a timeout so an unreachable Hub fails fast."""
    from huggingface_hub.errors import RepositoryNotFoundError
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    url = f"{endpoint}/api/{REPO_TYPE}s/{repo_id}/refs"
    with hub_errors("read the tags of", repo_id, endpoint, token):
        response = get_session().get(url, headers=build_hf_headers(token=token or False), timeout=timeout)
        try:
            hf_raise_for_status(response)
        except RepositoryNotFoundError:
            return _Remote(False, None, {})
        refs = response.json()
    head = next((b["targetCommit"] for b in refs.get("branches", []) if b["name"] == "main"), None)
    return _Remote(True, head, {t["name"]: t["targetCommit"] for t in refs.get("tags", [])})


@contextlib.contextmanager
def hub_errors(step: str, repo_id: str, endpoint: str, token: str | None, tag: str | None = None) -> Iterator[None]:
    """Turn what huggingface_hub and httpx raise into one-line PublishErrors naming the repo and the endpoint."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RevisionNotFoundError

    where = f"{repo_id} on {endpoint}"
    try:
        yield
    except (OfflineModeIsEnabled, httpx.TransportError, ConnectionError, TimeoutError) as exc:
        raise HubUnreachable(f"cannot reach {endpoint} to {step} {repo_id} ({_cause_line(exc, token)}); "
                           "check the network, HF_ENDPOINT and HF_HUB_OFFLINE") from None
    except RevisionNotFoundError:
        raise PublishError(f"cannot {step} {where}: the revision does not exist; pass an existing tag") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            fix = "the token was rejected; set a valid HF_TOKEN or run `hf auth login`"
        elif status == 403:
            fix = "the token may not write there; use a token with write access to that namespace"
        elif status == 409 and tag:
            fix = f"tag {tag} already exists (the files are committed but untagged); choose a new `version`"
        elif status == 412:
            fix = "the repo changed during the push; run it again"
        else:
            fix = f"{_cause_line(exc, token)}; check the repo id and try again"
        raise PublishError(f"cannot {step} {where}: {fix}") from None
    except (OSError, ValueError, RuntimeError) as exc:  # upload failures, invalid card metadata, LFS errors
        raise PublishError(f"cannot {step} {where} ({_cause_line(exc, token)}); fix it and run the push again") \
            from None


def _cause_line(exc: BaseException, token: str | None) -> str:
    """One line for a Hub failure: the cause huggingface_hub wrapped in a RuntimeError, the token masked."""
    cause = exc.__cause__ if isinstance(exc, RuntimeError) and exc.__cause__ else exc
    return one_line(cause, secret=token)


def _local_files(out_dir: Path, version: str) -> list[tuple[str, int]]:
    """The Hub layout of a pokembed output folder: (path, size) sorted; BadInputError if the folder is not ours."""
    marker = out_dir / MARKER
    if not marker.is_file():
        raise BadInputError(f"{out_dir} is not a pokembed output folder (no {MARKER} marker); "
                            "pass the `out` folder of a build")
    built = _marker_version(out_dir)
    if built is not None and built.lstrip("v") != version:
        raise BadInputError(f"{out_dir} was built as version {built}, not {version}; "
                            f"rebuild with `version` {version} or push with `version` {built}")
    parquet = sorted((out_dir / DATA_DIR).rglob("*.parquet"))
    if not (out_dir / CARD).is_file() or not parquet:
        raise BadInputError(f"{out_dir} lacks {CARD} or {DATA_DIR}/*.parquet (an unfinished build?); rebuild it")
    figures = sorted((out_dir / FIGURES_DIR).glob("*.png"))  # the card's figures (older builds have none)
    files = [out_dir / CARD, marker, *parquet, *figures]
    return sorted((p.relative_to(out_dir).as_posix(), p.stat().st_size) for p in files)


def _marker_version(out_dir: Path) -> str | None:
    """The version recorded in the folder's `.pokembed` marker, if it records one."""
    try:
        facts = read_marker(out_dir) or {}
    except BadInputError:
        return None
    version = facts.get("version")
    return version if isinstance(version, str) and version else None


def check_repo_id(repo_id: str, parameter: str = "repo_id") -> None:
    """Refuse a repo id that is not OWNER/NAME, in one line naming ``parameter`` (the CLI shows its flag) and the
    value."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    checked = repo_id
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        checked = ""
    if checked.count("/") != 1:
        raise BadInputError(f"`{parameter}` {repo_id!r} is not a repo id: it must look like OWNER/NAME (e.g. "
                            f"`{parameter}` me/pokemon-embeddings)")


def _with_notes(plan: PushPlan, notes: list[str]) -> PushPlan:
    return replace(plan, notes=notes)


def _latest_tag(tags: dict[str, str]) -> str | None:
    versions = [tuple(map(int, m.groups())) for t in tags if (m := VERSION_PATTERN.fullmatch(t)) and t.startswith("v")]
    return "v{}.{}.{}".format(*max(versions)) if versions else None


def _published(path: str) -> bool:
    return path in (CARD, MARKER) or (path.startswith(f"{DATA_DIR}/") and path.endswith(".parquet"))
