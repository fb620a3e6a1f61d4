#!/usr/bin/env bash
# Mutation testing, one module at a time, with only the test files that cover it (not part of CI: minutes per module).
#
#   scripts/mutation.sh [MODULE...]        e.g. scripts/mutation.sh pokembed/projection.py pokembed/explore/index.py
#
# For each MODULE: copies the working tree (tracked and untracked, not ignored files) to a temporary folder, writes
# a [mutmut] section in its setup.cfg (mutmut 3: source_paths, only_mutate, the test selection), runs `mutmut run`
# there under `timeout`, and prints killed / survived / other and the score killed / (killed + survived), then the
# surviving mutants' names (`mutmut show NAME` in the printed folder shows each diff). The repository itself is
# never touched. With no MODULE, the modules of the table below.
#
# Environment: PYTHON (default .venv/bin/python, with mutmut installed), JOBS (parallel mutants, default 1: the
# machine is shared), LIMIT (seconds per module, default 1800), TESTS (override the test files of every MODULE),
# KEEP=0 removes the temporary folder afterwards (kept by default, for `mutmut show`), KEXPR (pytest -k expression,
# default "not built": the tests that build the fixture take ~80 s in every mutant's session).
# mutmut forks one worker per mutant from a process that has run the tests: numba's default (GNU OpenMP) threading
# layer kills such a child ("fork() called from a process already using GNU OpenMP"), so workqueue and one thread.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
JOBS="${JOBS:-1}"
LIMIT="${LIMIT:-1800}"
KEXPR="${KEXPR:-not built}"

# module -> the test files that cover it (space-separated)
tests_for() {
    case "$1" in
        pokembed/projection.py) echo "tests/test_projection.py tests/test_projection_pins.py tests/test_pinned_answers.py" ;;
        pokembed/explore/index.py) echo "tests/test_search.py tests/test_index_pins.py tests/test_pinned_answers.py" ;;
        pokembed/explore/arithmetic.py) echo "tests/test_search_arithmetic.py tests/test_pinned_answers.py tests/test_arithmetic_pins.py" ;;
        pokembed/embedding/encoders.py) echo "tests/test_encoders.py tests/test_encoder_math.py tests/test_encoder_pins.py" ;;
        pokembed/embedding/architectures.py) echo "tests/test_architecture_pins.py tests/test_architectures.py tests/test_models.py tests/test_encoders.py tests/test_encoder_math.py" ;;
        pokembed/dataset/table.py) echo "tests/test_dataset.py tests/test_pinned_answers.py tests/test_table_pins.py" ;;
        pokembed/dataset/changes.py) echo "tests/test_versioning.py tests/test_changes_pins.py" ;;
        pokembed/explore/answers.py) echo "tests/test_space_answer_pins.py" ;;
        *) echo "" ;;
    esac
}

if [ "$#" -eq 0 ]; then
    set -- pokembed/projection.py pokembed/explore/index.py
fi
"$PYTHON" -c "import mutmut" 2>/dev/null || { echo "mutmut is not installed for $PYTHON; pip install mutmut" >&2; exit 2; }
MUTMUT="$(dirname "$PYTHON")/mutmut"

for module in "$@"; do
    [ -f "$ROOT/$module" ] || { echo "no module $module in $ROOT; give a path such as pokembed/projection.py" >&2; exit 2; }
    tests="${TESTS:-$(tests_for "$module")}"
    [ -n "$tests" ] || { echo "no test files known for $module; set TESTS='tests/test_x.py ...'" >&2; exit 2; }
    work="$(mktemp -d "${TMPDIR:-/tmp}/pokembed-mutation.XXXXXX")"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf - 2>/dev/null) | tar xf - -C "$work"
    [ -e "$ROOT/../shared" ] && ln -s "$(cd "$ROOT/../shared" && pwd)" "$work/shared"  # tests find ../shared from mutants/
    {
        echo "[mutmut]"
        echo "source_paths = pokembed"
        echo "only_mutate = $module"
        echo "also_copy ="
        for extra in tests space build_dataset.py pyproject.toml; do [ -e "$work/$extra" ] && echo "    $extra"; done
        echo "pytest_add_cli_args_test_selection ="
        for t in $tests; do echo "    $t"; done
        # the [built] cases of test_pinned_answers.py build a dataset in each mutant's pytest session (~80 s);
        # their [synthetic] twins pin the same answers in a second
        printf 'pytest_add_cli_args =\n    -x\n    -q\n    -p\n    no:cacheprovider\n    -k\n    %s\n' "$KEXPR"
    } > "$work/setup.cfg"
    echo "== $module  (tests: $tests; folder: $work)"
    start=$(date +%s)
    set +e
    (cd "$work" && PYTHONHASHSEED=0 OMP_NUM_THREADS=1 NUMBA_THREADING_LAYER=workqueue timeout "$LIMIT" "$MUTMUT" run --max-children "$JOBS" > mutmut.log 2>&1)
    status=$?
    set -e
    [ "$status" -eq 124 ] && echo "   stopped after ${LIMIT} s (LIMIT): the counts below cover the mutants checked so far"
    (cd "$work" && "$MUTMUT" export-cicd-stats > /dev/null 2>&1 || true)
    "$PYTHON" - "$work" "$module" "$(( $(date +%s) - start ))" <<'EOF'
import json, sys
from pathlib import Path

work, module, seconds = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
stats_file = work / "mutants" / "mutmut-cicd-stats.json"
if not stats_file.is_file():
    print(f"   no results: see {work / 'mutmut.log'}")
    sys.exit(0)
s = json.loads(stats_file.read_text())
other = s["total"] - s["killed"] - s["survived"]
checked = s["killed"] + s["survived"]
score = f"{100 * s['killed'] / checked:.1f}%" if checked else "n/a"
print(f"   {module}: killed {s['killed']}  survived {s['survived']}  other {other} "
      f"(no tests {s['no_tests']}, timeout {s['timeout']}, suspicious {s['suspicious']}, not checked "
      f"{other - s['no_tests'] - s['timeout'] - s['suspicious'] - s['skipped'] - s['segfault']})  "
      f"score {score}  in {seconds} s")
EOF
    (cd "$work" && "$MUTMUT" results 2>/dev/null | grep -E ": (survived|no tests|timeout|suspicious)$" | sed 's/^ */   /') || true
    [ "${KEEP:-1}" = 1 ] || rm -rf "$work"
done
