"""libcst plumbing for the celery format: find where settings are defined, and edit dict
displays, argument lists and statement lines without disturbing the bytes around them."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst


@dataclass(frozen=True)
class Definition:
    """One place that sets a key: a statement, an update() keyword or an update({...}) entry.
    Each node comes twice: libcst's (to edit losslessly) and ``ast``'s (lines, values)."""

    key: str  # as the file spells it
    node: cst.BaseExpression  # the value
    tree: ast.expr  # the same value in ``ast``
    lines: tuple[int, int]
    statement: cst.BaseSmallStatement | None  # None inside app.conf.update(...)
    element: cst.CSTNode | None  # the Arg or DictElement inside app.conf.update(...)
    chained: bool = False  # a = b = value


@dataclass(frozen=True)
class Entry:
    """One ``key: value`` of a dict display, in libcst and in ``ast``."""

    element: cst.DictElement
    key: ast.expr
    value: ast.expr
    lines: tuple[int, int]


@dataclass
class FoundDefinitions:
    """What a module defines: top-level assignments, or app.conf writes in an app module."""

    items: list[Definition] = field(default_factory=list)
    app_receiver: str | None = None  # "app" in app.conf.update(...) / app = Celery(...)
    is_app_module: bool = False
    #: every unconditional top-level ``name = value`` (settings of a config module; plain
    #: variables of an app module), private names included
    variables: list[Definition] = field(default_factory=list)


def _span(node: ast.AST) -> tuple[int, int]:
    first = getattr(node, "lineno", 1)
    return first, getattr(node, "end_lineno", None) or first


def entries(node: cst.BaseExpression, tree: ast.expr) -> Iterator[Entry]:
    """The ``key: value`` entries of a dict display after its last ``**`` unpacking."""
    if not isinstance(node, cst.Dict) or not isinstance(tree, ast.Dict):
        return
    pairs = list(zip(node.elements, tree.keys, tree.values))
    last_star = max((i for i, (_, key, _) in enumerate(pairs) if key is None), default=-1)
    for element, key, value in pairs[last_star + 1 :]:
        if isinstance(element, cst.DictElement) and key is not None:
            yield Entry(element, key, value, (key.lineno, _span(value)[1]))


def _conf_receiver(module: cst.Module, node: cst.BaseExpression) -> str | None:
    """``app`` for the expression ``app.conf``; None for anything else."""
    if isinstance(node, cst.Attribute) and node.attr.value == "conf":
        return module.code_for_node(node.value).strip()
    return None


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _conf_key(module: cst.Module, target: cst.BaseExpression) -> tuple[str, str] | None:
    """(receiver, key) for ``app.conf.key`` and ``app.conf['key']`` targets."""
    if isinstance(target, cst.Attribute):
        receiver = _conf_receiver(module, target.value)
        if receiver:
            return receiver, target.attr.value
    if isinstance(target, cst.Subscript) and len(target.slice) == 1:
        receiver = _conf_receiver(module, target.value)
        index = target.slice[0].slice
        if receiver and isinstance(index, cst.Index):
            key = _string(index.value)
            if key:
                return receiver, key
    return None


def _is_celery_call(node: cst.BaseExpression) -> bool:
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    return (isinstance(func, cst.Name) and func.value == "Celery") or (
        isinstance(func, cst.Attribute) and func.attr.value == "Celery"
    )


def _update_items(
    module: cst.Module, call: cst.Call, tree: ast.Call
) -> Iterator[tuple[str, cst.BaseExpression, ast.expr, tuple[int, int], cst.CSTNode]]:
    """(key, value, ast value, lines, element) of ``conf.update(k=v, ...)`` and
    ``conf.update({'k': v})``; libcst keeps arguments in source order, ``ast`` splits them."""
    positional, keywords = iter(tree.args), iter(tree.keywords)
    for arg in call.args:
        if arg.keyword is not None or arg.star == "**":
            keyword = next(keywords)
            if arg.keyword is not None:
                yield arg.keyword.value, arg.value, keyword.value, _span(keyword), arg
            continue
        value = next(positional)
        if arg.star == "" and isinstance(arg.value, cst.Dict) and isinstance(value, ast.Dict):
            for element, key, item in zip(arg.value.elements, value.keys, value.values):
                name = _string(element.key) if isinstance(element, cst.DictElement) else None
                if name and key is not None:
                    yield name, element.value, item, (key.lineno, _span(item)[1]), element


def find_definitions(module: cst.Module, tree: ast.Module) -> FoundDefinitions:
    """Every unconditional top-level definition, in file order (``tree`` is ``module``'s ast)."""
    plain: list[Definition] = []
    conf: list[Definition] = []
    receivers: list[str] = []
    app_target: str | None = None
    statements = iter(tree.body)
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            next(statements)
            continue
        for small in line.body:
            statement = next(statements)
            if isinstance(small, (cst.Assign, cst.AnnAssign)) and isinstance(
                statement, (ast.Assign, ast.AnnAssign)
            ):
                if small.value is None or statement.value is None:
                    continue
                targets = (
                    [t.target for t in small.targets]
                    if isinstance(small, cst.Assign)
                    else [small.target]
                )
                if _is_celery_call(small.value) and isinstance(targets[0], cst.Name):
                    app_target = app_target or targets[0].value
                chained = len(targets) > 1
                for target in targets:
                    if isinstance(target, cst.Name):
                        plain.append(
                            Definition(
                                target.value,
                                small.value,
                                statement.value,
                                _span(statement),
                                small,
                                None,
                                chained,
                            )
                        )
                    elif found := _conf_key(module, target):
                        receivers.append(found[0])
                        conf.append(
                            Definition(
                                found[1],
                                small.value,
                                statement.value,
                                _span(statement),
                                small,
                                None,
                                chained,
                            )
                        )
            elif (
                isinstance(small, cst.Expr)
                and isinstance(small.value, cst.Call)
                and isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Call)
            ):
                func = small.value.func
                receiver = (
                    _conf_receiver(module, func.value)
                    if isinstance(func, cst.Attribute) and func.attr.value == "update"
                    else None
                )
                if receiver:
                    receivers.append(receiver)
                    conf.extend(
                        Definition(key, node, value, lines, None, element)
                        for key, node, value, lines, element in _update_items(
                            module, small.value, statement.value
                        )
                    )
    is_app = app_target is not None or bool(conf)
    receiver = receivers[0] if receivers else app_target
    return FoundDefinitions(conf if is_app else plain, receiver, is_app, plain)


# ---------------------------------------------------------------- dict displays


def _multiline(whitespace: Any) -> bool:
    return isinstance(whitespace, cst.ParenthesizedWhitespace)


def insert_entry(node: cst.Dict, key_source: str, value_source: str) -> cst.Dict:
    """``node`` with ``key: value`` appended, in the display's own layout: one entry per line
    (same indentation, trailing-comma style kept, the last entry's comment left on its line)
    or all on one line."""
    new = cst.DictElement(cst.parse_expression(key_source), cst.parse_expression(value_source))
    elements = list(node.elements)
    if not elements:
        return node.with_changes(elements=[new])
    last = elements[-1]
    if isinstance(last, cst.DictElement):
        new = new.with_changes(
            whitespace_before_colon=last.whitespace_before_colon,
            whitespace_after_colon=last.whitespace_after_colon,
        )
    trailing = last.comma if isinstance(last.comma, cst.Comma) else None
    # The layout before "}": on the trailing comma when a comment follows it, else on "}".
    in_comma = trailing is not None and _multiline(trailing.whitespace_after)
    closing = trailing.whitespace_after if trailing and in_comma else node.rbrace.whitespace_before
    if isinstance(closing, cst.ParenthesizedWhitespace):
        between = [
            e.comma.whitespace_after
            for e in elements[:-1]
            if isinstance(e.comma, cst.Comma) and _multiline(e.comma.whitespace_after)
        ]
        opening = node.lbrace.whitespace_after
        model = between[-1] if between else opening if _multiline(opening) else None
        if isinstance(model, cst.ParenthesizedWhitespace):
            indent, last_line = model.indent, model.last_line
        else:
            indent = closing.indent
            last_line = cst.SimpleWhitespace(closing.last_line.value + "    ")
        to_new = cst.ParenthesizedWhitespace(
            first_line=closing.first_line,
            empty_lines=closing.empty_lines,
            indent=indent,
            last_line=last_line,
        )
        fresh = cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(),
            empty_lines=[],
            indent=closing.indent,
            last_line=closing.last_line,
        )
        elements[-1] = last.with_changes(
            comma=(trailing or cst.Comma()).with_changes(whitespace_after=to_new)
        )
        if in_comma and trailing:
            new = new.with_changes(comma=trailing.with_changes(whitespace_after=fresh))
        else:
            if trailing:
                new = new.with_changes(comma=trailing)
            node = node.with_changes(rbrace=node.rbrace.with_changes(whitespace_before=fresh))
    else:
        separators = [
            e.comma.whitespace_after for e in elements[:-1] if isinstance(e.comma, cst.Comma)
        ]
        separator = separators[-1] if separators else cst.SimpleWhitespace(" ")
        if trailing:
            new = new.with_changes(comma=trailing)
        elements[-1] = last.with_changes(comma=cst.Comma(whitespace_after=separator))
    return node.with_changes(elements=[*elements, new])


# ---------------------------------------------------------------- removal


def _without(items: Sequence[Any], index: int, attribute: str, closing: Any = None) -> list[Any]:
    """``items`` less ``items[index]``; the new last item takes over the removed one's
    separator (comma or semicolon), so a trailing-comma style and the closing layout stay.

    One entry per line (``closing``: the whitespace before the closing bracket when the
    removed item has no comma): the new last item keeps its own line, comment included, and
    takes only the removed line's layout before the bracket."""
    result = list(items)
    if len(result) > 1 and index == len(result) - 1:
        previous, removed = result[index - 1], result[index]
        own = getattr(previous, attribute)
        theirs = getattr(removed, attribute)
        tail = theirs.whitespace_after if isinstance(theirs, cst.Comma) else closing
        if (
            isinstance(own, cst.Comma)
            and isinstance(own.whitespace_after, cst.ParenthesizedWhitespace)
            and isinstance(tail, cst.ParenthesizedWhitespace)
        ):
            layout = own.whitespace_after.with_changes(
                empty_lines=[*own.whitespace_after.empty_lines, *tail.empty_lines],
                indent=tail.indent,
                last_line=tail.last_line,
            )
            result[index - 1] = previous.with_changes(
                **{attribute: own.with_changes(whitespace_after=layout)}
            )
        else:
            result[index - 1] = previous.with_changes(**{attribute: theirs})
    del result[index]
    return result


def _closing_of_arg(arg: Any) -> Any:
    """The whitespace between a call's last argument (without a comma) and ``)``."""
    return getattr(arg, "whitespace_after_arg", None)


def _index_of(items: Sequence[Any], target: Any) -> int | None:
    return next((i for i, item in enumerate(items) if item is target), None)


class _Remover(cst.CSTTransformer):
    """Removes one node (a dict entry, a keyword argument, a small statement, a target of a
    chained assignment) from its parent; a statement line left empty goes, its comments stay."""

    def __init__(self, target: cst.CSTNode, name: str | None = None) -> None:
        self.target = target
        self.name = name

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.BaseExpression:
        index = _index_of(original.elements, self.target)
        if index is None:
            return updated
        last = index == len(original.elements) - 1 and index > 0
        rbrace = updated.rbrace
        if last and isinstance(rbrace.whitespace_before, cst.ParenthesizedWhitespace):
            # `'a': 1,  # a\n    'b': 2,  # b\n}`: the closing brace's whitespace holds b's
            # comment; a's line (its comma and comment) stays, the brace keeps its own indent
            previous = updated.elements[index - 1]
            own = previous.comma
            if isinstance(own, cst.Comma) and isinstance(
                own.whitespace_after, cst.ParenthesizedWhitespace
            ):
                before = rbrace.whitespace_before
                rbrace = rbrace.with_changes(
                    whitespace_before=before.with_changes(
                        first_line=own.whitespace_after.first_line,
                        empty_lines=[*own.whitespace_after.empty_lines, *before.empty_lines],
                    )
                )
                elements = list(updated.elements[: index - 1]) + [
                    previous.with_changes(
                        comma=own.with_changes(whitespace_after=cst.SimpleWhitespace(""))
                    )
                ]
                return updated.with_changes(elements=elements, rbrace=rbrace)
        elements = _without(updated.elements, index, "comma")
        if not elements:
            return updated.with_changes(
                elements=[], lbrace=cst.LeftCurlyBrace(), rbrace=cst.RightCurlyBrace()
            )
        return updated.with_changes(elements=elements)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        index = _index_of(original.args, self.target)
        if index is None:
            return updated
        args = _without(updated.args, index, "comma", _closing_of_arg(updated.args[index]))
        if not args:
            return updated.with_changes(args=[], whitespace_before_args=cst.SimpleWhitespace(""))
        return updated.with_changes(args=args)

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if original is not self.target or len(original.targets) < 2:
            return updated
        keep = [
            t
            for t in updated.targets
            if not (isinstance(t.target, cst.Name) and t.target.value == self.name)
        ]
        return updated.with_changes(targets=keep or updated.targets)

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        index = _index_of(original.body, self.target)
        if index is None or len(original.body) < 2 or self._chained():
            return updated
        return updated.with_changes(body=_without(updated.body, index, "semicolon"))

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if self._chained():
            return updated
        index = next(
            (
                i
                for i, line in enumerate(original.body)
                if isinstance(line, cst.SimpleStatementLine)
                and len(line.body) == 1
                and line.body[0] is self.target
            ),
            None,
        )
        if index is None:
            return updated
        body = list(updated.body)
        comments = list(body[index].leading_lines)
        del body[index]
        if index < len(body):
            body[index] = body[index].with_changes(
                leading_lines=[*comments, *body[index].leading_lines]
            )
            return updated.with_changes(body=body)
        footer = [*comments, *updated.footer]
        if not body and not updated.header and not footer:
            return updated.with_changes(body=[], has_trailing_newline=False)  # now empty: b""
        return updated.with_changes(body=body, footer=footer)

    def _chained(self) -> bool:
        return isinstance(self.target, cst.Assign) and len(self.target.targets) > 1


def remove_entry(module: cst.Module, element: cst.CSTNode) -> cst.Module:
    """``module`` without one entry (found by identity) of a dict display."""
    return module.visit(_Remover(element))


def remove_definition(
    module: cst.Module, key: str, statement: cst.CSTNode | None, element: cst.CSTNode | None
) -> cst.Module:
    """``module`` without one definition: its statement, its target in a chained assignment,
    or its keyword / entry in ``app.conf.update(...)``."""
    target = element if element is not None else statement
    assert target is not None
    return module.visit(_Remover(target, key))
