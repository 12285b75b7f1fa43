"""Settings → Your data: download every conversation as one JSON file; import such a file, or ChatGPT's
``conversations.json``. Renders nothing when imported.
"""

from __future__ import annotations

import streamlit as st

from markup.safe_markdown import plain
from services import library


def your_data_section(owner: int) -> None:
    st.subheader("Your data", anchor=False)
    st.caption("Every conversation (archived ones too) as one JSON file, which you can import here again: "
               "conversations you already have are skipped, so importing twice adds nothing.")

    def everything() -> bytes:  # runs only when the button is clicked, in a thread of its own
        return library.export_all(owner)

    st.download_button(
        "Export all conversations", everything, file_name=library.export_file_name(),
        mime="application/json", key="export_all", icon=":material/download:", on_click="ignore",
    )
    with st.form("import_form", clear_on_submit=True, border=False):
        upload = st.file_uploader(
            "Import conversations", type=["json"], key="import_file",
            help="A Chatdeck export, or conversations.json from a ChatGPT data export "
                 "(ChatGPT → Settings → Data controls → Export data). At most "
                 f"{library.MAX_IMPORT_BYTES // 2**20} MB.",
        )
        submitted = st.form_submit_button("Import", icon=":material/upload:")
    if submitted and upload is not None:
        _import(owner, upload.getvalue())
    elif submitted:
        st.warning("Choose a file to import first.")


def _import(owner: int, data: bytes) -> None:
    try:
        result = library.import_file(owner, data)  # one transaction: all of the file or nothing
    except library.ImportProblem as problem:
        st.error(f"Nothing was imported. {plain(str(problem))}", icon=":material/error:")  # quotes the file
        return
    parts = [f"{result.imported} conversation{'s' if result.imported != 1 else ''} imported "
             f"({result.messages} messages)"]
    if result.skipped:
        parts.append(f"{result.skipped} already here, skipped")
    if result.images_missing:
        parts.append(f"{result.images_missing} image(s) could not be imported and show as a placeholder")
    st.success("; ".join(parts) + ".", icon=":material/check:")
