"""Run this same build as a Hugging Face Job (or on a schedule), for a maintainer without a GPU at home.

``build_dataset.py --hf-job FLAVOR ...`` submits the command line it was given, minus the job options, to Hugging
Face Jobs through ``huggingface_hub``'s jobs API: the job clones the pokembed repository at a pinned commit into a
pinned image, installs it, and runs ``build_dataset.py`` with those arguments. The Hub token travels only as the
job secret ``HF_TOKEN`` (never in the command, the environment or a label, never printed); the job's logs stream
back, redacted, and the CLI exits with the job's status. ``--schedule CRON`` creates a scheduled job instead,
replacing the earlier schedule of the same build (the same target repo).

The job's disk is discarded when it ends, so a job must ``--push``; it cannot read local paths (``csv:PATH``, an
artwork folder, a local model folder, ``--previous DIR``), so those are refused before anything is submitted.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pokembed.errors import BadInputError, JobError, one_line

logger = logging.getLogger(__name__)

#: Python 3.11 with uv on Debian bookworm (git included), pinned to one uv release.
DEFAULT_IMAGE = "ghcr.io/astral-sh/uv:0.11.12-python3.11-bookworm"
SECRET_NAME = "HF_TOKEN"
SCHEDULE_LABEL = "pokembed-schedule"  # labels the scheduled job of one target repo, so a new schedule replaces it
TAIL_LINES = 20  # log lines repeated when a job fails
#: Options of this CLI that configure the job itself and are not passed on to the build inside it.
JOB_OPTIONS = ("--hf-job", "--schedule", "--hf-job-code", "--hf-job-revision", "--hf-job-image", "--hf-job-timeout")
JOB_FLAGS = ("--dry-run",)  # with --hf-job: show the job, submit nothing
#: What the job runs: clone the pinned commit, install it, run the build with the arguments after the script.
JOB_SCRIPT = """set -euo pipefail
git clone --quiet "$POKEMBED_CODE" /pokembed
cd /pokembed
git checkout --quiet --detach "$POKEMBED_REVISION"
uv pip install --system --quiet .
exec python build_dataset.py "$@"
"""
_REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class JobOptions:
    """How to run the build as a job; None means the default (the checkout's origin and HEAD, the pinned image)."""

    flavor: str
    schedule: str | None = None
    code_url: str | None = None
    revision: str | None = None
    image: str | None = None
    timeout: str = "2h"
    endpoint: str | None = None
    namespace: str | None = None  # default: the token's user


@dataclass(frozen=True)
class JobPlan:
    """What is submitted: everything but the token's value."""

    image: str
    command: list[str]
    env: dict[str, str]
    secret_names: list[str]
    flavor: str
    timeout: str
    labels: dict[str, str] = field(default_factory=dict)
    schedule: str | None = None

    def describe(self) -> str:
        """Lines for the terminal: what runs where (no secret values)."""
        when = f"on the schedule {self.schedule!r}" if self.schedule else "now"
        return "\n".join([
            f"Hugging Face Job on {self.flavor}, {when}, time limit {self.timeout}",
            f"  image: {self.image}",
            f"  code: {self.env['POKEMBED_CODE']} @ {self.env['POKEMBED_REVISION']}",
            f"  runs: python build_dataset.py {shlex.join(self.command[4:])}",
            f"  secrets: {', '.join(self.secret_names)} (from your token, never shown)",
        ])


def job_arguments(argv: Sequence[str]) -> list[str]:
    """The build's own arguments: ``argv`` without the job options (``--hf-job X``, ``--schedule=X``, ...) and
    ``--dry-run`` (which shows the job instead of submitting it), plus ``--no-progress`` (the logs are read line by
    line)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if arg in JOB_FLAGS:
            continue
        if name in JOB_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    if "--no-progress" not in out:
        out.append("--no-progress")
    return out


def check_remote_inputs(inputs: dict[str, str | None]) -> None:
    """Refuse options naming local paths, which the job cannot read; ``inputs`` maps an option to its value."""
    from pokembed.sources.choice import parse_source

    problems = []
    source = inputs.get("--source")
    if source and parse_source(source)[0] == "csv":
        problems.append(f"--source {source} (use auto or pokeapi:REF)")
    artwork = inputs.get("--artwork")
    if artwork and not artwork.startswith(("http://", "https://")):
        problems.append(f"--artwork {artwork} (use a URL template)")
    for option in ("--text-model", "--image-model"):
        value = inputs.get(option)
        if value and Path(value).expanduser().exists():
            problems.append(f"{option} {value} (use a registry name or Hub id)")
    if inputs.get("--previous"):
        problems.append("--previous (the job diffs against the Hub's latest version)")
    if problems:
        raise BadInputError(f"a Hugging Face Job cannot read local paths: {'; '.join(problems)}")


_CRON_SHORTCUTS = ("@annually", "@yearly", "@monthly", "@weekly", "@daily", "@hourly")  # huggingface_hub's list
#: The five cron fields: name, lowest, highest, names accepted in place of numbers (first name = lowest).
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_CRON_ITEM = re.compile(r"^(\*|(\w+)(?:-(\w+))?)(?:/(\d+))?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


def check_schedule(schedule: str) -> None:
    """BadInputError naming ``--schedule`` unless it is one of huggingface_hub's shortcuts or a 5-field cron
    expression (numbers, ``*``, ranges, steps, lists, month and weekday names), each value within its field."""
    text = schedule.strip().lower()
    if text in _CRON_SHORTCUTS:
        return
    fields = text.split()
    problem = None if len(fields) == 5 else f"has {len(fields)} fields, a cron expression has 5"
    for value, (name, low, high, names) in zip(fields if problem is None else [], _CRON_FIELDS):
        for item in value.split(","):
            match = _CRON_ITEM.match(item)
            bounds = [_cron_value(part, low, names) for part in (match.group(2), match.group(3)) if part] \
                if match else []
            if not match or None in bounds or any(not low <= b <= high for b in bounds) or match.group(4) == "0" \
                    or (len(bounds) == 2 and bounds[0] > bounds[1]):
                problem = f"has {item!r} in its {name} field ({low}-{high})"
                break
        if problem:
            break
    if problem:
        raise BadInputError(f"--schedule {schedule!r} {problem}; use a cron expression such as '0 3 * * 1' "
                            f"(minute hour day month weekday) or one of {', '.join(_CRON_SHORTCUTS)}")


def _cron_value(part: str, low: int, names: tuple[str, ...]) -> int | None:
    if part.isdigit():
        return int(part)
    return names.index(part) + low if part in names else None


def check_duration(timeout: str) -> None:
    """BadInputError naming ``--hf-job-timeout`` unless it is seconds or a number with s, m, h or d (as the Hub's
    jobs API reads it), more than zero."""
    match = _DURATION.match(str(timeout).strip())
    if not match or float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)] < 1:
        raise BadInputError(f"--hf-job-timeout {timeout!r} is not a duration; use seconds or a number with s, m, h "
                            "or d, such as 90m or 2h")


def plan_job(argv: Sequence[str], options: JobOptions, *, push_repo: str | None) -> JobPlan:
    """The job for this build: the pinned code and image, the command, the secret's name, the labels."""
    if options.schedule is not None:
        check_schedule(options.schedule)
    check_duration(options.timeout)
    if not push_repo:
        raise BadInputError("--hf-job needs --push REPO_ID: the job's disk is discarded when it ends, so it must "
                            "publish what it builds")
    code_url = options.code_url or _git(["remote", "get-url", "origin"])
    if not code_url:
        raise BadInputError("--hf-job needs the pokembed repository the job clones: pass --hf-job-code GIT_URL "
                            "(a public clone URL) or run from a checkout with an 'origin' remote")
    revision = options.revision or _git(["rev-parse", "HEAD"])
    if not revision:
        raise BadInputError("--hf-job needs the pokembed commit to run: pass --hf-job-revision COMMIT")
    if not options.revision and _git(["status", "--porcelain", "--untracked-files=no"]):
        logger.warning("this checkout has uncommitted changes: the job runs commit %s without them", revision[:12])
    labels = {"pokembed": "build", "pokembed-repo": _label(push_repo)}
    if options.schedule:
        labels[SCHEDULE_LABEL] = _label(push_repo)
    return JobPlan(
        image=options.image or DEFAULT_IMAGE,
        command=["bash", "-c", JOB_SCRIPT, "pokembed-job", *job_arguments(argv)],
        env={"POKEMBED_CODE": code_url, "POKEMBED_REVISION": revision, "PYTHONUNBUFFERED": "1"},
        secret_names=[SECRET_NAME],
        flavor=options.flavor,
        timeout=options.timeout,
        labels=labels,
        schedule=options.schedule,
    )


def run_build_job(
    argv: Sequence[str],
    options: JobOptions,
    *,
    push_repo: str | None,
    inputs: dict[str, str | None] | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
    token: str | None = None,
) -> int:
    """Submit the build (or its schedule), stream the job's logs through ``echo``; 0 when the job completed.

    JobError when it ended otherwise (after echoing its last log lines), or when the Hub refused the job.
    """
    from pokembed.hub.publish import require_token, resolve_endpoint

    check_remote_inputs(inputs or {})
    plan = plan_job(argv, options, push_repo=push_repo)
    if dry_run:
        check_flavor_if_reachable(options.endpoint, plan.flavor)
        echo("Dry run, nothing submitted:\n" + plan.describe())
        return 0
    token = require_token(token)
    from huggingface_hub import HfApi

    api = HfApi(endpoint=resolve_endpoint(options.endpoint), token=token, library_name="pokembed")
    with _jobs_errors(api.endpoint, token):
        namespace = options.namespace or api.whoami()["name"]
        hardware = check_flavor(api, plan.flavor)
        submit = {"image": plan.image, "command": plan.command, "env": plan.env, "secrets": {SECRET_NAME: token},
                  "flavor": plan.flavor, "timeout": plan.timeout, "labels": plan.labels, "namespace": namespace}
        echo(plan.describe())
        echo(f"  hardware: {hardware.pretty_name} at {_hourly(hardware)} (time limit {plan.timeout})")
        if plan.schedule:
            return _schedule(api, plan, submit, namespace, echo)
        job = api.run_job(**submit)
        echo(f"Submitted job {job.id}: {job.url}")
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        for line in api.fetch_job_logs(job_id=job.id, namespace=namespace, follow=True):
            line = line.replace(token, "***")
            tail.append(line)
            echo(line)
        final = api.wait_for_job(job.id, namespace=namespace, poll_interval=5.0)
    stage, message = final.status.stage, final.status.message
    if stage == "COMPLETED":
        echo(f"Job {job.id} completed.")
        return 0
    if tail:
        echo(f"Last {len(tail)} log lines of job {job.id}:")
        for line in tail:
            echo(f"  {line}")
    detail = f" ({message.replace(token, '***')})" if message else ""
    raise JobError(f"Hugging Face Job {job.id} ended {stage}{detail}; read its logs at {job.url}")


def check_flavor(api, flavor: str):
    """The Hub's description of ``flavor`` (a JobHardwareInfo); BadInputError listing the GPU flavors with their
    prices when the Hub does not offer it."""
    hardware = api.list_jobs_hardware()
    match = next((h for h in hardware if h.name == flavor), None)
    if match is not None:
        return match
    gpus = [h for h in hardware if h.accelerator is not None]
    listing = ", ".join(f"{h.name} ({h.pretty_name}, {_hourly(h)})" for h in gpus) or "none listed"
    raise BadInputError(f"--hf-job {flavor}: unknown job flavor; use one the Hub offers, GPU flavors: {listing}")


def check_flavor_if_reachable(endpoint: str | None, flavor: str) -> None:
    """``check_flavor`` against the Hub's list of flavors (no token needed); only a warning when the list cannot be
    read, since the flavor is checked again when the job is submitted."""
    import httpx
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from pokembed.hub.publish import resolve_endpoint

    api = HfApi(endpoint=resolve_endpoint(endpoint), token=False, library_name="pokembed")
    try:
        check_flavor(api, flavor)
    except (HfHubHTTPError, httpx.HTTPError, OSError, ValueError) as exc:
        logger.warning("could not read the Hub's job flavors to check --hf-job %s (%s); the Hub checks it when the "
                       "job is submitted", flavor, one_line(exc, 160))


def _schedule(api, plan: JobPlan, submit: dict, namespace: str, echo: Callable[[str], None]) -> int:
    """Replace this repo's earlier schedule (same label) with a new scheduled job."""
    label = {SCHEDULE_LABEL: plan.labels[SCHEDULE_LABEL]}
    for old in api.list_scheduled_jobs(namespace=namespace, labels=label):
        api.delete_scheduled_job(scheduled_job_id=old.id, namespace=namespace)
        echo(f"Replaced the earlier scheduled job {old.id} ({old.schedule})")
    scheduled = api.create_scheduled_job(schedule=plan.schedule, **submit)
    when = scheduled.status.next_job_run_at
    echo(f"Scheduled job {scheduled.id}: {plan.schedule}" + (f", next run {when.isoformat()}" if when else ""))
    return 0


def _jobs_errors(endpoint: str, token: str):
    """huggingface_hub's and httpx's errors as one-line JobErrors (the token never in them)."""
    import contextlib

    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    @contextlib.contextmanager
    def guard():
        try:
            yield
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            fix = {401: "the token was rejected; set a valid HF_TOKEN or run `hf auth login`",
                   402: "Jobs need a payment method or credits on the account",
                   403: "the token may not run jobs in that namespace; use a token with the jobs permission"}
            text = fix.get(status) or one_line(exc, secret=token)
            raise JobError(f"Hugging Face Jobs on {endpoint} refused: {text}") from None
        except (httpx.TransportError, ConnectionError, TimeoutError) as exc:
            raise JobError(f"cannot reach {endpoint} to run the job ({one_line(exc, secret=token)}); check the network "
                           "and HF_ENDPOINT") from None

    return guard()


def _hourly(hardware) -> str:
    per_unit = float(hardware.unit_cost_usd)
    unit = str(hardware.unit_label or "minute")
    per_hour = per_unit * {"second": 3600, "minute": 60, "hour": 1}.get(unit, 60)
    return f"${per_hour:.2f}/h"


def _label(repo_id: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", repo_id)


def _git(args: list[str]) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(_REPO_ROOT), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
