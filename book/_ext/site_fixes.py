"""Two fixes for the jupyter-book 1.x theme stack, so the built pages log no console errors.

* sphinx-thebe registers its inline configuration script twice, so the browser reports
  ``Identifier 'THEBE_JS_URL' has already been declared``: drop repeated script entries.
* pydata-sphinx-theme logs ``Got invalid theme mode`` when no default colour mode is set:
  default to the light mode (readers can still switch).
"""

from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    seen = set()
    kept = []
    for js in context.get("script_files", []):
        # the same file or inline body registered twice (an inline script once with filename
        # None and once with "", possibly with another priority)
        name = getattr(js, "filename", js) or ""
        key = (str(name), repr(sorted(getattr(js, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    context["script_files"] = kept


def _default_mode(app, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")  # pydata-sphinx-theme reads it from the context
    config.html_context = context


def setup(app):
    app.connect("config-inited", _default_mode, priority=900)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
