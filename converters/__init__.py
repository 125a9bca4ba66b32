"""Source formats: one module per format, registered by name (``base.register``).

``MODULES`` names the module of each format, so that ``dataconv <format>`` imports that
module alone, and ``dataconv --version`` or ``dataconv validate`` none of them.
tests/cli/test_options_typed.py checks it against what the modules register.
"""

MODULES = {
    "aihub": "aihub",
    "aihub-admin": "aihub_admin",
    "aihub-forms": "aihub_forms",
    "aihub-nia": "aihub_nia",
    "aihub-outdoor": "aihub_outdoor",
    "aihub-tiw": "aihub_tiw",
    "coco-text": "coco_text",
    "gt-txt": "gt_txt",
    "icdar2015": "icdar2015",
    "icdar2015-rec": "icdar2015_rec",
    "label-studio": "label_studio",
    "labelme": "labelme",
    "lmdb": "lmdb_source",
    "minhon": "minhon",
    "mjsynth": "mjsynth",
    "ndl-layout": "ndl_layout",
    "paddle-det": "paddle_det",
    "paddle-rec": "paddle_rec",
    "textocr": "textocr",
}
