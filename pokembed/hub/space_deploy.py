"""Deploy the Gradio Space that serves a published dataset version: one commit, two variables, one restart.

`deploy_space` uploads `space/` (app, page modules, assets, card, requirements) and a wheel of the checkout's
`pokembed` package (`pokembed.hub.space_wheel`), named in the shipped requirements.txt so the Space installs pokembed
as pip does, into a Space repo in one commit (deleting the module files older deploys copied), sets `POKEMBED_DATASET` and `POKEMBED_REVISION` as Space variables (public settings, not
secrets) naming the dataset's `vX.Y.Z` tag, and restarts the Space. It writes nothing before that tag exists on the
dataset, so a Space serving version N keeps serving N until N+1 is fully pushed and tagged. A failure after the
first write names the step that failed, what is already done and the command that finishes the deploy. The token
follows the dataset push's rules (`pokembed.hub.publish`): it goes only into request headers, never into a message, a
log line, a file or the Space.

Run it on its own with `python -m pokembed.hub.space_deploy SPACE_ID --dataset REPO_ID --version X.Y.Z [--dry-run]`;
`build_dataset.py --push REPO_ID --space SPACE_ID` runs it right after the dataset push.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pokembed.dataset.versioning import validate_version
from pokembed.errors import BadInputError, PokembedError, PublishError
from pokembed.hub.commit_plan import CommitPlan
from pokembed.hub.space_wheel import build_wheel, check_buildable
from pokembed.hub.publish import (
    HubUnreachable,
    check_repo_id,
    hub_errors,
    read_remote,
    resolve_endpoint,
    resolve_token,
)

logger = logging.getLogger(__name__)

REPO_TYPE = "space"
SDK = "gradio"
PACKAGE = "pokembed"
SPACE_DIR = "space"
CARD = "README.md"
REQUIREMENTS = "requirements.txt"
DATASET_VARIABLE = "POKEMBED_DATASET"
REVISION_VARIABLE = "POKEMBED_REVISION"
VARIABLE_DESCRIPTIONS = {
    DATASET_VARIABLE: "Hub dataset the Space serves (set by pokembed's Space deploy)",
    REVISION_VARIABLE: "dataset tag the Space serves (set by pokembed's Space deploy)",
}
_SKIPPED_PARTS = ("__pycache__", "flagged", "gradio_cached_examples")  # caches and run-time output of a local run
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".log")
_NO_TOKEN = "deploying the Space needs a Hugging Face token: set HF_TOKEN or run `hf auth login`"


@dataclass(frozen=True)
class SpacePlan(CommitPlan):
    """What a deploy writes: the Space's files (path, exact bytes), stale code it deletes, the variables, the restart."""

    dataset_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def space_id(self) -> str:
        return self.repo_id

    def headline(self) -> str:
        return (f"deploy Space {self.space_id} serving {self.dataset_id} at {self.tag}: "
                f"one commit ({self.commit_message!r}), then the variables, then a restart")

    def steps(self) -> list[str]:
        return [*(f"  set variable {key}={value}" for key, value in self.variables.items()), f"  restart {self.space_id}"]


@dataclass(frozen=True)
class SpaceDeployResult:
    plan: SpacePlan
    commit_url: str | None  # None for a dry run
    commit_oid: str | None
    stage: str | None  # the Space's runtime stage after the restart request (e.g. RUNNING_BUILDING)
    dry_run: bool


def default_root() -> Path:
    """The checkout holding `space/` and `pokembed/`: the folder above this package."""
    return Path(__file__).resolve().parents[2]


def space_files(root: Path | None = None) -> dict[str, Path]:
    """Path in the Space repo -> local file: everything in `space/` but caches and run-time output. Nothing from
    tests/ or build outputs; pokembed itself goes as a wheel (`plan_space`)."""
    root = Path(root) if root is not None else default_root()
    space = root / SPACE_DIR
    if not (space / "app.py").is_file():
        raise BadInputError(f"{root} has no {SPACE_DIR}/app.py; deploy from a pokembed checkout")
    check_buildable(root)
    files = {p.relative_to(space).as_posix(): p for p in sorted(space.rglob("*"))
             if p.is_file() and _shipped(p.relative_to(space))}
    for required, what in ((CARD, "its card (sdk, app_file)"), (REQUIREMENTS, "its requirements")):
        if required not in files:
            raise BadInputError(f"{space / required} is missing: the Space needs {what}")
    return dict(sorted(files.items()))


def shipped_requirements(requirements: bytes, wheel_name: str, space_url: str) -> bytes:
    """space/requirements.txt with a last line naming the wheel shipped beside it, by its URL in the Space repo.

    A Space's image build mounts requirements.txt alone for `pip install -r`, so a relative `./pokembed-….whl` would
    not be found there; the repo's own resolve URL is (the commit that ships the wheel triggers that build)."""
    text = requirements.decode("utf-8").rstrip("\n")
    return (f"{text}\npokembed @ {space_url}/resolve/main/{wheel_name}  # built from the deployed checkout\n"
            .encode("utf-8"))


def check_deployable(space_id: str, dataset_id: str, *, root: Path | None = None) -> None:
    """Before a long build: BadInputError for a bad Space or dataset id, or a checkout without the Space's files."""
    check_repo_id(space_id, "space_id")
    check_repo_id(dataset_id)
    space_files(root)


def plan_space(space_id: str, dataset_id: str, version: str, *, root: Path | None = None,
               remote_files: list[str] | None = None, endpoint: str | None = None) -> SpacePlan:
    """Plan a deploy without any network call; `remote_files` (None: unknown) decides the deletions."""
    check_repo_id(space_id, "space_id")
    check_repo_id(dataset_id)
    tag = f"v{validate_version(version)}"
    contents = {path: local.read_bytes() for path, local in space_files(root).items()}
    contents[CARD] = _card_naming(contents[CARD], dataset_id)
    wheel_name, contents[wheel_name] = build_wheel(Path(root) if root is not None else default_root())
    space_url = f"{resolve_endpoint(endpoint)}/spaces/{space_id}"
    contents[REQUIREMENTS] = shipped_requirements(contents[REQUIREMENTS], wheel_name, space_url)
    variables = {DATASET_VARIABLE: dataset_id, REVISION_VARIABLE: tag}
    plan = SpacePlan(repo_id=space_id, dataset_id=dataset_id, tag=tag, files=tuple(sorted(contents.items())),
                     deletions=(), variables=variables, commit_message=f"pokembed Space serving {dataset_id} {tag}")
    return _knowing(plan, remote_files)


def _knowing(plan: SpacePlan, remote_files: list[str] | None) -> SpacePlan:
    """`plan` with the deletions that `remote_files` (None: unknown) call for: old code the new files do not hold."""
    shipped = {path for path, _ in plan.files}
    deletions = sorted(p for p in remote_files or [] if p not in shipped and _managed(p))
    notes = () if remote_files is not None else ("the Space's current files are unknown: stale code is not listed",)
    return replace(plan, deletions=tuple(deletions), notes=notes)


def deploy_space(space_id: str, dataset_id: str, version: str, *, token: str | None = None,
                 endpoint: str | None = None, dry_run: bool = False, private: bool = False,
                 root: Path | None = None, timeout: float = 30.0) -> SpaceDeployResult:
    """Make the Space `space_id` serve tag `vVERSION` of `dataset_id`: commit, set the variables, restart.

    Refuses (PublishError) without a token, or while the dataset has no such tag, before writing anything. A dry
    run writes nothing and needs no token; what it cannot read from the Hub becomes a note in the plan.
    """
    plan = plan_space(space_id, dataset_id, version, root=root, endpoint=endpoint)  # checks the ids, the version and the files first
    endpoint, token = resolve_endpoint(endpoint), resolve_token(token)
    if token is None and not dry_run:
        raise PublishError(_NO_TOKEN)
    notes: list[str] = []
    try:
        dataset = read_remote(dataset_id, endpoint, token, timeout)
    except PublishError as exc:
        if not dry_run:
            raise
        reason = f"{endpoint} could not be reached" if isinstance(exc, HubUnreachable) else f"the Hub refused: {exc}"
        plan = replace(plan, notes=(f"{reason}; the dataset tag and the Space are not checked", *plan.notes))
        return SpaceDeployResult(plan, None, None, None, dry_run=True)
    if plan.tag not in dataset.tags:
        if not dry_run:
            raise PublishError(f"dataset {dataset_id} has no tag {plan.tag} yet, so the Space keeps serving what it "
                               f"serves; push that version first (build_dataset.py --push {dataset_id} "
                               f"--version {plan.tag[1:]} --space {space_id})")
        notes.append(f"{dataset_id} has no tag {plan.tag} yet: a real run deploys only once the dataset push tagged it")

    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token, library_name="pokembed")
    try:
        head, remote_files = _read_space(api, space_id, endpoint, token)
    except PublishError as exc:
        if not dry_run:
            raise
        head, remote_files = "", None
        notes.append(f"the Space could not be read ({exc})")
    plan = _knowing(plan, remote_files)  # the files and the wheel as planned above: built once per deploy
    if head is None:
        notes.append(f"Space {space_id} does not exist yet: it will be created (sdk {SDK})")
    elif dry_run and head and token is not None:
        notes += _current_state(api, plan, endpoint, token)
    if token is None:
        notes.append("no Hugging Face token found: a real deploy needs HF_TOKEN or `hf auth login`")
    plan = replace(plan, notes=(*notes, *plan.notes))
    if dry_run:
        logger.info("dry run: nothing deployed to %s", space_id)
        return SpaceDeployResult(plan, None, None, None, dry_run=True)
    return _deploy(api, plan, head, endpoint, token, private)


def finish_command(space_id: str, dataset_id: str, version: str) -> str:
    """The command that runs (or finishes) a deploy on its own, without rebuilding the dataset."""
    version = version.removeprefix("v")
    return f"python -m pokembed.hub.space_deploy {space_id} --dataset {dataset_id} --version {version}"


def push_failed(error: PokembedError, space_id: str, dataset_id: str, version: str) -> PublishError:
    """The dataset push before a deploy failed: its error, plus that the Space is untouched and how to deploy it once
    the version is tagged (e.g. after finishing a push whose tag did not land)."""
    command = finish_command(space_id, dataset_id, version)
    return PublishError(f"{error}; the Space {space_id} was not touched and serves what it served: once the tag "
                        f"v{version.removeprefix('v')} exists, deploy it with `{command}`")


# ---- the steps ------------------------------------------------------------------------------------------------------
_STEPS = {  # title -> the verb of "cannot VERB OWNER/NAME on ENDPOINT: ..."
    "create the Space": "create",
    "commit the Space files": "commit to",
    "set the Space variables": "set the variables of",
    "restart the Space": "restart",
}


def _deploy(api, plan: SpacePlan, head: str | None, endpoint: str, token: str, private: bool) -> SpaceDeployResult:
    """Create the Space if needed, commit, set the variables, restart; a failure names its step and the way on."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    space_id, done = plan.space_id, []
    if head is None:
        with _step(plan, "create the Space", done, endpoint, token):
            api.create_repo(space_id, repo_type=REPO_TYPE, space_sdk=SDK, exist_ok=True, private=private)
        done.append(f"created {space_id}")
        logger.info("created Space %s", space_id)
    operations = [CommitOperationAdd(path, data) for path, data in plan.files]
    operations += [CommitOperationDelete(path) for path in plan.deletions]
    with _step(plan, "commit the Space files", done, endpoint, token):
        commit = api.create_commit(space_id, operations, commit_message=plan.commit_message, repo_type=REPO_TYPE,
                                   revision="main", parent_commit=head)
    if commit.oid == head:  # a rerun: huggingface_hub makes no empty commit
        logger.info("the Space %s already holds these files (%s): no new commit", space_id, commit.oid)
    else:
        logger.info("committed %d files to Space %s (%s)", len(plan.files), space_id, commit.oid)
    done.append(f"committed the files ({commit.oid[:8]})")
    with _step(plan, "set the Space variables", done, endpoint, token):
        for key, value in plan.variables.items():
            api.add_space_variable(space_id, key, value, description=VARIABLE_DESCRIPTIONS[key])
    done.append(f"set {', '.join(f'{k}={v}' for k, v in plan.variables.items())}")
    with _step(plan, "restart the Space", done, endpoint, token):
        runtime = api.restart_space(space_id)
    logger.info("restarted Space %s serving %s %s (stage %s)", space_id, plan.dataset_id, plan.tag, runtime.stage)
    return SpaceDeployResult(plan, commit.commit_url, commit.oid, runtime.stage, dry_run=False)


@contextlib.contextmanager
def _step(plan: SpacePlan, title: str, done: list[str], endpoint: str, token: str) -> Iterator[None]:
    """One write of a deploy: what the Hub raises becomes one PublishError naming the step, what is done, and the
    command that finishes the deploy (every step can run again: unchanged files make no new commit)."""
    try:
        with hub_errors(_STEPS[title], plan.space_id, endpoint, token):
            yield
    except PublishError as error:
        number = list(_STEPS).index(title) + 1
        raise PublishError(
            f"the Space deploy stopped at step {number} of {len(_STEPS)} ({title}): {error}. "
            f"Done: {'; '.join(done) or 'nothing yet'}. The dataset tag {plan.tag} is published; to finish, fix "
            f"that and run `{finish_command(plan.space_id, plan.dataset_id, plan.tag)}`") from None


def _read_space(api, space_id: str, endpoint: str, token: str | None) -> tuple[str | None, list[str] | None]:
    """The Space's head commit and files, or (None, []) when it does not exist yet."""
    from huggingface_hub.errors import RepositoryNotFoundError

    with hub_errors("read", space_id, endpoint, token):
        try:
            info = api.space_info(space_id, files_metadata=False)
        except RepositoryNotFoundError:
            return None, []
    return info.sha, [s.rfilename for s in info.siblings or []]


def _current_state(api, plan: SpacePlan, endpoint: str, token: str) -> list[str]:
    """Dry-run notes: what each variable holds now and the Space's runtime stage."""
    try:
        with hub_errors("read the settings of", plan.space_id, endpoint, token):
            current = api.get_space_variables(plan.space_id)
            stage = api.get_space_runtime(plan.space_id).stage
    except PublishError as exc:
        return [f"the Space's variables could not be read ({exc})"]
    notes = [f"{key} is now {current[key].value if key in current else 'unset'}" for key in plan.variables]
    return [*notes, f"the Space is now {stage}"]


# ---- helpers --------------------------------------------------------------------------------------------------------
def _shipped(relative: Path) -> bool:
    """Whether a path under space/ belongs in the Space: no hidden files, caches or logs of a local run."""
    parts = relative.parts
    return (not any(part.startswith(".") or part in _SKIPPED_PARTS for part in parts)
            and relative.suffix not in _SKIPPED_SUFFIXES and not relative.name.endswith("~"))


def _managed(path: str) -> bool:
    """Remote files a deploy owns, so it deletes them when the app no longer uses them: the package's module files
    (copied by older deploys), wheels and top-level Python files. Anything else someone put in the Space (a LICENSE,
    assets) is left alone."""
    return path.startswith(f"{PACKAGE}/") or ("/" not in path and path.endswith((".py", ".whl")))


def _card_naming(card: bytes, dataset_id: str) -> bytes:
    """The Space card with `datasets:` naming the dataset it serves (the Hub links the two)."""
    from huggingface_hub import SpaceCard

    parsed = SpaceCard(card.decode("utf-8"))
    if parsed.data.get("datasets") == [dataset_id]:
        return card
    parsed.data.datasets = [dataset_id]
    return str(parsed).encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    """CLI: deploy (or finish deploying) the Space for a dataset version that is already pushed and tagged."""
    parser = argparse.ArgumentParser(prog="python -m pokembed.hub.space_deploy", description=__doc__.split("\n")[0])
    parser.add_argument("space", metavar="SPACE_ID", help="the Space repo, OWNER/NAME (created if missing)")
    parser.add_argument("--dataset", required=True, metavar="REPO_ID", help="the dataset repo the Space serves")
    parser.add_argument("--version", required=True, help="the dataset version X.Y.Z; its tag vX.Y.Z must exist")
    parser.add_argument("--dry-run", action="store_true", help="show what would be deployed, change nothing")
    parser.add_argument("--hub-endpoint", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = deploy_space(args.space, args.dataset, args.version, endpoint=args.hub_endpoint,
                              dry_run=args.dry_run)
    except PokembedError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print_result(result)
    return 0


def print_result(result: SpaceDeployResult) -> None:
    """The deploy's summary lines (used by this CLI and build_dataset.py)."""
    print("Dry run, Space not deployed:" if result.dry_run else "Deployed the Space:")
    print(result.plan.describe())
    if result.commit_url:
        print(f"  commit: {result.commit_url}")
    if result.stage:
        print(f"  the Space is restarting (stage {result.stage}); it serves {result.plan.dataset_id} "
              f"{result.plan.tag} once it is running")


if __name__ == "__main__":
    sys.exit(main())
