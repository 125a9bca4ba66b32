"""The HTML dataset report (``dataconv report``, ``--report``): one self-contained file.

dataset.py loads the samples table, stats.py computes, charts.py plots with matplotlib,
thumbs.py reads the shown images, reject_images.py finds images of rejects, html.py and
sections.py render, build.py writes. See docs/report.md.
"""
from dataconv.reporting.build import REPORT, build_report, report_after_conversion

__all__ = ["REPORT", "build_report", "report_after_conversion"]
