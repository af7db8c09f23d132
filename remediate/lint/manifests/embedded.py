"""What a manifest holds for the rules: config documents embedded in it (each with the manifest
line of every one of its lines), findings made on the manifest itself, and path facts.

    piece = EmbeddedBuilder("redis", "master.configuration", anchor=12)
    piece.add("timeout 300", line=14, column=5)
    piece.build()   # Embedded: text "timeout 300\\n", lines (14,), columns (4,)

A finding the rules make on line ``n`` of the embedded text is reported at ``lines[n-1]`` of
the manifest, its column shifted by ``columns[n-1]`` (the indentation the embedding added).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from remediate.model.plans import Finding


@dataclass(frozen=True)
class Embedded:
    """One config document inside a manifest."""

    kind: str  # redis | rabbitmq | celery
    name: str  # where in the manifest: "master.configuration", "ConfigMap/app:celeryconfig.py"
    text: str  # the document as its program reads it (template lines blanked)
    lines: tuple[int, ...]  # manifest line (1-based) of each line of ``text``
    columns: tuple[int, ...]  # columns the manifest adds before each line's first character
    anchor: int  # manifest line of the key that holds the document
    flavor: str | None = None  # redis: server | sentinel | acl (None: detect)
    managed: str = ""  # a managed Redis whose node size is its memory limit ("ElastiCache")

    def manifest_line(self, line: int | None) -> int:
        """The manifest line of 1-based ``line`` of the embedded text (the anchor if none)."""
        if line is None or not 0 < line <= len(self.lines):
            return self.anchor
        return self.lines[line - 1]

    def manifest_column(self, line: int | None, column: int | None) -> int | None:
        if column is None or line is None or not 0 < line <= len(self.columns):
            return column
        return column + self.columns[line - 1]


@dataclass
class EmbeddedBuilder:
    """Collects the lines of one embedded document, each with its manifest line and column."""

    kind: str
    name: str
    anchor: int
    flavor: str | None = None
    managed: str = ""
    _texts: list[str] = field(default_factory=list)
    _lines: list[int] = field(default_factory=list)
    _columns: list[int] = field(default_factory=list)

    def add(self, text: str, line: int, column: int = 1) -> None:
        """One line of the document, found at 1-based ``line`` and ``column`` of the manifest."""
        self._texts.append(text)
        self._lines.append(line)
        self._columns.append(max(column - 1, 0))

    def __bool__(self) -> bool:
        return bool(self._texts)

    def build(self) -> Embedded:
        text = "".join(t + "\n" for t in self._texts)
        return Embedded(
            self.kind,
            self.name,
            text,
            tuple(self._lines),
            tuple(self._columns),
            self.anchor,
            self.flavor,
            self.managed,
        )


@dataclass(frozen=True)
class IdleLimit:
    """A middlebox on the path between workers and broker that closes idle flows: a fact for
    the idle-path rule (X004 when it exists). ``data_only``: TCP keepalives do not count
    (a proxy that terminates TCP, such as HAProxy); only application traffic keeps the flow."""

    seconds: float
    what: str  # "HAProxy timeout client (redis-ha chart)", "AWS NLB"
    data_only: bool
    path: str
    line: int


@dataclass(frozen=True)
class Extraction:
    """Everything one manifest gives the lint run."""

    embedded: tuple[Embedded, ...] = ()
    findings: tuple[Finding, ...] = ()  # made on the manifest itself (worker probes ...)
    idle_limits: tuple[IdleLimit, ...] = ()
