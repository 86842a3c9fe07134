"""The hook reference (``docs/reference/hooks.md``) is generated from the hookspecs and cannot drift.

The hookspec docstrings in ``nentang/sdk/hookspecs.py`` are the contract; this module renders them
into the reference page — one section per hook, headed by its exact signature, grouped by the
banner comments of the spec module, with the examples that implement it — and holds the committed
page equal to the rendering. It also holds every docstring to the project's hookspec template: a
summary, *When*, *Tenant*, *Mode*, a ``:param:`` per argument, ``:returns:``, a version line.

After changing a hookspec, regenerate the page and commit it with the change::

    .venv/bin/python tests/test_docs_hooks.py --write
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
import pytest

from nentang.sdk import hookspecs
from nentang.sdk._markers import PROJECT

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reference" / "hooks.md"
EXAMPLES = ROOT / "plugins" / "examples"
REGENERATE = ".venv/bin/python tests/test_docs_hooks.py --write"
#: The labelled paragraphs every hookspec docstring has, in this order.
LABELS = ("When", "Tenant", "Mode")
_DIRECTIVE = re.compile(r"^\.\. (versionadded|versionchanged|deprecated|note|warning)::\s*(.*)$")
_FIELD = re.compile(r"^:(param|returns|raises)\s*([^:]*):\s*(.*)$")


# -- reading the hookspecs -------------------------------------------------------------------------------


@dataclass
class HookDoc:
    """One hookspec, read from its function and docstring."""

    name: str
    signature: str
    opts: dict[str, Any]
    group: str
    summary: str = ""
    body: list[str] = field(default_factory=list)
    labelled: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    returns: str | None = None
    raises: list[tuple[str, str]] = field(default_factory=list)
    directives: list[tuple[str, str]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def version_lines(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.directives if kind in ("versionadded", "versionchanged")]


def hook_functions() -> list[Callable[..., Any]]:
    """Every hook the kernel's plugin manager knows, walked as the kernel registers them (``pm.hook``)."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    found = []
    for name in vars(pm.hook):
        caller = getattr(pm.hook, name)
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None:
            found.append(caller.spec.function)
    # in the order of the spec module, which reads in lifecycle order
    return sorted(found, key=lambda f: inspect.getsourcelines(f)[1])


def spec_options(function: Callable[..., Any]) -> dict[str, Any]:
    opts = getattr(function, f"{PROJECT}_spec", None) or {}
    return {key: value for key, value in dict(opts).items() if value}


def signature_of(function: Callable[..., Any]) -> str:
    """``nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None`` — the
    annotations as written in the spec module (it uses ``from __future__ import annotations``)."""
    sig = inspect.signature(function)
    params = []
    for p in sig.parameters.values():
        annotation = p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(p.annotation)
        params.append(p.name if p.annotation is p.empty else f"{p.name}: {annotation}")
    ret = sig.return_annotation
    ret_text = ret if isinstance(ret, str) else inspect.formatannotation(ret)
    return f"{function.__name__}({', '.join(params)}) -> {ret_text}"


def banner_groups() -> dict[str, str]:
    """Hook name → the title of the banner comment above it in the spec module."""
    source = inspect.getsource(hookspecs).splitlines()
    groups: dict[str, str] = {}
    current = ""
    for i, line in enumerate(source):
        prev_is_rule = i > 0 and re.fullmatch(r"# -{20,}", source[i - 1]) is not None
        if prev_is_rule and line.startswith("# ") and not re.fullmatch(r"# -+", line):
            current = line[2:].strip()
        match = re.match(r"^def (nentang_\w+)\(", line)
        if match:
            groups[match.group(1)] = current
    return groups


def parse(function: Callable[..., Any], group: str) -> HookDoc:
    sig = inspect.signature(function)
    doc = HookDoc(
        name=function.__name__,
        signature=signature_of(function),
        opts=spec_options(function),
        group=group,
        annotations={
            p.name: (p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(p.annotation))
            for p in sig.parameters.values()
        },
    )
    lines = inspect.cleandoc(function.__doc__ or "").splitlines()
    doc.summary = lines[0].strip() if lines else ""
    for kind, key, text in _blocks(lines[1:]):
        if kind == "label":
            doc.labelled[key] = text
        elif kind == "directive":
            doc.directives.append((key, text))
        elif kind == "param":
            doc.params[key] = text
        elif kind == "returns":
            doc.returns = text
        elif kind == "raises":
            doc.raises.append((key, text))
        else:
            doc.body.append(text)
    return doc


def _blocks(lines: list[str]) -> Iterator[tuple[str, str, str]]:
    """(kind, key, text) of each block of a docstring body: a labelled paragraph ("label", "When"),
    a directive ("directive", "versionadded"), a field ("param", "ctx"), or prose ("text", "").
    A block runs to a blank line or the next block; indented lines continue it."""
    block: tuple[str, str, list[str]] | None = None
    for line in [*lines, ""]:
        stripped = line.strip()
        if stripped and block is not None and line.startswith((" ", "\t")):
            block[2].append(stripped)
            continue
        if block is not None:
            yield block[0], block[1], " ".join(block[2]).strip()
            block = None
        if not stripped:
            continue
        label = next((name for name in LABELS if stripped.startswith(f"{name}:")), None)
        directive, field_match = _DIRECTIVE.match(stripped), _FIELD.match(stripped)
        if label is not None:
            block = ("label", label, [stripped[len(label) + 1 :]])
        elif directive is not None:
            block = ("directive", directive.group(1), [directive.group(2)])
        elif field_match is not None:
            block = (field_match.group(1), field_match.group(2).strip(), [field_match.group(3)])
        else:
            block = ("text", "", [stripped])


def hook_docs() -> list[HookDoc]:
    groups = banner_groups()
    return [parse(function, groups.get(function.__name__, "")) for function in hook_functions()]


def template_problems(doc: HookDoc) -> list[str]:
    """What the docstring of ``doc`` lacks, against the hookspec template (this module's docstring)."""
    problems = []
    if not doc.summary or not doc.summary.endswith("."):
        problems.append("a one-line summary ending with a full stop")
    problems += [f"a '{label}:' paragraph" for label in LABELS if not doc.labelled.get(label)]
    params = [name for name in doc.annotations]
    problems += [f"':param {name}:'" for name in params if not doc.params.get(name)]
    problems += [f"':param {name}:' documents no argument of the hook" for name in doc.params if name not in params]
    if not doc.returns:
        problems.append("':returns:' (say what None means, or that the value is ignored)")
    if not any(kind == "versionadded" for kind, _ in doc.directives):
        problems.append("'.. versionadded:: X.Y'")
    if doc.opts.get("firstresult") and "Stops at first non-None result" not in " ".join([*doc.body, doc.returns or ""]):
        problems.append("the sentence 'Stops at first non-None result' (a firstresult hook)")
    if not doc.group:
        problems.append("a banner comment above it naming its lifecycle phase")
    return problems


# -- who implements what --------------------------------------------------------------------------------


def example_implementations() -> dict[str, list[str]]:
    """Hook name → the example plugins (folder names under plugins/examples/) implementing it."""
    found: dict[str, set[str]] = {}
    for folder in sorted(p.parent for p in EXAMPLES.glob("*/pyproject.toml")):
        for path in sorted(folder.glob("nentang_*/**/*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                    and node.name.startswith("nentang_")
                    and any("hookimpl" in ast.unparse(d) for d in node.decorator_list)
                ):
                    found.setdefault(node.name, set()).add(path.relative_to(ROOT).as_posix())
    return {hook: sorted(paths) for hook, paths in found.items()}


# -- rendering -------------------------------------------------------------------------------------------

HEADER = f"""\
<!-- GENERATED by tests/test_docs_hooks.py from nentang/sdk/hookspecs.py: do not edit by hand.
     Regenerate: {REGENERATE} -->

# Hook reference

The hooks a plugin may implement — the contract between the kernel and plugins. This page is
generated from the docstrings of [`nentang.sdk.hookspecs`](sdk.md), and a test keeps the two equal.

Implement a hook with `@hookimpl` (`from nentang.sdk import hookimpl`) in the module your
`nentang.plugins` entry point names. An implementation may take **any subset** of the hook's
parameters, by name: take only what you use, and a parameter added in a later SDK release never
breaks your plugin. A function whose name starts with `nentang_` but lacks `@hookimpl` is refused
when the plugin is registered, and so is an implementation asking for a parameter the hook does
not have.

The kernel calls a plugin's hooks **only for the tenants where the plugin is enabled** (the
*Tenant* line of each hook says which): a plugin never asks "am I enabled here?". *Mode* says what
an exception does — **strict**: it rolls the caller's transaction back and the message reaches the
user; **robust**: it is recorded against the plugin's error budget for the tenant while the other
plugins carry on.

"""


def _anchor(name: str) -> str:
    return name.replace("_", "-")


def render(docs: list[HookDoc], implementations: dict[str, list[str]]) -> str:
    out = [HEADER]
    groups: dict[str, list[HookDoc]] = {}
    for doc in docs:
        groups.setdefault(doc.group, []).append(doc)
    order = list(dict.fromkeys(banner_groups().values()))
    out.append("| hook | phase | summary |\n|---|---|---|\n")
    for group in order:
        for doc in groups.get(group, []):
            out.append(f"| [`{doc.name}`](#{_anchor(doc.name)}) | {group} | {_cell(doc.summary)} |\n")
    out.append("\n")
    for group in order:
        if group not in groups:
            continue
        out.append(f"## {group}\n\n")
        for doc in groups[group]:
            out.append(_render_hook(doc, implementations.get(doc.name, [])))
    return "".join(out).rstrip() + "\n"


def _render_hook(doc: HookDoc, examples: list[str]) -> str:
    parts = [f"### `{doc.name}` {{ #{_anchor(doc.name)} }}\n\n"]
    parts.append(f"```python\n{doc.signature}\n```\n\n")
    flags = []
    if doc.opts.get("firstresult"):
        flags.append("**firstresult**: stops at the first non-`None` result")
    if doc.opts.get("historic"):
        flags.append("**historic**: replayed to plugins registered later")
    if doc.opts.get("warn_on_impl"):
        flags.append(f"**deprecated**: {doc.opts['warn_on_impl']}")
    if flags:
        parts.append("; ".join(flags) + "\n\n")
    parts.append(f"{md(doc.summary)}\n\n")
    for paragraph in doc.body:
        parts.append(f"{md(paragraph)}\n\n")
    for label in LABELS:
        parts.append(f"**{label}**: {md(doc.labelled.get(label, ''))}\n\n")
    if doc.params:
        parts.append("| parameter | type | meaning |\n|---|---|---|\n")
        for name, text in doc.params.items():
            parts.append(f"| `{name}` | `{doc.annotations.get(name, '')}` | {_cell(text)} |\n")
        parts.append("\n")
    else:
        parts.append("**Parameters**: none.\n\n")
    parts.append(f"**Returns**: {md(doc.returns or '')}\n\n")
    for name, text in doc.raises:
        parts.append(f"**Raises** `{name}`: {md(text)}\n\n")
    for kind, text in doc.directives:
        title = {
            "versionadded": f"New in {text}",
            "versionchanged": f"Changed in {text.split()[0] if text else ''}",
            "deprecated": f"Deprecated since {text.split()[0] if text else ''}",
        }.get(kind)
        if title is not None:
            rest = text.split(None, 1)[1] if kind != "versionadded" and len(text.split(None, 1)) > 1 else ""
            parts.append(f'!!! info "{title}"\n' + (f"    {md(rest)}\n" if rest else "") + "\n")
        else:
            parts.append(f"!!! {kind}\n    {md(text)}\n\n")
    if examples:
        links = ", ".join(f"`{path}`" for path in examples)
        parts.append(f"**Examples**: {links} (see [Example plugins](examples.md)).\n\n")
    return "".join(parts)


_ROLE = re.compile(r":(?:func|mod|class|meth|attr|data|exc|obj):`(~?)([^`]+)`")


def md(text: str) -> str:
    """reStructuredText inline markup of a docstring as Markdown: roles and ``literals`` as code."""
    text = _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _cell(text: str) -> str:
    return md(text).replace("|", "\\|")


def rendered() -> str:
    return render(hook_docs(), example_implementations())


# -- tests -----------------------------------------------------------------------------------------------


def _hook_ids() -> Iterator[str]:
    yield from (f.__name__ for f in hook_functions())


def test_the_spec_module_declares_hooks() -> None:
    names = list(_hook_ids())
    assert names and all(name.startswith("nentang_") for name in names)


@pytest.mark.parametrize("name", list(_hook_ids()))
def test_every_hookspec_docstring_follows_the_template(name: str) -> None:
    doc = next(d for d in hook_docs() if d.name == name)
    problems = template_problems(doc)
    assert not problems, f"the docstring of hookspec {name} lacks: {'; '.join(problems)} (see this module's docstring)"


@pytest.mark.parametrize("name", list(_hook_ids()))
def test_every_hook_has_a_reference_entry_with_its_exact_signature_and_sections(name: str) -> None:
    page = PAGE.read_text(encoding="utf-8")
    doc = next(d for d in hook_docs() if d.name == name)
    heading = f"### `{name}` {{ #{_anchor(name)} }}"
    assert heading in page, f"docs/reference/hooks.md has no entry for {name}; run {REGENERATE}"
    entry = page.split(heading, 1)[1].split("\n### ", 1)[0]
    assert f"```python\n{doc.signature}\n```" in entry, f"{name}: the signature on the page is not {doc.signature}"
    for label in LABELS:
        assert f"**{label}**: {md(doc.labelled[label])}" in entry, f"{name}: '{label}' differs; run {REGENERATE}"
    for param, text in doc.params.items():
        assert f"| `{param}` |" in entry and _cell(text) in entry, f"{name}: parameter {param}; run {REGENERATE}"
    assert f"**Returns**: {md(doc.returns or '')}" in entry
    assert '!!! info "New in ' in entry


def test_the_committed_reference_is_the_rendering_of_the_hookspecs() -> None:
    assert PAGE.read_text(encoding="utf-8") == rendered(), f"docs/reference/hooks.md is stale: run {REGENERATE}"


def test_the_parser_reads_every_part_of_a_docstring() -> None:
    def nentang_sample_hook(ctx: object, item: int) -> str | None:
        """Do a thing.

        More words
            over two lines.

        When: early,
            and often.
        Tenant: one.
        Mode: robust.

        :param ctx: The context.
        :param item: The item,
            described at length.
        :returns: A text, or ``None``.
        :raises ValueError: to refuse.

        .. versionadded:: 0.1
        .. versionchanged:: 0.2 takes ``item``.
        """

    doc = parse(nentang_sample_hook, "Samples")
    assert doc.summary == "Do a thing." and doc.body == ["More words over two lines."]
    assert doc.labelled == {"When": "early, and often.", "Tenant": "one.", "Mode": "robust."}
    assert doc.params == {"ctx": "The context.", "item": "The item, described at length."}
    assert doc.returns == "A text, or ``None``." and doc.raises == [("ValueError", "to refuse.")]
    assert doc.directives == [("versionadded", "0.1"), ("versionchanged", "0.2 takes ``item``.")]
    assert template_problems(doc) == []


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(rendered(), encoding="utf-8")
        print(f"wrote {PAGE.relative_to(ROOT)}")
    else:
        sys.stdout.write(rendered())
