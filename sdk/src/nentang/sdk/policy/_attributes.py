"""Attributes: a plugin reads the public surface of what it is given, and the private parts of its own objects.

Private attributes (``ctx._authz``) lead from the objects the kernel hands a plugin to the kernel's
services; dunders (``__class__``, ``__globals__``, ``__dict__``, ``__subclasses__``) climb from any
object to every other; bound-method owners (``print.__self__``) reach the built-ins module; frames
(``e.__traceback__.tb_frame.f_back.f_globals``) reach the caller's variables. Names computed at run
time (``getattr(obj, name)``) hide all of these, so they are refused too.
"""

from __future__ import annotations

import ast
import re
from typing import Final

from nentang.sdk.policy._base import FileCheck

#: Dunders harmless on anything: names and documentation.
PUBLIC_DUNDERS: Final = frozenset({"__name__", "__qualname__", "__doc__", "__module__", "__version__"})
#: Dunders that reach other objects even from the plugin's own (``self.__class__.__subclasses__``).
REFLECTION_DUNDERS: Final = frozenset(
    {"__class__", "__dict__", "__globals__", "__builtins__", "__subclasses__", "__code__", "__closure__"}
    | {"__mro__", "__bases__", "__base__", "__getattribute__", "__getattr__", "__setattr__", "__delattr__"}
    | {"__reduce__", "__reduce_ex__", "__getstate__", "__table__", "__mapper__", "__weakref__", "__defaults__"}
    | {"__kwdefaults__", "__loader__", "__spec__", "__file__", "__path__", "__import__", "__dir__", "__objclass__"}
)
#: Frame, traceback, generator and coroutine internals: each reaches another function's variables.
FRAMES: Final = frozenset(
    {"__traceback__", "tb_frame", "tb_next", "f_back", "f_globals", "f_locals", "f_builtins", "f_code"}
    | {"gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "ag_await"}
)
#: The object a bound method or wrapper belongs to (``print.__self__`` is the ``builtins`` module).
OWNERS: Final = frozenset({"__self__", "__func__", "im_self", "im_func", "__wrapped__"})
#: Module-level dunder names a plugin may read (``__file__``, ``__loader__``, ``__spec__`` reach files).
BARE_DUNDERS: Final = frozenset({"__name__", "__doc__", "__all__", "__version__", "__package__"})
#: A format string reaching an attribute: ``"{0._authz}".format(ctx)``.
_FORMAT_PRIVATE: Final = re.compile(r"\{[^{}]*(\.|\[)\s*_")
#: A format string reading an attribute at all: ``"{0.session.bind.url}".format(ctx)``.
_FORMAT_ATTRIBUTE: Final = re.compile(r"\{\w*(\[[^\]{}]*\])*\.\w")


def judge_attribute(check: FileCheck, node: ast.Attribute, receiver_is_own: bool) -> None:
    attr = node.attr
    if attr in FRAMES:
        check.add(
            node, "static.frame_access", f".{attr} walks frames, tracebacks or coroutines (other code's variables)"
        )
    elif attr in OWNERS:
        check.add(node, "static.bound_method_owner", f".{attr} reaches the object a function is bound to")
    elif attr.startswith("__") and attr.endswith("__"):
        if attr in PUBLIC_DUNDERS or (receiver_is_own and attr not in REFLECTION_DUNDERS):
            return
        where = "" if attr in REFLECTION_DUNDERS else " of an object the plugin did not define"
        check.add(node, "static.dunder_access", f".{attr}{where} reaches around the plugin's objects")
    elif attr.startswith("_") and (not receiver_is_own or not check.facts.owns_private(attr)):
        check.add(
            node,
            "static.private_attribute",
            f".{attr} is private to an object the plugin did not define; use its public API "
            "(a plugin's own private names — defined in its package — are used through self, cls, its own "
            "classes and modules)",
        )


def judge_bare_dunder(check: FileCheck, node: ast.Name) -> None:
    # ``__import__`` is a built-in, judged with the others
    if node.id.startswith("__") and node.id.endswith("__") and node.id not in BARE_DUNDERS | {"__import__"}:
        check.add(node, "static.dunder_access", f"{node.id} reaches the interpreter's view of the module")


def judge_format_string(check: FileCheck, node: ast.Constant) -> None:
    if not isinstance(node.value, str):
        return
    if _FORMAT_PRIVATE.search(node.value):
        check.add(node, "static.private_attribute", "a format string reads a private attribute ('{x._name}')")
    elif _FORMAT_ATTRIBUTE.search(node.value):
        check.add(
            node,
            "static.computed_attribute",
            "a format string reads attributes by name ('{0.session.bind}'): format the values themselves",
        )


def judge_match_class(check: FileCheck, node: ast.MatchClass) -> None:
    """``case object(_authz=a)`` reads the attribute it names."""
    for name in node.kwd_attrs:
        if name.startswith("_") or name in FRAMES or name in OWNERS:
            check.add(node, "static.private_attribute", f"the pattern reads .{name} of the matched object")


#: Built-ins that read or write attributes or namespaces by a name known only at run time.
COMPUTED: Final = frozenset({"getattr", "setattr", "delattr"})
NAMESPACES: Final = frozenset({"vars", "globals", "locals"})
_GETTERS: Final = frozenset({"operator.attrgetter", "operator.methodcaller"})


def constant_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def judge_computed(check: FileCheck, call: ast.Call, builtin: str) -> str | None:
    """``getattr(obj, name)`` and friends: returns the constant attribute read, when it is allowed."""
    if builtin in NAMESPACES:
        check.add(call, "static.computed_attribute", f"{builtin}() hands out a namespace, private names included")
        return None
    if len(call.args) < 2:
        check.add(call, "static.computed_attribute", f"{builtin}() without a constant attribute name")
        return None
    name = constant_name(call.args[1])
    if name is None:
        check.add(
            call,
            "static.computed_attribute",
            f"{builtin}() with a name computed at run time; write the attribute out (obj.name)",
        )
        return None
    if name.startswith("_") or name in FRAMES or name in OWNERS:
        check.add(call, "static.computed_attribute", f"{builtin}(…, {name!r}) reads what the policy refuses")
        return None
    return name


def judge_getter(check: FileCheck, call: ast.Call, qualified: str) -> None:
    """``operator.attrgetter("_authz")``: only constant public names."""
    if qualified not in _GETTERS:
        return
    names = [constant_name(a) for a in call.args[: 1 if qualified.endswith("methodcaller") else None]]
    if not names or any(n is None for n in names):
        check.add(call, "static.computed_attribute", f"{qualified}() with a name computed at run time")
    elif any(part.startswith("_") or part in FRAMES for n in names if n for part in n.split(".")):
        check.add(call, "static.computed_attribute", f"{qualified}({', '.join(map(repr, names))}) reads a private name")


__all__ = [
    "COMPUTED",
    "FRAMES",
    "NAMESPACES",
    "OWNERS",
    "judge_attribute",
    "judge_bare_dunder",
    "judge_computed",
    "judge_format_string",
    "judge_getter",
    "judge_match_class",
]
