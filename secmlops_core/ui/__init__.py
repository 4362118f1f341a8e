"""The only part of secmlops_core that imports streamlit: shared widgets and cached resources."""
