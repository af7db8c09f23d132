"""Render templates with Jinja2 and StrictUndefined; errors name the template and line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from remediate.errors import TemplateError


class Renderer:
    """One Jinja environment over a templates directory (templates are compiled once)."""

    def __init__(self, directory: Path | str) -> None:
        import jinja2

        self.directory = Path(directory)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,  # as Ansible's template module
            autoescape=False,
            auto_reload=False,
        )
        self._env.filters["bool"] = _to_bool
        self._env.tests["version"] = _version_test
        self._conditions: dict[str, Any] = {}

    def check(self, name: str) -> None:
        """Load and compile ``name`` (syntax errors surface before any host is contacted)."""
        self._load(name)

    def render(self, name: str, variables: Mapping[str, Any]) -> bytes:
        import jinja2

        template = self._load(name)
        try:
            return template.render(dict(variables)).encode("utf-8")
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"undefined variable: {exc.message}",
                path=self._where(name),
                line=_template_line(exc, template.filename),
            ) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(
                f"template error: {exc}",
                path=self._where(name),
                line=_template_line(exc, template.filename),
            ) from None
        except (
            TypeError,
            ValueError,
            ArithmeticError,
            LookupError,
            AttributeError,
            RecursionError,
        ) as exc:
            raise TemplateError(
                f"template error: {exc}",
                path=self._where(name),
                line=_template_line(exc, template.filename),
            ) from None

    def condition(
        self,
        expression: str,
        variables: Mapping[str, Any],
        where: str = "",
        line: int | None = None,
    ) -> bool:
        """The truth of a Jinja expression (a playbook's ``when:``) over ``variables``."""
        import jinja2

        try:
            compiled = self._conditions.get(expression)
            if compiled is None:
                compiled = self._conditions[expression] = self._env.compile_expression(
                    expression, undefined_to_none=False
                )
            return bool(compiled(**dict(variables)))
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"when: {expression}: undefined variable: {exc.message}", path=where, line=line
            ) from None
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            raise TemplateError(f"when: {expression}: {exc}", path=where, line=line) from None

    def _load(self, name: str) -> Any:
        import jinja2

        try:
            return self._env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateError(
                f"no such template {name!r} in {self.directory}", path=self._where(name)
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"template syntax error: {exc.message}", path=self._where(name), line=exc.lineno
            ) from None
        except UnicodeDecodeError as exc:
            raw = exc.object if isinstance(exc.object, bytes) else b""
            raise TemplateError(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
                if raw
                else "not UTF-8 text",
                path=self._where(name),
                line=raw[: exc.start].count(b"\n") + 1 if raw else None,
            ) from None
        except OSError as exc:
            raise TemplateError(
                f"cannot read template: {exc.strerror or exc}", path=self._where(name)
            ) from None

    def _where(self, name: str) -> str:
        return str(self.directory / name)


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    """The line in the template where rendering failed, from Jinja's rewritten traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "yes", "true", "on")
    return bool(value)


def _version_test(value: Any, other: Any, operator: str = "==") -> bool:
    """Ansible's ``version`` test: ``celery_version is version("5.3", ">=")``."""
    import operator as op

    ops = {
        "<": op.lt,
        "lt": op.lt,
        "<=": op.le,
        "le": op.le,
        ">": op.gt,
        "gt": op.gt,
        ">=": op.ge,
        "ge": op.ge,
        "==": op.eq,
        "=": op.eq,
        "eq": op.eq,
        "!=": op.ne,
        "ne": op.ne,
    }
    if operator not in ops:
        raise ValueError(f"unknown version comparison {operator!r}")
    return bool(ops[operator](_version_key(value), _version_key(other)))


def _version_key(value: Any) -> tuple[int, ...]:
    import re

    parts = re.findall(r"\d+", str(value))
    if not parts:
        raise ValueError(f"{value!r} is not a version")
    return tuple(int(p) for p in parts)
