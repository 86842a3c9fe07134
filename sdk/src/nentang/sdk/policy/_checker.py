"""One file against the whole policy: imports first, then every name, attribute, call and string."""

from __future__ import annotations

import ast

from nentang.sdk.policy import _attributes, _io, _own, _sql, _strings
from nentang.sdk.policy._base import FileCheck
from nentang.sdk.policy._imports import (
    LIMITED,
    MIGRATION_ONLY,
    REFUSED_NAMES,
    SDK,
    SDK_REFUSED,
    SQLALCHEMY_MODULES,
    STDLIB,
    THIRD_PARTY,
    known,
    limited_module,
    under,
)
from nentang.sdk.policy._scope import is_maximal
from nentang.sdk.policy.capabilities import HTTP_CLIENT_MODULES


def check_tree(check: FileCheck, tree: ast.Module) -> None:
    annotations = _strings.annotation_nodes(tree)
    pending = list(ast.walk(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and not _is_docstring(check, node):
            _sql.judge_string(check, node)
            _attributes.judge_format_string(check, node)
            code = _strings.as_code(check, node, node in annotations)
            if code is not None:  # judged as the code it is; its own strings too
                inner = list(ast.walk(code))
                annotations.update(inner if node in annotations else ())
                pending += inner
        else:
            _judge(check, node)


def _judge(check: FileCheck, node: ast.AST) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            judge_import(check, node, alias.name)
    elif isinstance(node, ast.ImportFrom):
        module = check.scopes.absolute_module(node)
        if judge_import(check, node, module):
            for alias in node.names:
                if alias.name == "*" and module.split(".")[0] != check.facts.package:
                    check.add(node, "static.import_not_allowed", f"from {module} import *: name what you import")
                else:
                    judge_reference(check, node, f"{module}.{alias.name}", imported=True)
    elif isinstance(node, ast.Call):
        _call(check, node)
        _strings.judge_alias(check, node)
    elif isinstance(node, ast.Attribute):
        receiver = check.scopes.resolve(node.value)[0]
        own = receiver.own_object
        if isinstance(node.ctx, ast.Store | ast.Del) and receiver.kind == "import" and not own:
            _monkeypatch(check, node, f"{receiver.qualified}.{node.attr}")
        _attributes.judge_attribute(check, node, own)
        _own.judge_attribute(check, node)
        if not under(receiver.qualified, "importlib"):  # importlib.metadata is not SQLAlchemy's
            _sql.judge_attribute(check, node, own)
        _io.judge_loop_method(check, node, own)
        if is_maximal(node, check.parents):
            _reference(check, node)
    elif isinstance(node, ast.ClassDef):
        _sql.judge_class(check, node)
    elif isinstance(node, ast.MatchClass):
        _attributes.judge_match_class(check, node)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        _attributes.judge_bare_dunder(check, node)
        if is_maximal(node, check.parents):
            _reference(check, node)


# -- imports ----------------------------------------------------------------------------------------


def allowed_module(check: FileCheck, module: str) -> bool:
    """Whether the allow-list names ``module`` (a finding-free test; :func:`judge_import` reports)."""
    facts = check.facts
    top = module.split(".")[0]
    if top == facts.package or (top in facts.required and not _private(module)):
        return True
    if top == "nentang":
        return module == "nentang" or (
            under(module, SDK) and not _private(module) and not any(under(module, r) for r in SDK_REFUSED)
        )
    if module in STDLIB or module in LIMITED or under(module, "collections"):
        return True
    if any(under(module, package) for package in THIRD_PARTY) or module in SQLALCHEMY_MODULES:
        return True
    if top in MIGRATION_ONLY:
        return check.in_migrations
    return top in HTTP_CLIENT_MODULES and facts.allowance.allows_module(top)


def judge_import(check: FileCheck, node: ast.AST, module: str) -> bool:
    """Whether a plugin may import ``module`` at all (a finding when not)."""
    if allowed_module(check, module):
        return True
    top = module.split(".")[0]
    if top.startswith("nentang_"):
        check.add(
            node,
            "static.plugin_import",
            f"imports {module}: a plugin uses another plugin's published modules only when its manifest's "
            f"[requires] names it (add {top.removeprefix('nentang_')!r} there)",
        )
    elif top == "nentang":
        _nentang(check, node, module)
    elif top in MIGRATION_ONLY:
        check.add(node, "static.import_not_allowed", f"imports {module}: only the plugin's migrations/ may use it")
    elif top in HTTP_CLIENT_MODULES:
        check.add(
            node,
            "static.network_import",
            f"imports {top}, but the manifest declares no 'http:outbound:<host>' capability",
        )
    else:
        code, why = known(module) or ("static.import_not_allowed", "is not on the list of modules a plugin may use")
        check.add(node, code, f"uses {module}: it {why}; see the plugin policy in the developer guide")
    return False


def _nentang(check: FileCheck, node: ast.AST, module: str) -> bool:
    if module == "nentang":
        return True  # `from nentang import sdk`: the names are judged one by one
    if not under(module, SDK):
        check.add(node, "static.kernel_import", f"uses {module}: plugins use the SDK (nentang.sdk) only")
        return False
    if any(under(module, refused) for refused in SDK_REFUSED) or _private(module):
        check.add(
            node,
            "static.import_not_allowed",
            f"uses {module}: not for a plugin's package (the test kit is for its tests/; "
            "private modules are not an API)",
        )
        return False
    return True


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


# -- names ------------------------------------------------------------------------------------------


def _reference(check: FileCheck, node: ast.Attribute | ast.Name) -> None:
    resolved, _ = check.scopes.resolve(node)
    if resolved.kind == "import":
        judge_reference(check, node, resolved.qualified)
    elif resolved.kind == "builtin" and isinstance(node, ast.Name) and not _called(check, node):
        name = resolved.qualified.removeprefix("builtins.")
        _io.judge_builtin_value(check, node, name)
        if name in _attributes.COMPUTED | _attributes.NAMESPACES:
            check.add(node, "static.computed_attribute", f"takes {name} as a value (a computed attribute access)")


def judge_reference(check: FileCheck, node: ast.AST, qualified: str, *, imported: bool = False) -> None:
    """A name resolved through the imports: allowed names of limited modules, SDK, SQLAlchemy, env."""
    top = qualified.split(".")[0]
    parts = qualified.split(".")
    if not any(allowed_module(check, ".".join(parts[:end])) for end in range(len(parts), 0, -1)):
        judge_import(check, node, qualified)
        return
    if top == "nentang":
        if qualified != "nentang" and not allowed_module(check, qualified):
            _nentang(check, node, qualified)
        return
    if top in check.facts.required and _private(qualified):
        check.add(node, "static.private_attribute", f"uses {qualified}: private to the plugin it comes from")
        return
    if imported and top not in {check.facts.package, *check.facts.required} and _private(qualified.rsplit(".", 1)[1]):
        check.add(node, "static.private_attribute", f"imports {qualified}: private to its module")
        return
    refused = next((REFUSED_NAMES[n] for n in REFUSED_NAMES if qualified == n or qualified.startswith(n + ".")), None)
    if refused is not None:
        check.add(node, refused[0], f"uses {qualified}: it {refused[1]}")
        return
    if _io.judge_env(check, node, qualified):
        return
    limited = limited_module(qualified)
    if limited is not None:
        module, rest = limited
        if rest == "":
            if not imported and not _is_attribute_base(check, node) and not isinstance(node, ast.Import):
                code = (known(module) or ("static.import_not_allowed", ""))[0]
                check.add(node, code, f"passes the module {module} around: use its allowed names directly")
        elif rest.split(".")[0] not in LIMITED[module]:
            code, why = known(f"{module}.{rest}") or ("static.import_not_allowed", "is not allowed")
            allowed = ", ".join(sorted(LIMITED[module]))
            check.add(node, code, f"uses {qualified}: it {why}; of {module} a plugin may use only {allowed}")
        return
    if not (imported and qualified.endswith(".func")):
        _sql.judge_name(check, node, qualified)


def _call(check: FileCheck, call: ast.Call) -> None:
    resolved, _ = check.scopes.resolve(call.func)
    _sql.judge_call(check, call)
    if resolved.kind == "builtin" and isinstance(call.func, ast.Name):
        name = call.func.id
        _io.judge_builtin_call(check, call, name)
        if name in _attributes.COMPUTED | _attributes.NAMESPACES:
            attribute = _attributes.judge_computed(check, call, name)
            if attribute is not None and call.args:
                target, _ = check.scopes.resolve(call.args[0])
                if name in {"setattr", "delattr"} and target.kind == "import" and not target.own_object:
                    _monkeypatch(check, call, f"{target.qualified}.{attribute}")
                if target.kind == "import":  # getattr(func, "set_config") is func.set_config
                    judge_reference(check, call, f"{target.qualified}.{attribute}")
    elif resolved.kind == "import":
        _attributes.judge_getter(check, call, resolved.qualified)


def _monkeypatch(check: FileCheck, node: ast.AST, qualified: str) -> None:
    check.add(
        node,
        "static.monkeypatch",
        f"changes {qualified}: a module or class the plugin did not define is shared by every tenant of the worker",
    )


def _called(check: FileCheck, node: ast.AST) -> bool:
    parent = check.parents.get(node)
    return isinstance(parent, ast.Call) and parent.func is node


def _is_attribute_base(check: FileCheck, node: ast.AST) -> bool:
    parent = check.parents.get(node)
    return isinstance(parent, ast.Attribute) and parent.value is node


def _is_docstring(check: FileCheck, node: ast.Constant) -> bool:
    expr = check.parents.get(node)
    body_owner = check.parents.get(expr) if isinstance(expr, ast.Expr) else None
    if not isinstance(body_owner, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    return bool(body_owner.body) and body_owner.body[0] is expr


__all__ = ["check_tree", "judge_import", "judge_reference"]
