"""`make demo`: the embedded-data demonstration (see demo.run)."""
