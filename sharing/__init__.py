"""Team work (issue 17): sharing conversations and comparisons, continuing them as one's own copy, presets.

``sharing.service`` is what pages call: each function opens its own session, applies the storage rules of
``storage.sharing`` and ``storage.presets`` (owner and viewer scoping), and returns plain values to draw.
"""
