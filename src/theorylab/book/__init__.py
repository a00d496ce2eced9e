"""The machinery that turns chapters into a checked site; a chapter never imports it.

- :mod:`~theorylab.book.execute`: run chapters with papermill (parallel, cached, reported).
- :mod:`~theorylab.book.site`: stage the executed chapters and build the HTML with Jupyter Book.
- :mod:`~theorylab.book.sphinxext`: the small Sphinx extension the site needs.
- :mod:`~theorylab.book.cli`: ``python -m theorylab ...``.
"""
