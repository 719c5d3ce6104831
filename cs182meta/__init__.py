"""cs182meta: the helper package of a Jupyter course kit on meta-learning.

Modules: ``device`` (devices, seeds, timing, memory), ``episodes`` (N-way K-shot task
sampling), ``data`` (glyphs, Omniglot, sinusoids), ``models`` (Conv-4, the sine MLP),
``evaluate`` (accuracy with 95% intervals, quiet progress bars), ``plotting``,
``settings`` (the ``CS182META_*`` environment variables).
"""

__version__ = "0.1.0"
