"""Text corpora built from Debian packages installed on the machine (Ding dictionary, gettext)."""
