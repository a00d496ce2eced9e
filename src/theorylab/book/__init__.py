"""The machinery that turns chapters into a checked site; a chapter never imports it.

- :mod:`~theorylab.book.execute`: run chapters (parallel, cached in one shared cache, reported).
- :mod:`~theorylab.book.kernel`: drive Jupyter kernels from one process (nbclient): limits, interrupts.
- :mod:`~theorylab.book.imports`: the ``theorylab`` modules a chapter imports (its cache key).
- :mod:`~theorylab.book.site`: stage the executed chapters and build the HTML with Jupyter Book.
- :mod:`~theorylab.book.sphinxext`: the small Sphinx extension the site needs.
- :mod:`~theorylab.book.cli`: ``python -m theorylab ...``.
- :mod:`~theorylab.book.calibrate`: a chapter's claims over many seeds.
"""
