"""The HTML dataset report (``dataconv report``, ``--report``): one self-contained file.

dataset.py loads the samples table, stats.py computes, charts.py plots with matplotlib,
thumbs.py reads the shown images, reject_images.py finds images of rejects, html.py and
sections.py render, report.py writes (``build_report``, ``report_after_conversion``);
det_report.py is the report of a detection dataset (det_dataset.py reads, det_pages.py draws
the pages), chosen by report.py from the manifest's task. Import
from the modules: importing the package itself does not load matplotlib. See docs/report.md.
"""

DEFAULT_CAP = 50_000  # samples the report reads at most (``--max-samples``)
