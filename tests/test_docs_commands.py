"""Every `python -m <module> --flag...` command in README.md and docs/ names a module and flags that exist.

The defined flags are read from each module's own help text (`--helpfull` for absl CLIs, `--help` for
argparse ones), so a renamed or removed flag fails here before a reader meets it.
"""

import functools
import glob
import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_PACKAGES = ("trainers", "datasets", "export", "bench")
DOC_FILES = ["README.md"] + sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md")))
INLINE_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
FENCED_CODE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)
COMMAND = re.compile(r"python3? -m (\w+(?:\.\w+)*)((?:\s+--[\w-]+(?:=\S*)?)*)")
HELP_FLAG = re.compile(r"--(?:\[no\])?([\w-]+)")


def code_text(markdown: str) -> list[str]:
    """Fenced blocks (backslash continuations joined) and inline code spans, newlines folded to spaces."""
    blocks = [block.replace("\\\n", " ") for block in FENCED_CODE.findall(markdown)]
    inline = INLINE_CODE.findall(FENCED_CODE.sub("", markdown))
    return [" ".join(text.split()) for text in blocks + inline] + [line for b in blocks for line in b.splitlines()]


def documented_commands() -> list[tuple[str, str, tuple[str, ...]]]:
    """(doc file, module, flag names) for every project command in the docs, deduplicated."""
    found = set()
    for doc in DOC_FILES:
        with open(os.path.join(REPO, doc), encoding="utf-8") as handle:
            texts = code_text(handle.read())
        for text in texts:
            for module, arguments in COMMAND.findall(text):
                if module.split(".")[0] in PROJECT_PACKAGES:
                    names = tuple(sorted({a.split("=")[0][2:] for a in arguments.split()}))
                    found.add((doc, module, names))
    return sorted(found)


@functools.lru_cache(maxsize=None)
def defined_flags(module: str) -> frozenset:
    """The flag names `python -m module` accepts, from its help text."""
    spec = importlib.util.find_spec(module)
    with open(spec.origin, encoding="utf-8") as handle:
        help_flag = "--help" if "argparse" in handle.read() else "--helpfull"
    completed = subprocess.run([sys.executable, "-m", module, help_flag], cwd=REPO, capture_output=True,
                               text=True, timeout=300)
    flags = frozenset(HELP_FLAG.findall(completed.stdout))  # absl exits 1 after printing help, argparse 0
    assert "help" in flags, f"python -m {module} {help_flag} printed no help:\n{completed.stderr[-2000:]}"
    return flags


COMMANDS = documented_commands()


def test_the_docs_hold_the_commands_a_reader_needs():
    modules = {module for _, module, _ in COMMANDS}
    for expected in ("datasets.criteo", "datasets.avazu", "trainers.fit", "trainers.sweep", "trainers.analyze",
                     "trainers.quickstart", "export.saved_model", "export.predict"):
        assert expected in modules


def test_the_parser_reads_wrapped_inline_commands_and_continued_blocks():
    text = ("Run `python -m trainers.sweep --flagfile=a.flags\n--seeds=3` and\n\n```bash\n"
            "python -m export.predict --model_dir=m \\\n  --input=x.txt\n```\n")
    found = {(m, a.split()[-1]) for t in code_text(text) for m, a in COMMAND.findall(t)}
    assert ("trainers.sweep", "--seeds=3") in found and ("export.predict", "--input=x.txt") in found


def flags_or_error(module: str):
    """defined_flags(module), or the AssertionError saying why it has none (reported by that module's tests)."""
    try:
        return defined_flags(module)
    except AssertionError as error:
        return error


@pytest.fixture(scope="module")
def module_flags():
    modules = sorted({module for _, module, _ in COMMANDS})
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(modules, pool.map(flags_or_error, modules)))


@pytest.mark.parametrize("doc,module,names", COMMANDS, ids=lambda value: str(value)[:60])
def test_documented_command_names_an_existing_module_and_flags(doc, module, names, module_flags):
    assert importlib.util.find_spec(module) is not None, f"{doc}: no module {module}"
    if isinstance(module_flags[module], AssertionError):
        raise module_flags[module]
    unknown = [name for name in names if name not in module_flags[module]
               and not (name.startswith("no") and name[2:] in module_flags[module])]
    assert not unknown, f"{doc}: python -m {module} has no flags {unknown}"


@pytest.mark.parametrize("path", sorted({m.group(1) for doc in DOC_FILES
                                         for m in re.finditer(r"--flagfile=(configs/\S+?\.flags)",
                                                              open(os.path.join(REPO, doc), encoding="utf-8").read())}))
def test_documented_flagfiles_exist(path):
    assert os.path.isfile(os.path.join(REPO, path))
