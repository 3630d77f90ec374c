"""Speech translation: the cascade of an `asr` recogniser and an `nmt` translator.

It composes the two tasks at the command level (DESIGN.md: `asr` and `nmt` never import each
other); this package is the only place that imports both.
"""
