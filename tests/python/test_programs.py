"""Every external program mlci and its tests start is installed by `make setup`.

A fresh machine has only what the Makefile installs: its APT_PACKAGES (and what they depend on),
the Python venv it builds from python/pyproject.toml, and node_modules from package.json. The
scan below finds the programs the code starts, by name and by path, generically (any
`shutil.which`, `subprocess` call, service starter, Ansible `argv` or shell script command), so a
program added to the code without a set-up entry fails here, not on the next fresh machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NODE_BIN = REPO / "node_modules" / ".bin"
# Searched by Python code (source, tests, Ansible modules) and by the roles' tasks.
PY_ROOTS = ("python/src", "tests", "ansible", "bench")
# A program name: no spaces, no templating, no option.
NAME = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*"
PATTERNS = (
    # shutil.which("x"), mlci.programs.installed("x"), the test services' binary("x")
    re.compile(rf"""(?:\bwhich|\binstalled|\bbinary)\(\s*["']({NAME})["']"""),
    # subprocess.run(["x", ...]) / Popen / check_call / check_output / call, argv written inline
    re.compile(rf"""\b(?:run|Popen|check_call|check_output|call)\(\s*\[\s*["']({NAME}|/[^"'\s]+)["']"""),
    # an argv list spelled out: argv = ["x", ...]
    re.compile(rf"""\bargv\s*=\s*\[\s*["']({NAME}|/[^"'\s]+)["']"""),
    # a program by path: "/usr/sbin/x", "/usr/bin/x", "/bin/x", f"/usr/bin/{name}" is skipped
    re.compile(r"""["'](/(?:usr/)?s?bin/[A-Za-z0-9_.+-]+)["']"""),
    # a program beside the interpreter: Path(sys.executable).parent / "x", BIN / "x", MLCI.parent / "x"
    re.compile(rf"""(?:executable\)\.parent|\bBIN|\bMLCI\.parent|VENV_BIN)\s*/\s*["']({NAME})["']"""),
)
# Programs that are there whenever they are started, and why.
GIVEN = {
    "python": "the interpreter running the code",
    "python3": "the interpreter running the code",
    "make": "runs the set-up itself (`make test`)",
    "systemd-run": "the mlci_lb role starts it only where systemd runs (/run/systemd/system)",
}


@dataclass(frozen=True)
class Use:
    program: str  # a name looked up on PATH, or an absolute path
    where: str  # file:line


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def scan_python(path: Path) -> list[Use]:
    text = path.read_text(encoding="utf-8")
    uses = []
    for pattern in PATTERNS:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            uses.append(Use(match.group(1), f"{_shown(path)}:{line}"))
    return uses


def _role_defaults() -> dict[str, object]:
    out: dict[str, object] = {}
    for file in sorted((REPO / "ansible" / "roles").glob("*/defaults/main.yml")):
        out.update(yaml.safe_load(file.read_text(encoding="utf-8")) or {})
    return out


# Programs that start the program named after their options: that one is started too.
LAUNCHERS = {"setsid", "systemd-run", "nohup", "env", "sudo", "timeout", "nice"}


def _word(value: object, defaults: dict[str, object]) -> str | None:
    """The program an argv element names: a literal, or a role default it templates."""
    if isinstance(value, list):
        return _word(value[0], defaults) if value else None
    if not isinstance(value, str):
        return None
    whole = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", value.strip())
    if whole:
        return _word(defaults.get(whole.group(1)), defaults)
    if "{{" in value:  # a fact (ansible_playbook_python): the controller's interpreter
        return None
    return value.split()[0] if value.split() else None


def _programs(argv: object, defaults: dict[str, object]) -> list[str]:
    """The programs an argv (a list, or a command line) starts: the first, and any a launcher runs."""
    if isinstance(argv, str):
        whole = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", argv.strip())
        if whole and isinstance(defaults.get(whole.group(1)), list):
            argv = defaults[whole.group(1)]
        else:  # a command line: its role defaults filled in, then split
            argv = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(defaults.get(m.group(1), m.group(0))), argv).split()
    words = argv if isinstance(argv, list) else []
    out = []
    rest = list(words)
    while rest:
        word = _word(rest.pop(0), defaults)
        if word is None:
            break
        out.append(word)
        if Path(word).name not in LAUNCHERS:
            break
        while rest and isinstance(rest[0], str) and rest[0].startswith("-"):
            rest.pop(0)
    return out


def scan_tasks(path: Path, defaults: dict[str, object]) -> list[Use]:
    """Programs the roles' tasks run (command argv, template validate)."""
    uses = []
    lines = path.read_text(encoding="utf-8").splitlines()
    # Line numbers of each key, in document order (the walk below meets them in that order).
    at: dict[str, list[int]] = {}
    for number, line in enumerate(lines, 1):
        found = re.match(r"\s*(argv|validate|cmd):", line)
        if found:
            at.setdefault(found.group(1), []).append(number)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("argv", "validate", "cmd"):
                    line = at[key].pop(0) if at.get(key) else 0
                    uses.extend(Use(word, f"{_shown(path)}:{line}") for word in _programs(value, defaults))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load("\n".join(lines)))
    return uses


# Shell words that are not programs: keywords, builtins, and a POSIX shell's special forms.
SHELL_WORDS = {
    "if",
    "then",
    "elif",
    "else",
    "fi",
    "for",
    "in",
    "do",
    "done",
    "while",
    "until",
    "case",
    "esac",
    "set",
    "export",
    "unset",
    "local",
    "readonly",
    "shift",
    "exit",
    "return",
    "trap",
    "cd",
    "eval",
    "exec",
    "command",
    "read",
    "wait",
    "break",
    "continue",
    "true",
    "false",
    "echo",
    "printf",
    "test",
    "umask",
    "type",
    "hash",
    "getopts",
    "alias",
    "ulimit",
    "times",
    ".",
    ":",
    "[",
    "]",
    "!",
    "{",
    "}",
}
# Where a shell command starts: a line, or after `;`, `&&`, `||`, `|`, `$(`, a backtick, `then`/`do`/...
SHELL_START = re.compile(r"(?:^|[;&|`]|\$\(|\b(?:then|do|else|if|elif|while|until|exec|command -v)\s)\s*")


def _unquoted(line: str) -> str:
    """`line` with quoted text and its comment blanked, command substitutions inside double
    quotes kept (`"$(dirname "$0")"` starts dirname)."""
    out: list[str] = []
    context: list[str] = []  # ' or " or $( , innermost last
    i = 0
    while i < len(line):
        c, top = line[i], context[-1] if context else ""
        if line.startswith("$(", i) and top != "'":
            context.append("$(")
            out.append("$(")
            i += 2
            continue
        if top == "'":
            if c == "'":
                context.pop()
            out.append(" ")
        elif top == '"':
            if c == '"':
                context.pop()
            out.append(" ")
            if c == "\\":
                out.append(" ")
                i += 1
        elif c in "'\"":
            context.append(c)
            out.append(" ")
        elif c == ")" and top == "$(":
            context.pop()
            out.append(c)
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def scan_shell(path: Path) -> list[Use]:
    """Programs a POSIX shell script starts: a plain word where a command starts, not a keyword,
    builtin, function of the script, variable assignment, or word in quotes."""
    text = path.read_text(encoding="utf-8")
    functions = set(re.findall(rf"^\s*({NAME})\(\)\s*\{{", text, re.MULTILINE))
    uses = []
    for number, line in enumerate(text.splitlines(), 1):
        code = re.sub(r"\d*[<>]+(&\d+|\s*[^\s;|&)<>]*)", " ", _unquoted(line))  # 2>&1, >/dev/null
        code = re.sub(r"^\s*[^\s()]*\)", "", code)  # a case pattern
        for start in SHELL_START.finditer(code):
            word = re.match(rf"({NAME}|/[A-Za-z0-9_./+-]+)(?=\s|$|[;|&)])", code[start.end() :])
            if word and word.group(1) not in SHELL_WORDS | functions:
                uses.append(Use(word.group(1), f"{_shown(path)}:{number}"))
    return uses


def shell_scripts() -> list[Path]:
    found = [p for p in REPO.rglob("*.sh") if not {".venv", "node_modules", ".cache", ".git"} & set(p.parts)]
    return sorted([*found, REPO / ".ci" / "run"])


def all_uses() -> list[Use]:
    uses: list[Use] = []
    for root in PY_ROOTS:
        for file in sorted((REPO / root).rglob("*.py")):
            # This file's patterns and examples are not programs it starts.
            if ".venv" not in file.parts and "node_modules" not in file.parts and file != Path(__file__):
                uses.extend(scan_python(file))
    defaults = _role_defaults()
    for file in sorted((REPO / "ansible" / "roles").glob("*/*/*.yml")):
        if file.parent.name in ("tasks", "handlers"):
            uses.extend(scan_tasks(file, defaults))
    for file in shell_scripts():
        uses.extend(scan_shell(file))
    return [u for u in uses if Path(u.program).name not in GIVEN]


def makefile_apt_packages(makefile: Path = REPO / "Makefile") -> set[str]:
    text = makefile.read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.search(r"^APT_PACKAGES\s*:?=(.*)$", text, re.MULTILINE)
    assert found, "no APT_PACKAGES in the Makefile"
    packages = set(found.group(1).split())
    # The Makefile installs Node.js with npm when npm is missing (for npm-groovy-lint).
    if "nodejs npm" in text:
        packages |= {"nodejs", "npm"}
    return packages


@cache
def _dpkg_status() -> dict[str, tuple[list[list[str]], list[str], bool]]:
    """Installed package -> (dependency alternatives, what it provides, essential)."""
    fmt = "${Package}\t${Depends}, ${Pre-Depends}\t${Provides}\t${Essential}\t${Priority}\t${db:Status-Abbrev}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True, check=True).stdout
    status = {}
    for row in out.splitlines():
        name, depends, provides, essential, priority, state = row.split("\t")
        if not state.startswith("ii"):
            continue
        alternatives = [
            [re.split(r"[\s:(]", alt.strip())[0] for alt in group.split("|")]
            for group in depends.split(",")
            if group.strip()
        ]
        provided = [re.split(r"[\s(]", p.strip())[0] for p in provides.split(",") if p.strip()]
        status[name] = (alternatives, provided, essential == "yes" or priority == "required")
    return status


def provided_packages(apt_packages: set[str]) -> set[str]:
    """The packages a fresh machine has after `make setup`: the essential and required ones, the
    Makefile's, and everything those depend on (any installed alternative of a dependency)."""
    status = _dpkg_status()
    providers: dict[str, set[str]] = {}
    for name, (_, provided, _) in status.items():
        for virtual in provided:
            providers.setdefault(virtual, set()).add(name)
    todo = [name for name, (_, _, base) in status.items() if base] + sorted(apt_packages)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        for real in ({name} if name in status else set()) | providers.get(name, set()):
            if real in seen:
                continue
            seen.add(real)
            for group in status[real][0]:
                todo.extend(group)
    return seen


@cache
def _owner(path: Path) -> str | None:
    """The Debian package that installed `path` (either spelling under merged /usr)."""
    spellings = {str(path), str(path.resolve())}
    for text in list(spellings):
        if text.startswith("/usr/"):
            spellings.add(text[len("/usr") :])
        else:
            spellings.add("/usr" + text)
    for text in sorted(spellings):
        done = subprocess.run(["dpkg", "-S", text], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return done.stdout.split(":")[0].split(",")[0].strip()
    return None


SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def problem(program: str, packages: set[str]) -> str | None:
    """Why `program` would be missing on a fresh machine set up by the Makefile (None: it is not)."""
    if not program.startswith("/"):
        if (VENV_BIN / program).is_file():
            return None  # the venv `make setup-python` builds from python/pyproject.toml
        if (NODE_BIN / program).exists():
            return None  # node_modules, from package.json
        candidates = [Path(d) / program for d in SYSTEM_DIRS if (Path(d) / program).exists()]
    else:
        candidates = [Path(program)] if Path(program).exists() else []
    if not candidates:
        return "not installed here, and nothing in the Makefile installs it"
    owners = {_owner(c) for c in candidates}
    if owners & packages:
        return None
    named = ", ".join(sorted(o or "no Debian package" for o in owners))
    return f"comes from {named}: not in the Makefile's APT_PACKAGES nor a dependency of one"


def missing(uses: list[Use], packages: set[str]) -> list[str]:
    out = []
    for program in sorted({u.program for u in uses}):
        why = problem(program, packages)
        if why:
            where = ", ".join(sorted({u.where for u in uses if u.program == program})[:3])
            out.append(f"{program} ({where}): {why}")
    return out


def test_every_program_started_is_installed_by_the_makefile() -> None:
    uses = all_uses()
    found = {u.program for u in uses}
    # The scan sees the programs this issue was about, and those of every kind of starter.
    assert {"nginx", "uv", "git", "docker", "haproxy", "mmdebstrap", "ansible-playbook", "kill", "setsid"} <= found, (
        found
    )
    assert "/usr/sbin/sshd" in found and "ssh-keygen" in found and "htpasswd" in found, found
    assert {"groovy", "mkdir", "dirname"} <= found, found  # from the shell scripts
    packages = provided_packages(makefile_apt_packages())
    assert missing(uses, packages) == []


def test_a_program_without_a_makefile_entry_fails(tmp_path: Path) -> None:
    # The Makefile before nginx was added: the MLflow test server's proxy is reported.
    packages = provided_packages(makefile_apt_packages() - {"nginx"})
    report = missing(all_uses(), packages)
    assert any(line.startswith("nginx (tests/python/services/mlflow_server.py:") for line in report), report
    # A program added to the code that nothing installs.
    code = tmp_path / "probe.py"
    code.write_text('import subprocess\nsubprocess.run(["mlci-frobnicate", "--now"], check=True)\n')
    report = missing(scan_python(code), provided_packages(makefile_apt_packages()))
    assert report == ["mlci-frobnicate (probe.py:2): not installed here, and nothing in the Makefile installs it"]


def test_the_shell_scan_finds_commands_not_keywords_functions_or_words_in_quotes(tmp_path: Path) -> None:
    script = tmp_path / "probe.sh"
    script.write_text(
        'set -eu\nsay() { printf "%s" "$*"; }\nif command -v mlci-a >/dev/null; then say "run mlci-b"; fi\n'
        'x=$(mlci-c --flag | mlci-d) y="$(mlci-i "$0")" 2>&1\n'
        'case $x in\n  mlci-e) mlci-f ;;\nesac\nexec mlci-g "$@"  # mlci-h\n'
    )
    assert [u.program for u in scan_shell(script)] == ["mlci-a", "mlci-c", "mlci-d", "mlci-i", "mlci-f", "mlci-g"]
