"""Values of a celeryconfig.py, without executing it: evaluate, render, compare, find secrets.

A value is a Python literal (``ast.literal_eval`` semantics, plus folded arithmetic on number
literals such as ``60 * 60 * 24``), a container of such values, or a :class:`Code` for any
expression that is not a literal (``os.environ['X']``, ``socket.TCP_KEEPIDLE``, ``Queue('a')``).
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Code:
    """A non-literal Python expression, kept as normalized source (``ast.unparse``)."""

    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", ast.unparse(parse_expression(self.source)))

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Code({self.source!r})"

    @classmethod
    def of(cls, node: ast.expr) -> Code:
        """The Code of an ``ast`` expression (already normalized: no second parse)."""
        code = object.__new__(cls)
        object.__setattr__(code, "source", ast.unparse(node))
        return code

    def module_roots(self) -> set[str]:
        """Root names of attribute chains (``socket`` in ``socket.TCP_KEEPIDLE``)."""
        roots: set[str] = set()
        for node in ast.walk(parse_expression(self.source)):
            if isinstance(node, ast.Attribute):
                base: ast.expr = node
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name):
                    roots.add(base.id)
        return roots


def parse_expression(source: str) -> ast.expr:
    """The ``ast`` of one expression's source, which may span lines and carry comments."""
    try:
        return ast.parse(f"(\n{source}\n)", mode="eval").body
    except SyntaxError:
        raise ValueError(f"not a Python expression: {source!r}") from None


def evaluate_source(source: str) -> Any:
    """The value of an expression's source (see :func:`evaluate`)."""
    return evaluate(parse_expression(source))


_MAX_INT_BITS = 256
_OPERATORS: dict[type[ast.operator], Any] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fold(node: ast.BinOp, left: Any, right: Any) -> Any:
    """Arithmetic on number literals (and ``+`` on strings), within sane bounds; else Code."""
    if isinstance(left, str) and isinstance(right, str) and isinstance(node.op, ast.Add):
        return left + right
    operator = _OPERATORS.get(type(node.op))
    if operator is None or not (_is_number(left) and _is_number(right)):
        return Code.of(node)
    if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 2**64):
        return Code.of(node)
    try:
        result = operator(left, right)
    except (ArithmeticError, ValueError):
        return Code.of(node)
    if isinstance(result, int) and result.bit_length() > _MAX_INT_BITS:
        return Code.of(node)
    if not isinstance(result, (int, float)):  # e.g. a negative number to a fractional power
        return Code.of(node)
    return result


def evaluate(node: ast.expr) -> Any:
    """Literal parts evaluated, anything else a :class:`Code`; containers keep Code items
    (``{socket.TCP_KEEPIDLE: 60}`` -> ``{Code('socket.TCP_KEEPIDLE'): 60}``)."""
    if isinstance(node, ast.Constant) and node.value is not Ellipsis:
        return node.value
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        if any(isinstance(item, ast.Starred) for item in node.elts):
            return Code.of(node)
        items = [evaluate(item) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(items)
        if isinstance(node, ast.List):
            return items
        try:
            return set(items)
        except TypeError:
            return Code.of(node)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            return Code.of(node)
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            try:
                result[evaluate(key)] = evaluate(value)  # type: ignore[arg-type]
            except TypeError:  # an unhashable key: Python itself would fail at import
                return Code.of(node)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = evaluate(node.operand)
        if _is_number(operand) or isinstance(operand, complex):
            return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = evaluate(node.left), evaluate(node.right)
        if (
            isinstance(node.op, (ast.Add, ast.Sub))
            and isinstance(right, complex)
            and _is_number(left)
        ):
            return left + right if isinstance(node.op, ast.Add) else left - right
        return _fold(node, left, right)
    return Code.of(node)


# ---------------------------------------------------------------- rendering


def quote_string(text: str, quote: str = "'") -> str:
    """A string literal for ``text``, in ``quote`` when that needs no escaping of quotes."""
    literal = repr(text)
    if quote == '"' and '"' not in text and literal.startswith("'"):
        return '"' + literal[1:-1] + '"'
    return literal


def render(value: Any, quote: str = "'", indent: str | None = None, depth: int = 0) -> str:
    """Python source for a value. With ``indent``, a non-empty top-level dict is rendered
    one entry per line (``{\\n<indent>'a': 1,\\n}``); everything else on one line."""
    if isinstance(value, Code):
        return value.source
    if value is None or isinstance(value, (bool, int, bytes, complex)):
        return repr(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        if math.isnan(value):
            return "float('nan')"
        return repr(value)
    if isinstance(value, str):
        return quote_string(value, quote)
    if isinstance(value, tuple):
        items = [render(item, quote) for item in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(render(item, quote) for item in value) + "]"
    if isinstance(value, (set, frozenset)):
        items = sorted(render(item, quote) for item in value)
        body = "{" + ", ".join(items) + "}" if items else "set()"
        return f"frozenset({body})" if isinstance(value, frozenset) else body
    if isinstance(value, dict):
        entries = [f"{render(k, quote)}: {render(v, quote)}" for k, v in value.items()]
        if indent is not None and entries and depth == 0:
            return "{\n" + "".join(f"{indent}{entry},\n" for entry in entries) + "}"
        return "{" + ", ".join(entries) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} value into a celeryconfig.py")


def flat_key(name: str, key: Any) -> str:
    """``broker_transport_options['socket_keepalive']``: one entry of a dict setting."""
    return f"{name}[{render(key)}]"


_FLAT_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[(.+)\]$", re.DOTALL)


def split_key(key: str) -> tuple[str, Any | None, bool]:
    """``"name['k']"`` -> ``("name", "k", True)``; ``"name"`` -> ``("name", None, False)``."""
    match = _FLAT_KEY.match(key)
    if not match:
        return key, None, False
    return match.group(1), evaluate_source(match.group(2)), True


def preferred_quote(code: str) -> str:
    """The quote character most string literals of ``code`` use (``'`` on a tie)."""
    counts = {"'": 0, '"': 0}
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING:
                body = token.string.lstrip("rRbBuUfF")
                if body[:1] in counts:
                    counts[body[0]] += 1
    except (tokenize.TokenError, SyntaxError):
        pass
    return '"' if counts['"'] > counts["'"] else "'"


# ---------------------------------------------------------------- comparing


def same_value(a: Any, b: Any) -> bool:
    """Equal as Python literals, strictly: ``True`` is not ``1``, ``1`` is not ``1.0``, a
    tuple is not a list; :class:`Code` values are equal when their normalized source is."""
    if isinstance(a, Code) or isinstance(b, Code):
        return isinstance(a, Code) and isinstance(b, Code) and a.source == b.source
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            any(same_value(ka, kb) and same_value(va, vb) for kb, vb in b.items())
            for ka, va in a.items()
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)):
        return len(a) == len(b) and all(any(same_value(x, y) for y in b) for x in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


# ---------------------------------------------------------------- secrets

_SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_key|_pass$)", re.IGNORECASE)


def url_passwords(text: str) -> list[str]:
    """Passwords in URLs (``amqp://user:pw@host``, ``redis://:pw@host``, ``a;b`` lists)."""
    found: list[str] = []
    for part in re.split(r"[;,\s]+", text):
        if "://" not in part:
            continue
        try:
            password = urlsplit(part).password
        except ValueError:
            continue
        if password and password not in found:
            found.append(password)
    return found


def secrets_in(name: str, value: Any) -> list[str]:
    """Secrets in a setting's value: URL passwords anywhere in it, and whole string values
    of password-like names (``broker_password``, ``'password'`` keys of dict settings)."""
    found: list[str] = []

    def walk(label: str, item: Any) -> None:
        if isinstance(item, str):
            candidates = url_passwords(item)
            if _SECRET_NAME.search(label) and item:
                candidates.append(item)
            found.extend(c for c in candidates if c not in found)
        elif isinstance(item, dict):
            for key, sub in item.items():
                walk(key if isinstance(key, str) else label, sub)
        elif isinstance(item, (list, tuple, set, frozenset)):
            for sub in item:
                walk(label, sub)

    walk(name, value)
    return found


# ---------------------------------------------------------------- imports a value needs


def modules_named(value: Any) -> set[str]:
    """Root names of the attribute chains in a value's Code parts (``socket``)."""
    if isinstance(value, Code):
        return value.module_roots()
    if isinstance(value, dict):
        return set().union(*(modules_named(k) | modules_named(v) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return set().union(*(modules_named(item) for item in value))
    return set()


def bound_names(tree: ast.Module) -> set[str]:
    """Every name a module binds anywhere (imports, assignments, defs, classes)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def import_insertion_line(
    tree: ast.Module, root: str, begin: int | None, lines: Sequence[str]
) -> int:
    """The 1-based line after which ``import root`` goes (0: before the first line): after the
    last top-level import before the first use; else after the managed block's BEGIN line
    (0-based ``begin``) when every use is in the block; else after a docstring and
    ``__future__`` imports, or a shebang / coding line (``lines``: the module's lines)."""
    uses = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == root]
    first_use = min(uses, default=len(lines) + 1)
    imports = [
        s
        for s in tree.body
        if isinstance(s, (ast.Import, ast.ImportFrom)) and (s.end_lineno or s.lineno) < first_use
    ]
    if imports:
        return imports[-1].end_lineno or imports[-1].lineno
    if begin is not None and first_use > begin + 1:
        return begin + 1
    after = 0
    for statement in tree.body:
        docstring = (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
            and after == 0
            and statement is tree.body[0]
        )
        future = isinstance(statement, ast.ImportFrom) and statement.module == "__future__"
        if not (docstring or future):
            break
        after = statement.end_lineno or statement.lineno
    if after == 0:
        for index, line in enumerate(lines[:2]):
            if line.startswith("#!") or re.match(r"^[ \t\f]*#.*?coding[:=]", line):
                after = index + 1
    return after
