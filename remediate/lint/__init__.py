"""`remediate lint`: collect local files (the only I/O), detect their kinds, run the rules, report.

from remediate.lint import lint_paths
run = lint_paths([Path("deploy/")], kind="auto", celery_version="5.4")
run.findings      # LintFinding(finding, fingerprint), sorted by path, line, column, rule
"""

from remediate.lint.run import LintFinding, LintRun, lint_paths, lint_sources

__all__ = ["LintFinding", "LintRun", "lint_paths", "lint_sources"]
