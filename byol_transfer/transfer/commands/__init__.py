"""One library call per transfer command: from its resolved settings (``config/``) to its results.

The CLI parses flags into the command's schema (``schema()``), resolves it, and calls ``run``; a notebook
or a script can build the same settings and call ``run`` itself.
"""
