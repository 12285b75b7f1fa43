"""Pure text transforms for drawing text from outside (no Streamlit): safe markdown and math notation."""
