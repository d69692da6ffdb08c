"""Drop repeated <script> entries from every page.

sphinx-thebe (which Jupyter Book 1 always loads) registers its configuration
script once per build *and* once per environment read, so each page got two
copies of ``const THEBE_JS_URL = ...`` and the browser raised "Identifier
'THEBE_JS_URL' has already been declared" on every page. We do not use thebe
(``launch_buttons.thebe: false``); keeping the first copy of each script
leaves the pages as the theme meant them, without the console error.
"""


def _single(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # The copies differ in priority, and one has filename None where the other has "".
        key = (getattr(script, "filename", str(script)) or "", repr(getattr(script, "attributes", {})))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _single, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
