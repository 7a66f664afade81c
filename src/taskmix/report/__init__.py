"""The experiment report: ``report.md`` and a self-contained ``report.html``."""

from .render import ReportInput, write_report

__all__ = ["ReportInput", "write_report"]
